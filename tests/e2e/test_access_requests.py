"""Access requests in the browser (issue 4): someone creates an account, confirms it from the real
mail and asks for a site by its number; the primary, alerted by the real mail, rejects with a reason
that reaches the requester, then approves a second request with the Reporting access profile. Also a
member asking for more on My access, and a requester withdrawing a pending request."""
from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.helpers.world import PASSWORD
from tests.e2e.members_steps import (PRIMARY_EMAIL, SITE_NAME, SITE_NUMBER, expect_level, open_site_page,
                                     sign_in_as_primary, site_with_primary)
from tests.e2e.steps import another_browser, expect_site_start, fill_new_password, sign_in
from tests.helpers.mail import body_text, link_in

REQUESTER_EMAIL = "rita@example.com"
NO_RELATIONSHIP = "The requester has no business relationship with this site"


def mail_to(smtp, count: int, address: str):
    """Wait for the count-th mail and return it, checking it went to this address."""
    mail = smtp.wait_for(count)[count - 1]
    assert mail["To"] == address, f"mail {mail['Subject']!r} went to {mail['To']}, not {address}"
    return mail


def ask_for_site(page: Page, number: str, justification: str) -> None:
    """On the self-nomination page: the site's number, the company, contact details, justification."""
    expect(page.get_by_role("heading", name="Request access to a site", level=1)).to_be_visible()
    page.get_by_label("Site number").fill(number)
    page.get_by_label("Company name").fill("Acme Corp")
    page.get_by_label("Job title").fill("Licence controller")
    page.get_by_label("Phone").fill("+49 30 1234567")
    page.get_by_label("Business justification").fill(justification)
    page.get_by_role("button", name="Submit").click()


def request_row(page: Page, text: str) -> Locator:
    return page.get_by_role("row").filter(has_text=text)


def pending_badge(page: Page, count: int) -> Locator:
    label = f"{count} pending request" + ("s" if count != 1 else "")
    return page.get_by_role("navigation", name="Site").get_by_label(label, exact=True)


def expect_my_level(page: Page, tool: str, level: str) -> None:
    """On My access: the row of this tool shows this level."""
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=tool, exact=True))
    expect(row.get_by_role("cell")).to_have_text(level)


