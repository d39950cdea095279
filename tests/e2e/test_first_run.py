"""First run: an empty instance asks for its first operator, who then lands on the Operator console."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.steps import fill_new_password, sign_in, sign_out
from tests.helpers.world import PASSWORD


def test_empty_instance_creates_first_operator_and_opens_console(live_server, page):
    page.goto(f"{live_server.url}/")

    expect(page).to_have_url(f"{live_server.url}/first-run")
    expect(page.get_by_role("heading", name="Welcome to Sitepass")).to_be_visible()
    expect(page.get_by_text("No operator exists yet.")).to_be_visible()
    page.get_by_label("First name").fill("Olga")
    page.get_by_label("Last name").fill("Operator")
    page.get_by_label("Email").fill("olga@example.com")
    fill_new_password(page, PASSWORD)
    page.get_by_role("button", name="Create operator").click()

    expect(page).to_have_url(f"{live_server.url}/operator/")
    expect(page.get_by_role("heading", name="Operator console", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Welcome. You are the operator of this Sitepass.")
    expect(page.get_by_text("No customers yet.")).to_be_visible()

    # The first-run page is gone for good, and the new operator can sign in again.
    assert page.goto(f"{live_server.url}/first-run").status == 404
    page.goto(f"{live_server.url}/operator/")
    sign_out(page)
    sign_in(page, live_server.url, "olga@example.com")
    expect(page).to_have_url(f"{live_server.url}/operator/")
    expect(page.get_by_role("heading", name="Operator console", level=1)).to_be_visible()


def test_first_run_refuses_mismatched_passwords(live_server, page):
    page.goto(f"{live_server.url}/first-run")
    page.get_by_label("First name").fill("Olga")
    page.get_by_label("Last name").fill("Operator")
    page.get_by_label("Email").fill("olga@example.com")
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD + " typo")
    page.get_by_role("button", name="Create operator").click()

    expect(page.get_by_text("The passwords do not match.")).to_be_visible()
    expect(page.get_by_label("Repeat password")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"/first-run$"))
