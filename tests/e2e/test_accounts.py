"""Accounts through the real mail: sign-up with email verification, and password reset."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.steps import another_browser, fill_new_password, sign_in
from tests.helpers.mail import body_text, link_in
from tests.helpers.world import PASSWORD, World

NEW_PASSWORD = "rita resets her password"


def test_sign_up_then_confirm_email_from_the_mail(live_server, smtp, page):
    World(live_server.app).operator()
    page.goto(f"{live_server.url}/sign-in")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create account")).to_be_visible()
    page.get_by_label("First name").fill("Sven")
    page.get_by_label("Last name").fill("Signup")
    page.get_by_label("Email").fill("sven@example.com")
    fill_new_password(page, PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # Nobody is signed in before the mailed link and the password confirm the account (issue 10).
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        "We sent a mail to sven@example.com. Open the link in it to confirm your account, "
        "then sign in with your password.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    [mail] = smtp.wait_for(1)
    assert mail["To"] == "sven@example.com"
    assert mail["Subject"] == "Confirm your email address for Sitepass"
    assert "Hello Sven Signup," in body_text(mail)
    link = link_in(mail, "/verify-email/")
    assert link.startswith(live_server.url)

    page.goto(link)
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.get_by_text("Wrong password, or the account is locked for a while.")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm my email address").click()

    expect(page.get_by_role("heading", name="My sites")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Thank you: sven@example.com is confirmed.")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_text("is not confirmed yet")).to_have_count(0)

    # The link works once.
    response = page.goto(link)
    assert response.status == 410
    expect(page.get_by_text("This link is invalid, expired or already used.")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm my email address")).to_have_count(0)


def test_password_reset_from_the_mail(live_server, smtp, page):
    world = World(live_server.app)
    world.operator()
    world.person("rita@example.com", first_name="Rita", last_name="Reset")
    page.goto(f"{live_server.url}/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot password")).to_be_visible()
    page.get_by_label("Email").fill("rita@example.com")
    page.get_by_role("button", name="Send reset link").click()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("If an account uses rita@example.com, a link to reset")

    [mail] = smtp.wait_for(1)
    assert mail["To"] == "rita@example.com"
    assert mail["Subject"] == "Reset your Sitepass password"
    link = link_in(mail, "/reset-password/")
    assert link.startswith(live_server.url)

    page.goto(link)
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    fill_new_password(page, NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()

    expect(page).to_have_url(re.compile(r"/sign-in\b"))
    expect(page.get_by_role("status")).to_have_text("Your password is changed. Sign in with the new one.")

    # The old password no longer works; the new one does.
    sign_in(page, live_server.url, "rita@example.com", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    sign_in(page, live_server.url, "rita@example.com", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="My sites")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # The link was spent: opened again, in any browser, it only says so.
    with another_browser(page) as later:
        response = later.goto(link)
        assert response.status == 410
        expect(later.get_by_text("This link is invalid, expired or already used.")).to_be_visible()
        expect(later.get_by_role("button", name="Set new password")).to_have_count(0)
