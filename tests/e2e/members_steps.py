"""What a primary contact does on the Manage access pages, shared by the end-to-end tests of issue 3."""
from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.e2e.steps import expect_site_start, fill_new_password, sign_in
from tests.helpers.world import World

SITE_NUMBER = "1001"
SITE_NAME = "Acme Berlin"
PRIMARY_EMAIL = "primary@example.com"


def site_with_primary(live_server, smtp) -> tuple[World, int]:
    """An operator and site 1001 "Acme Berlin" whose primary already has an account.

    Naming a registered primary sends them a Welcome mail: wait for it here, so that each test
    counts only the mails its own actions cause.
    """
    world = World(live_server.app)
    world.operator()
    site_id = world.site(PRIMARY_EMAIL, number=SITE_NUMBER, name=SITE_NAME)
    [welcome] = smtp.wait_for(1)
    assert welcome["To"] == PRIMARY_EMAIL
    return world, site_id


def sign_in_as_primary(page: Page, base_url: str) -> None:
    """Sign in as the primary; with a single site Sitepass opens its start page."""
    sign_in(page, base_url, PRIMARY_EMAIL)
    expect_site_start(page, base_url, SITE_NUMBER, SITE_NAME, "Primary contact")


def open_site_page(page: Page, link: str) -> None:
    """Follow a link of the site navigation and wait for the page's heading."""
    page.get_by_role("navigation", name="Site").get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=link, level=1)).to_be_visible()


def member_row(page: Page, email: str) -> Locator:
    """The User list row (member or invitation) showing this email."""
    return page.get_by_role("row").filter(has_text=email)


def level_cell(scope: Page | Locator, tool: str, level: str) -> Locator:
    """The radio of the level matrix named "Tool: Level" (templates/macros/matrix.html)."""
    return scope.get_by_role("radio", name=f"{tool}: {level}", exact=True)


def choose_level(scope: Page | Locator, tool: str, level: str) -> None:
    """Choose a tool's level in the level matrix."""
    level_cell(scope, tool, level).check()


def expect_level(scope: Page | Locator, tool: str, level: str) -> None:
    """Assert the level matrix shows this level chosen for the tool."""
    expect(level_cell(scope, tool, level)).to_be_checked()


def edit_member(page: Page, email: str, name: str) -> Locator:
    """Open a User list row for editing in place (its Edit link); return the row."""
    row = member_row(page, email)
    row.get_by_role("link", name=f"Edit {name}").click()
    expect(row.get_by_role("button", name="Save changes")).to_be_visible()
    return row


def fill_add_new_user(page: Page, email: str, justification: str, role: str, profile: str | None = None) -> None:
    """On Add new user: email, Check user, justification, role and (optionally) an access profile."""
    page.get_by_label("Login email").fill(email)
    page.get_by_role("button", name="Check user").click()
    page.get_by_label("Business justification").fill(justification)
    page.get_by_label(role, exact=True).check()
    if profile:
        page.get_by_label("Access profile").select_option(label=profile)


def accept_invitation(page: Page, link: str, first_name: str, last_name: str, password: str) -> None:
    """Open an invitation link as someone without an account and create the account."""
    page.goto(link)
    expect(page.get_by_role("heading", name="Accept invitation")).to_be_visible()
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill(last_name)
    fill_new_password(page, password)
    page.get_by_role("button", name="Accept invitation").click()