def test_self_nomination_rejected_then_approved_with_reporting_access(live_server, smtp, page):
    _world, site_id = site_with_primary(live_server, smtp)  # mail 1: the primary's welcome

    # Rita creates an account and confirms her address from the mail.
    page.goto(f"{live_server.url}/sign-in")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create account")).to_be_visible()
    page.get_by_label("First name").fill("Rita")
    page.get_by_label("Last name").fill("Requester")
    page.get_by_label("Email").fill(REQUESTER_EMAIL)
    fill_new_password(page, PASSWORD)
    page.get_by_role("button", name="Create account").click()
    # Sign-up signs nobody in: the mailed link and the password confirm the account (issue 10).
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    verification = mail_to(smtp, 2, REQUESTER_EMAIL)
    assert verification["Subject"] == "Confirm your email address for Sitepass"
    page.goto(link_in(verification, "/verify-email/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.get_by_role("status")).to_have_text(f"Thank you: {REQUESTER_EMAIL} is confirmed.")
    expect(page.get_by_text("You are not a member of any site yet.")).to_be_visible()

    # She asks for the site by its number; her name is already filled in from her account.
    page.get_by_role("button", name="Request access to a site").click()
    expect(page.get_by_label("First name")).to_have_value("Rita")
    expect(page.get_by_label("Last name")).to_have_value("Requester")
    ask_for_site(page, SITE_NUMBER, "I run the licence reports for Acme Berlin.")
    expect(page.get_by_role("heading", name="My requests", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        f"Your request for site {SITE_NUMBER} is sent. Its approvers decide and we mail you the answer.")
    expect(request_row(page, SITE_NAME)).to_contain_text("Pending")

    # The primary is mailed a link to the review page.
    alert = mail_to(smtp, 3, PRIMARY_EMAIL)
    assert alert["Subject"] == f"Access request for site {SITE_NUMBER}"
    text = body_text(alert)
    assert (f"Rita Requester ({REQUESTER_EMAIL}, Acme Corp) asks for access to site {SITE_NUMBER}, {SITE_NAME}."
            in text)
    assert "I run the licence reports for Acme Berlin." in text
    review_link = link_in(alert, f"/sites/{site_id}/requests/")
    assert re.fullmatch(re.escape(f"{live_server.url}/sites/{site_id}/requests/") + r"\d+", review_link)

    with another_browser(page) as primary:
        sign_in_as_primary(primary, live_server.url)
        expect(pending_badge(primary, 1)).to_have_text("1")
        open_site_page(primary, "Requests")
        row = request_row(primary, REQUESTER_EMAIL)
        expect(row).to_contain_text("Access to the site")
        expect(row).to_contain_text("Pending")
        row.get_by_role("link", name="Rita Requester").click()

        expect(primary).to_have_url(review_link)
        expect(primary.get_by_role("heading", name="Request from Rita Requester", level=1)).to_be_visible()
        expect(primary.get_by_text("Licence controller", exact=True)).to_be_visible()
        primary.get_by_label(NO_RELATIONSHIP).check()
        primary.get_by_role("button", name="Reject").click()

        expect(primary.get_by_role("heading", name="Requests", level=1)).to_be_visible()
        expect(primary.get_by_role("status")).to_have_text("Rejected; we mailed Rita Requester the reason.")
        decided = request_row(primary, REQUESTER_EMAIL)
        expect(decided).to_contain_text("Rejected")
        expect(decided).to_contain_text("Primary Tester, ")
        expect(decided).to_contain_text(NO_RELATIONSHIP)
        expect(primary.get_by_role("navigation", name="Site").locator("mark")).to_have_count(0)

        # Rita gets the reason by mail and on My requests.
        rejected = mail_to(smtp, 4, REQUESTER_EMAIL)
        assert rejected["Subject"] == f"Your access request for site {SITE_NUMBER} is rejected"
        assert f"Reason: {NO_RELATIONSHIP}" in body_text(rejected)
        page.reload()
        expect(request_row(page, SITE_NAME)).to_contain_text("Rejected")
        expect(request_row(page, SITE_NAME)).to_contain_text(NO_RELATIONSHIP)
        expect(request_row(page, SITE_NAME).get_by_role("button", name="Withdraw")).to_have_count(0)

        # She asks again, with more to say.
        page.get_by_role("link", name="Request access to a site").click()
        ask_for_site(page, SITE_NUMBER, "Acme Berlin's finance team asked me to run its licence reports.")
        expect(page.get_by_role("status")).to_contain_text(f"Your request for site {SITE_NUMBER} is sent.")
        expect(page.get_by_role("row").filter(has_text="Pending")).to_have_count(1)

        second = mail_to(smtp, 5, PRIMARY_EMAIL)
        second_link = link_in(second, f"/sites/{site_id}/requests/")
        assert second_link != review_link

        primary.reload()
        expect(pending_badge(primary, 1)).to_be_visible()
        # Pending requests come first.
        expect(primary.get_by_role("row").nth(1)).to_contain_text("Pending")
        request_row(primary, "Pending").get_by_role("link", name="Rita Requester").click()
        expect(primary).to_have_url(second_link)
        primary.get_by_label("User", exact=True).check()
        primary.get_by_label("Access profile").select_option(label="Reporting access")
        expect_level(primary, "Reporting", "View")  # the profile fills the level choosers
        expect_level(primary, "Support cases", "Basic")
        primary.get_by_role("button", name="Approve").click()

        expect(primary.get_by_role("status")).to_have_text(
            "Approved: Rita Requester has what was asked for, and we mailed them.")
        expect(request_row(primary, "Approved")).to_contain_text(REQUESTER_EMAIL)
        expect(primary.get_by_role("navigation", name="Site").locator("mark")).to_have_count(0)

    approved = mail_to(smtp, 6, REQUESTER_EMAIL)
    assert approved["Subject"] == f"Your access request for site {SITE_NUMBER} is approved"
    assert f"Your request for site {SITE_NUMBER}, {SITE_NAME}, is approved." in body_text(approved)
    assert link_in(approved, f"/sites/{site_id}/") == f"{live_server.url}/sites/{site_id}/"

    # At her next request Rita is on the site, with the Reporting access levels.
    page.goto(f"{live_server.url}/")
    expect_site_start(page, live_server.url, SITE_NUMBER, SITE_NAME, "User")
    open_site_page(page, "My access")
    expect_my_level(page, "Reporting", "View")
    expect_my_level(page, "Support cases", "Basic")
    expect_my_level(page, "Software and services (purchase and download)", "None")
    expect(page.get_by_text("Granted by Primary Tester on ")).to_be_visible()
    # A user neither sees nor decides requests.
    expect(page.get_by_role("link", name="Requests")).to_have_count(0)
    assert page.goto(second_link).status == 403


def test_member_asks_for_a_higher_level_which_the_primary_approves(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)
    world.member(site_id, "ulla@example.com", levels={"software": 1, "support": 1})

    sign_in(page, live_server.url, "ulla@example.com")
    expect_site_start(page, live_server.url, SITE_NUMBER, SITE_NAME, "User")
    open_site_page(page, "My access")
    expect_my_level(page, "Reporting", "None")
    page.get_by_label("Level you need").select_option(label="Reporting: View")
    page.get_by_label("Business justification").fill("I now prepare the quarterly report.")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_have_text("Your request for Reporting is sent to the approvers of this site.")
    expect(page.get_by_role("heading", name="Waiting for a decision")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Reporting: View")).to_be_visible()

    alert = mail_to(smtp, 2, PRIMARY_EMAIL)
    assert alert["Subject"] == f"Access request for site {SITE_NUMBER}"
    assert f"Ulla Tester asks for View on Reporting at site {SITE_NUMBER}." in body_text(alert)

    with another_browser(page) as primary:
        sign_in_as_primary(primary, live_server.url)
        expect(pending_badge(primary, 1)).to_be_visible()
        open_site_page(primary, "Requests")
        row = request_row(primary, "ulla@example.com")
        expect(row).to_contain_text("Reporting: View")
        row.get_by_role("link", name="Ulla Tester").click()
        expect(primary).to_have_url(link_in(alert, f"/sites/{site_id}/requests/"))
        expect(primary.get_by_text("Approving sets Reporting to View.")).to_be_visible()
        primary.get_by_role("button", name="Approve").click()
        expect(primary.get_by_role("status")).to_have_text(
            "Approved: Ulla Tester has what was asked for, and we mailed them.")

    approved = mail_to(smtp, 3, "ulla@example.com")
    assert approved["Subject"] == f"Your access request for site {SITE_NUMBER} is approved"
    assert "You now hold View on Reporting." in body_text(approved)
    page.reload()
    expect_my_level(page, "Reporting", "View")
    expect_my_level(page, "Support cases", "Basic")
    expect(page.get_by_role("heading", name="Waiting for a decision")).to_have_count(0)


def test_requester_withdraws_a_pending_request(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)
    world.person("walt@example.com", first_name="Walt", last_name="Withdraw")

    sign_in(page, live_server.url, "walt@example.com")
    expect(page.get_by_role("heading", name="My sites")).to_be_visible()
    page.get_by_role("button", name="Request access to a site").click()
    # An unknown number is refused in place, without a word about which numbers exist.
    ask_for_site(page, "9999", "I maintain the licences.")
    expect(page.get_by_role("heading", name="Request access to a site", level=1)).to_be_visible()
    expect(page.get_by_text("We cannot take a request for this site number. Check it with your company's "
                            "primary contact.")).to_be_visible()
    expect(page.get_by_label("Company name")).to_have_value("Acme Corp")
    ask_for_site(page, SITE_NUMBER, "I maintain the licences.")
    expect(request_row(page, SITE_NAME)).to_contain_text("Pending")
    alert = mail_to(smtp, 2, PRIMARY_EMAIL)

    request_row(page, SITE_NAME).get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("status")).to_have_text("Your request is withdrawn.")
    expect(request_row(page, SITE_NAME)).to_contain_text("Withdrawn")
    expect(request_row(page, SITE_NAME).get_by_role("button", name="Withdraw")).to_have_count(0)

    # The primary's link now only says what happened; nothing waits in Requests.
    with another_browser(page) as primary:
        sign_in_as_primary(primary, live_server.url)
        expect(primary.get_by_role("navigation", name="Site").locator("mark")).to_have_count(0)
        primary.goto(link_in(alert, f"/sites/{site_id}/requests/"))
        expect(primary.get_by_role("alert")).to_have_text("The requester withdrew this request.")
        expect(primary.get_by_role("button", name="Approve")).to_have_count(0)
        expect(primary.get_by_role("button", name="Reject")).to_have_count(0)
    assert len(smtp.messages) == 2  # withdrawing mails nobody
