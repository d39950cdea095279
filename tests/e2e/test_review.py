"""Access review in the browser (SPEC §8): the primary starts a review of every membership but their own,
confirms and revokes members in place (a revoked member loses the site at their next page load), a
secondary with Manage access = Update carries on with the primary's decisions in view and never decides
her own line, and the review finishes when the last line is decided. Two reviewers deciding the same
line: the one whose page was stale is told who decided it."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from playwright.sync_api import Locator, Page, expect

from tests.e2e.members_steps import member_row, open_site_page, sign_in_as_primary, site_with_primary
from tests.e2e.steps import another_browser, sign_in
from tests.helpers.times import shown_day

PRIMARY_NAME = "Primary Tester"
MIA_EMAIL = "mia@example.com"
USERS = ["anna@example.com", "bert@example.com", "cleo@example.com"]
STARTED = "The access review has started: confirm or revoke each member below."


def today_utc() -> str:
    return shown_day(datetime.now(timezone.utc))


def site_under_review(live_server, smtp, users=USERS) -> int:
    """Site 1001 with its primary, Mia (secondary, Manage access = Update) and the given users."""
    world, site_id = site_with_primary(live_server, smtp)
    world.member(site_id, MIA_EMAIL, role="secondary", levels={"manage_access": 2})
    for email in users:
        world.member(site_id, email, levels={"software": 1, "support": 1})
    return site_id


def sign_in_and_open_review(page: Page, base_url: str, email: str) -> None:
    """Sign in (a member of one site lands on its start page) and open Access review from the site nav."""
    sign_in(page, base_url, email)
    expect(page.get_by_role("heading", name="Acme Berlin", level=1)).to_be_visible()
    open_site_page(page, "Access review")


def cell(page: Page, row: Locator, column: str) -> Locator:
    """The cell of a review row under the column header of that name."""
    headers = [text.strip() for text in page.get_by_role("columnheader").all_inner_texts()]
    return row.get_by_role("cell").nth(headers.index(column))


def expect_progress(page: Page, decided: int, total: int, confirmed: int, revoked: int) -> None:
    """The progress line of the review in progress, and the progress bar it labels."""
    text = (f"{decided} of {total} members reviewed ({confirmed} confirmed, {revoked} revoked); "
            f"{total - decided} to review.")
    expect(page.get_by_text(text, exact=True)).to_be_visible()
    meter = page.get_by_role("progressbar", name=text)
    expect(meter).to_have_attribute("value", str(decided))
    expect(meter).to_have_attribute("max", str(total))


def expect_finished(page: Page, confirmed: int, revoked: int) -> None:
    """The progress section once the review is finished: the summary, and no progress bar."""
    day = today_utc()
    summary = re.compile(rf"^The last review, started on {day}, finished on {day}, \d{{1,2}}:\d\d\s[AP]M UTC: "
                         rf"{confirmed} confirmed, {revoked} revoked, 0 not decided\.$")
    expect(page.get_by_text(summary)).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_count(0)
    expect(page.get_by_role("button", name="Finish review")).to_have_count(0)


def status(page: Page, text: str) -> Locator:
    return page.get_by_role("status").filter(has_text=text)


def test_primary_and_secondary_review_every_member_until_the_review_finishes(live_server, smtp, page):
    site_id = site_under_review(live_server, smtp)
    base = live_server.url
    sign_in_as_primary(page, base)

    open_site_page(page, "Access review")
    expect(page.get_by_text("This site has not been reviewed yet.", exact=True)).to_be_visible()
    anna, bert, cleo, mia = (member_row(page, email) for email in [*USERS, MIA_EMAIL])
    expect(cell(page, anna, "Last confirmed")).to_have_text("Never")
    # No review running: nothing to decide, nothing to filter by.
    expect(page.get_by_role("button", name="Confirm Anna Tester")).to_have_count(0)
    expect(page.get_by_label("Show")).to_have_count(0)
    # The primary's own access is never reviewed: no row for them.
    expect(member_row(page, "primary@example.com")).to_have_count(0)

    page.get_by_role("button", name="Start access review").click()
    expect(status(page, "has started")).to_have_text(STARTED)
    expect(page.get_by_text(re.compile(rf"^Review started by {PRIMARY_NAME} on {today_utc()}, \d{{1,2}}:\d\d\s[AP]M UTC\.$"))
           ).to_be_visible()
    expect_progress(page, 0, 4, 0, 0)
    expect(page.get_by_role("button", name="Start access review")).to_have_count(0)
    expect(page.get_by_role("button", name="Finish review")).to_be_visible()
    for row in (anna, bert, cleo, mia):
        expect(cell(page, row, "In this review")).to_have_text("To review")

    # Confirm Anna: her row changes in place, the page is not reloaded.
    review_url = page.url
    page.evaluate("window.stillTheSamePage = true")
    anna.get_by_role("button", name="Confirm Anna Tester").click()
    expect(status(page, "Anna Tester")).to_have_text("Anna Tester is confirmed.")
    expect(cell(page, anna, "In this review")).to_have_text(f"Confirmed ({PRIMARY_NAME})")
    expect(cell(page, anna, "Last confirmed")).to_have_text(today_utc())
    expect(anna.get_by_role("button")).to_have_count(0)
    expect_progress(page, 1, 4, 1, 0)
    assert page.url == review_url
    assert page.evaluate("window.stillTheSamePage") is True

    # Bert is signed in elsewhere, on the site.
    with another_browser(page) as bert_page:
        sign_in(bert_page, base, "bert@example.com")
        expect(bert_page.get_by_text("Your role on this site: User", exact=True)).to_be_visible()
        bert_start = bert_page.url
        assert bert_start == f"{base}/sites/{site_id}/"

        # Revoke asks first; Cancel leaves Bert as he was.
        revoke_bert = bert.get_by_role("button", name="Revoke Bert Tester")
        page.once("dialog", lambda dialog: dialog.dismiss())
        with page.expect_event("dialog") as asked:
            revoke_bert.click()
        assert asked.value.message == "Revoke the access of Bert Tester to this site?"
        page.reload()
        expect(cell(page, bert, "In this review")).to_have_text("To review")
        expect(cell(page, bert, "Role")).to_have_text("User")
        expect(revoke_bert).to_be_visible()
        expect_progress(page, 1, 4, 1, 0)
        bert_page.reload()
        expect(bert_page.get_by_text("Your role on this site: User", exact=True)).to_be_visible()

        # Answered OK: Bert's access is gone at once, his row says so in place.
        page.evaluate("window.stillTheSamePage = true")
        page.once("dialog", lambda dialog: dialog.accept())
        revoke_bert.click()
        expect(status(page, "Bert Tester")).to_have_text("Bert Tester no longer has access to this site.")
        expect(status(page, "is confirmed")).to_have_count(0)  # the one status line, replaced
        expect(cell(page, bert, "In this review")).to_have_text(f"Revoked ({PRIMARY_NAME})")
        expect(cell(page, bert, "Role")).to_have_text("—")
        expect(bert.get_by_role("button")).to_have_count(0)
        expect_progress(page, 2, 4, 1, 1)
        assert page.evaluate("window.stillTheSamePage") is True

        response = bert_page.reload()
        assert response.status == 404
        expect(bert_page.get_by_role("heading", name="Not found", level=1)).to_be_visible()
        expect(bert_page.get_by_text("Acme Berlin")).to_have_count(0)

    # After a reload Bert is no longer listed as a member, but among those revoked in this review.
    page.reload()
    expect(bert).to_have_count(0)
    expect(page.get_by_role("heading", name="Revoked in this review")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="bert@example.com")).to_have_text(
        re.compile(rf"^Bert Tester \(bert@example\.com\) — revoked by {PRIMARY_NAME} on {today_utc()}, \d{{1,2}}:\d\d\s[AP]M$"))
    expect(cell(page, anna, "Last confirmed")).to_have_text(today_utc())

    # Mia, a secondary with Manage access = Update, sees the primary's decisions and carries on.
    with another_browser(page) as mia_page:
        sign_in_and_open_review(mia_page, base, MIA_EMAIL)
        m_anna, m_cleo, m_mia = (member_row(mia_page, email) for email in ["anna@example.com", "cleo@example.com",
                                                                           MIA_EMAIL])
        expect_progress(mia_page, 2, 4, 1, 1)
        expect(cell(mia_page, m_anna, "In this review")).to_have_text(f"Confirmed ({PRIMARY_NAME})")
        expect(member_row(mia_page, "bert@example.com")).to_have_count(0)
        expect(mia_page.get_by_role("listitem").filter(has_text="bert@example.com")).to_contain_text(
            f"revoked by {PRIMARY_NAME}")
        # Her own line waits for someone else: no buttons on it.
        expect(cell(mia_page, m_mia, "In this review")).to_have_text("To review")
        expect(m_mia.get_by_role("button")).to_have_count(0)
        expect(mia_page.get_by_role("button", name="Confirm Mia Tester")).to_have_count(0)
        # Only the primary starts or finishes a review.
        expect(mia_page.get_by_role("button", name="Finish review")).to_have_count(0)
        expect(mia_page.get_by_role("button", name="Start access review")).to_have_count(0)

        # Show: To review narrows the list to Cleo and herself.
        mia_page.get_by_label("Show").select_option(label="To review")
        expect(mia_page.get_by_text("2 members", exact=True)).to_be_visible()
        expect(member_row(mia_page, "anna@example.com")).to_have_count(0)
        expect(m_cleo).to_be_visible()
        expect(m_mia).to_be_visible()

        m_cleo.get_by_role("button", name="Confirm Cleo Tester").click()
        expect(status(mia_page, "Cleo Tester")).to_have_text("Cleo Tester is confirmed.")
        expect(cell(mia_page, m_cleo, "In this review")).to_have_text("Confirmed (Mia Tester)")
        expect(cell(mia_page, m_cleo, "Last confirmed")).to_have_text(today_utc())
        expect_progress(mia_page, 3, 4, 2, 1)

        # The primary decides the last line, Mia's: the review finishes.
        page.reload()
        expect_progress(page, 3, 4, 2, 1)
        expect(cell(page, cleo, "In this review")).to_have_text("Confirmed (Mia Tester)")
        page.evaluate("window.stillTheSamePage = true")
        mia.get_by_role("button", name="Confirm Mia Tester").click()
        expect(status(page, "Mia Tester")).to_have_text("Mia Tester is confirmed.")
        expect(cell(page, mia, "In this review")).to_have_text(f"Confirmed ({PRIMARY_NAME})")
        expect(cell(page, mia, "Last confirmed")).to_have_text(today_utc())
        expect_finished(page, confirmed=3, revoked=1)
        # The progress section, swapped out of band, already offers the next review.
        expect(page.get_by_role("button", name="Start access review")).to_be_visible()
        assert page.evaluate("window.stillTheSamePage") is True

        page.reload()
        expect_finished(page, confirmed=3, revoked=1)
        expect(page.get_by_role("button", name="Start access review")).to_be_visible()
        expect(page.get_by_label("Show")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile(r"^(Confirm|Revoke) "))).to_have_count(0)
        for row in (anna, cleo, mia):
            expect(cell(page, row, "Last confirmed")).to_have_text(today_utc())
            expect(cell(page, row, "In this review")).to_have_text("—")

        # Mia sees the same summary, and no button to start the next review.
        mia_page.reload()
        expect_finished(mia_page, confirmed=3, revoked=1)
        expect(mia_page.get_by_role("button", name="Start access review")).to_have_count(0)
        expect(mia_page.get_by_role("button", name=re.compile(r"^(Confirm|Revoke) "))).to_have_count(0)


def test_stale_page_is_told_who_already_decided_the_line(live_server, smtp, page):
    site_under_review(live_server, smtp, users=["anna@example.com", "bert@example.com"])
    base = live_server.url
    sign_in_as_primary(page, base)
    open_site_page(page, "Access review")
    page.get_by_role("button", name="Start access review").click()
    expect(status(page, "has started")).to_have_text(STARTED)
    expect_progress(page, 0, 3, 0, 0)

    with another_browser(page) as mia_page:
        # Mia loads the review before the primary decides anything.
        sign_in_and_open_review(mia_page, base, MIA_EMAIL)
        expect_progress(mia_page, 0, 3, 0, 0)
        m_anna, m_bert = member_row(mia_page, "anna@example.com"), member_row(mia_page, "bert@example.com")
        expect(m_anna.get_by_role("button", name="Confirm Anna Tester")).to_be_visible()

        # Meanwhile the primary confirms Anna and Mia.
        member_row(page, "anna@example.com").get_by_role("button", name="Confirm Anna Tester").click()
        expect(status(page, "Anna Tester")).to_have_text("Anna Tester is confirmed.")
        member_row(page, MIA_EMAIL).get_by_role("button", name="Confirm Mia Tester").click()
        expect(status(page, "Mia Tester")).to_have_text("Mia Tester is confirmed.")
        expect_progress(page, 2, 3, 2, 0)

        # Mia's page still offers Anna; she confirms too, and is told who was first.
        mia_page.evaluate("window.stillTheSamePage = true")
        m_anna.get_by_role("button", name="Confirm Anna Tester").click()
        already = f"{PRIMARY_NAME} already decided this one (Confirmed)."
        expect(m_anna.get_by_role("alert")).to_have_text(already)
        expect(status(mia_page, "already decided")).to_have_text(already)
        expect(cell(mia_page, m_anna, "In this review")).to_have_text(f"Confirmed ({PRIMARY_NAME})")
        expect(m_anna.get_by_role("button")).to_have_count(0)
        expect_progress(mia_page, 2, 3, 2, 0)
        assert mia_page.evaluate("window.stillTheSamePage") is True

        # Her confirmation of Bert, the last line, finishes the review.
        m_bert.get_by_role("button", name="Confirm Bert Tester").click()
        expect(status(mia_page, "Bert Tester")).to_have_text("Bert Tester is confirmed.")
        expect(cell(mia_page, m_bert, "In this review")).to_have_text("Confirmed (Mia Tester)")
        expect_finished(mia_page, confirmed=3, revoked=0)
        expect(mia_page.get_by_role("button", name="Start access review")).to_have_count(0)

    page.reload()
    expect_finished(page, confirmed=3, revoked=0)
    expect(page.get_by_role("button", name="Start access review")).to_be_visible()
