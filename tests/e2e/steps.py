"""What a person does in the browser, shared by the end-to-end tests: sign in and out, open a
second browser, and set up an invited site through the domain layer when the UI is not the point."""
from __future__ import annotations

import re
from contextlib import contextmanager

from playwright.sync_api import Page, expect

from tests.helpers.mail import link_in
from tests.helpers.world import PASSWORD


def sign_in_on_this_page(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in on the Sign in page a link led to (keeping where it goes next)."""
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Open Sign in and submit email and password (the caller asserts where it lands)."""
    page.goto(f"{base_url}/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    """Press Sign out in the header and wait for the Sign in page that confirms it."""
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def fill_new_password(page: Page, password: str) -> None:
    # By role: the label reads "Password *" with the asterisk hidden from the accessible name.
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_label("Repeat password").fill(password)


@contextmanager
def another_browser(page: Page):
    """A page in a fresh browser context: no cookies, as on another person's computer."""
    context = page.context.browser.new_context()
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def expect_site_start(page: Page, base_url: str, number: str, name: str, role: str) -> None:
    """Assert the page is a site's start page showing the person's role there."""
    expect(page).to_have_url(re.compile(re.escape(base_url) + r"/sites/\d+/$"))
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_text(f"Site {number} · ")).to_be_visible()
    expect(page.get_by_text(f"Your role on this site: {role}", exact=True)).to_be_visible()


def site_with_invited_primary(live_server, smtp, number: str, name: str, email: str,
                              customer: str = "Acme Corp") -> str:
    """Create a customer and a site whose primary email has no account; return the link mailed to it."""
    from models import db
    from models import site as sites

    already = len(smtp.messages)
    with live_server.app.app_context():
        found = sites.create_customer(customer)
        sites.create_site(found, number, name, sites.ORIGINATING, email)
        db.session.commit()
    invitation = smtp.wait_for(already + 1)[already]
    assert email in invitation["To"]
    return link_in(invitation, "/invitations/")
