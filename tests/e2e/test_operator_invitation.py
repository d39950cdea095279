"""The operator creates a customer and a site; its primary contact arrives by the real mail."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.helpers.world import PASSWORD, World
from tests.e2e.steps import another_browser, expect_site_start, fill_new_password, sign_in, sign_out
from tests.helpers.mail import body_text, link_in

NEW_PASSWORD = "nora keeps berlin running"


def create_customer_and_site(page, base_url, number, name, primary_email):
    """As a signed-in operator on the console: create "Acme Corp" and one originating site."""
    expect(page.get_by_role("heading", name="Operator console", level=1)).to_be_visible()
    page.get_by_label("Customer name").fill("Acme Corp")
    page.get_by_role("button", name="Create customer").click()
    expect(page.get_by_role("heading", name="Acme Corp", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Customer Acme Corp created.")
    expect(page.get_by_text("No sites yet.")).to_be_visible()

    page.get_by_label("Site number").fill(number)
    page.get_by_label("Site name").fill(name)
    page.get_by_label("Originating site").check()
    page.get_by_label("Primary contact email").fill(primary_email)
    page.get_by_role("button", name="Create site").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"Site {number} created.")
    expect(page).to_have_url(re.compile(re.escape(base_url) + r"/operator/sites/\d+$"))


def test_operator_creates_site_and_invited_primary_accepts(live_server, smtp, page):
    World(live_server.app).operator("olga@example.com")
    sign_in(page, live_server.url, "olga@example.com")
    create_customer_and_site(page, live_server.url, "1001", "Acme Berlin", "nora@example.com")
    expect(page.get_by_text("No primary contact yet")).to_be_visible()
    invitation_row = page.get_by_role("row").filter(has_text="nora@example.com")
    expect(invitation_row).to_contain_text("Primary contact")
    expect(invitation_row).to_contain_text("Invited")

    [mail] = smtp.wait_for(1)
    assert mail["To"] == "nora@example.com"
    assert "1001" in mail["Subject"]
    assert "Acme Berlin" in body_text(mail) and "primary contact" in body_text(mail)
    link = link_in(mail, "/invitations/")
    assert link.startswith(f"{live_server.url}/invitations/")

    with another_browser(page) as nora:
        nora.goto(link)
        expect(nora.get_by_role("heading", name="Accept invitation")).to_be_visible()
        expect(nora.get_by_text("You are invited to site 1001, Acme Berlin, as primary contact.")).to_be_visible()
        expect(nora.get_by_text("Invitation for nora@example.com")).to_be_visible()
        nora.get_by_label("First name").fill("Nora")
        nora.get_by_label("Last name").fill("Novak")
        fill_new_password(nora, NEW_PASSWORD)
        nora.get_by_role("button", name="Accept invitation").click()

        expect_site_start(nora, live_server.url, "1001", "Acme Berlin", "Primary contact")
        expect(nora.get_by_role("status")).to_have_text("Welcome to Acme Berlin. You are now primary contact.")

        sign_out(nora)
        sign_in(nora, live_server.url, "nora@example.com", NEW_PASSWORD)
        # One site and not an operator: Sitepass opens that site's start page directly.
        expect_site_start(nora, live_server.url, "1001", "Acme Berlin", "Primary contact")

    # The operator now sees the accepted primary contact.
    page.reload()
    expect(page.get_by_text("Nora Novak <nora@example.com>")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="nora@example.com")).to_contain_text("Accepted")


def test_operator_names_registered_person_primary_who_is_welcomed(live_server, smtp, page):
    world = World(live_server.app)
    world.operator("olga@example.com")
    world.person("pia@example.com", first_name="Pia", last_name="Petrova")
    sign_in(page, live_server.url, "olga@example.com")
    create_customer_and_site(page, live_server.url, "1002", "Acme Munich", "pia@example.com")
    expect(page.get_by_text("Pia Petrova <pia@example.com>")).to_be_visible()
    expect(page.get_by_text("No invitations.")).to_be_visible()

    [mail] = smtp.wait_for(1)
    assert mail["To"] == "pia@example.com"
    assert mail["Subject"] == "Welcome to site 1002 on Sitepass"
    assert "You now have access to site 1002, Acme Munich, as primary contact." in body_text(mail)
    link = link_in(mail, "/sites/")

    with another_browser(page) as pia:
        pia.goto(link)  # not signed in yet: Sign in first, then on to the site
        expect(pia.get_by_role("status")).to_have_text("Please sign in to continue.")
        pia.get_by_label("Email").fill("pia@example.com")
        pia.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
        pia.get_by_role("button", name="Sign in").click()
        expect_site_start(pia, live_server.url, "1002", "Acme Munich", "Primary contact")
        assert pia.url == link
