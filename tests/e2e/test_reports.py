"""Reports in the browser (SPEC §8): the primary gives a person access and later changes it through the
UI, then asks the Reports page for access as it stood at a past moment. The table is rebuilt from the
audit log, with who granted each entry and why, and with the field emptied shows access now.

The moments are real: nothing is backdated (the audit log is append-only). The field is a
datetime-local to the second, so the test waits for the second to turn between the two changes and
names moments on second boundaries around the times the audit log recorded."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from playwright.sync_api import Locator, Page, expect

from tests.e2e.members_steps import (PRIMARY_EMAIL, expect_level, fill_add_new_user, choose_level, member_row,
                                     open_site_page, sign_in_as_primary, site_with_primary)
from tests.helpers.times import shown_second, spaced

MEMBER_EMAIL = "rita@example.com"
MEMBER_NAME = "Rita Reader"
JUSTIFICATION = "Compiles the quarterly licence usage report for finance."
MOMENT_LABEL = "Access as it stood at (UTC; empty for now)"
INPUT_FORMAT = "%Y-%m-%dT%H:%M:%S"  # what the datetime-local takes, to the second
TOOLS = ["Software and services (purchase and download)", "Reporting", "Entitlements: inventory and deployments",
         "Entitlement allocation", "Manage access", "Contact updates", "Account-related documents",
         "Support cases"]
COLUMNS = ["Member", "Role", *TOOLS, "Contact types", "Granted by", "Business justification"]
# Rita's levels, tool by tool in the order of TOOLS: as added (the Reporting access profile) …
ADDED_LEVELS = ["None", "View", "View", "View", "None", "None", "View", "Basic"]
# … and after the primary's inline edit: Downloads only, Reporting taken away, Support cases Full.
CHANGED_LEVELS = ["Downloads only", "None", "View", "View", "None", "None", "View", "Full"]
PRIMARY_LEVELS = ["Downloads, media, quotes, product catalogs and license renewals", "View", "Update", "Update",
                  "Update", "Update", "View", "Administrator"]


# --- the audit log's clock ------------------------------------------------------------------------

def access_event_times(live_server, email: str) -> dict[str, datetime]:
    """When the audit log recorded each access event of a person (action → occurred_at, UTC)."""
    from models import AuditEvent, db

    with live_server.app.app_context():
        rows = db.session.execute(sa.select(AuditEvent.action, AuditEvent.occurred_at)
                                  .where(AuditEvent.target_label == email, AuditEvent.action.startswith("membership."))
                                  .order_by(AuditEvent.id)).all()
        db.session.remove()
    return {action: occurred_at for action, occurred_at in rows}


def second_floor(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def field_value(moment: datetime) -> str:
    """The value Chromium shows for a moment: it leaves out seconds that are zero."""
    return moment.strftime("%Y-%m-%dT%H:%M" if moment.second == 0 else INPUT_FORMAT)


def wait_until_after(page: Page, moment: datetime) -> None:
    """Wait until the clock the app stamps audit events with (naive UTC, the browser's machine) has
    passed the moment, with a margin."""
    deadline_ms = int(moment.replace(tzinfo=timezone.utc).timestamp() * 1000) + 200
    page.wait_for_function(f"() => Date.now() > {deadline_ms}", timeout=5000)


# --- the Reports page -----------------------------------------------------------------------------

def show_access_at(page: Page, moment: datetime | None) -> None:
    """Type a moment (or nothing, for now) into the Reports field and press Show."""
    field = page.get_by_label(MOMENT_LABEL)
    field.fill(moment.strftime(INPUT_FORMAT) if moment else "")
    page.get_by_role("button", name="Show").click()
    if moment:
        expect(page.get_by_role("heading", name=re.compile(f"^{spaced(f'Access on {shown_second(moment)} UTC')}$"),
                                level=2)).to_be_visible()
        expect(field).to_have_value(field_value(moment))
    else:
        expect(page.get_by_role("heading", name="Current access", level=2)).to_be_visible()
        expect(field).to_have_value("")


def report_row(page: Page, email: str) -> Locator:
    """The report's row of one member (the row header shows their email)."""
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader").filter(has_text=email))


def expect_report_row(page: Page, email: str, role: str, levels: list[str], contact_types: str, granted_by: str,
                      justification: str) -> None:
    """Assert a member's row, cell by cell in the order of the columns (after the Member column)."""
    expect(report_row(page, email).get_by_role("cell")).to_have_text(
        [role, *levels, contact_types, granted_by, justification])


# --- the test -------------------------------------------------------------------------------------

def test_reports_show_access_as_it_stood_at_a_past_moment_with_grantor_and_justification(live_server, smtp, page):
    world, _site_id = site_with_primary(live_server, smtp)
    world.person(MEMBER_EMAIL, first_name="Rita", last_name="Reader")
    sign_in_as_primary(page, live_server.url)

    # Change 1: the primary gives Rita, who has an account, the Reporting access profile.
    open_site_page(page, "Add new user")
    fill_add_new_user(page, MEMBER_EMAIL, JUSTIFICATION, "User", "Reporting access")
    expect(page.get_by_text(f"An account exists: {MEMBER_NAME} ({MEMBER_EMAIL}).")).to_be_visible()
    expect_level(page, "Reporting", "View")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="User list", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="now has access")).to_have_text(
        f"{MEMBER_NAME} now has access as user; we sent them a Welcome mail.")
    added_at = access_event_times(live_server, MEMBER_EMAIL)["membership.added"]
    # Moments on second boundaries (all the field takes): just before Rita was added, and just after.
    before_added = second_floor(added_at)
    if before_added == added_at:  # added on the very microsecond a second began
        before_added -= timedelta(seconds=1)
    after_added = second_floor(added_at) + timedelta(seconds=1)

    # Reports now, while the second turns: Rita as she was added, the primary as the grantor.
    open_site_page(page, "Reports")
    expect(page.get_by_role("heading", name="Current access", level=2)).to_be_visible()
    expect(page.get_by_label(MOMENT_LABEL)).to_have_value("")
    expect(page.get_by_role("columnheader")).to_have_text(COLUMNS)
    expect_report_row(page, MEMBER_EMAIL, "User", ADDED_LEVELS, "", PRIMARY_EMAIL, JUSTIFICATION)
    expect(report_row(page, MEMBER_EMAIL).get_by_role("rowheader")).to_contain_text(MEMBER_NAME)

    # Change 2, in a later second: the primary edits Rita's levels inline in the User list.
    wait_until_after(page, after_added)
    open_site_page(page, "User list")
    row = member_row(page, MEMBER_EMAIL)
    row.get_by_role("link", name=f"Edit {MEMBER_NAME}").click()
    expect_level(row, "Reporting", "View")
    choose_level(row, "Software and services (purchase and download)", "Downloads only")
    choose_level(row, "Reporting", "None")
    choose_level(row, "Support cases", "Full")
    row.get_by_role("button", name="Save changes").click()
    expect(row.get_by_role("button", name="Save changes")).to_have_count(0)
    expect(row.get_by_role("link", name=f"Edit {MEMBER_NAME}")).to_be_visible()
    events = access_event_times(live_server, MEMBER_EMAIL)
    assert set(events) == {"membership.added", "membership.changed"}
    # The timeline the moments rely on: before_added < added < after_added < changed.
    assert before_added < events["membership.added"] <= after_added < events["membership.changed"]

    # Access as it stood after Rita was added and before the change: her first levels, who granted
    # them and why; the primary too.
    open_site_page(page, "Reports")
    show_access_at(page, after_added)
    expect(page.get_by_role("columnheader")).to_have_text(COLUMNS)
    expect_report_row(page, MEMBER_EMAIL, "User", ADDED_LEVELS, "", PRIMARY_EMAIL, JUSTIFICATION)
    expect(report_row(page, MEMBER_EMAIL).get_by_role("rowheader")).to_contain_text(MEMBER_NAME)
    expect(report_row(page, PRIMARY_EMAIL).get_by_role("cell")).to_contain_text(["Primary contact", *PRIMARY_LEVELS])
    expect(page.get_by_role("row")).to_have_count(3)  # the header, the primary and Rita

    # Its CSV export is the same past table.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename == f"access-1001-{after_added:%Y%m%d-%H%M%S}.csv"
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = {row["Email"]: row for row in csv.DictReader(io.StringIO(exported.read()))}
    assert set(rows) == {PRIMARY_EMAIL, MEMBER_EMAIL}
    assert [rows[MEMBER_EMAIL][tool] for tool in TOOLS] == ADDED_LEVELS
    assert rows[MEMBER_EMAIL]["Role"] == "User"
    assert rows[MEMBER_EMAIL]["Granted by"] == PRIMARY_EMAIL
    assert rows[MEMBER_EMAIL]["Business justification"] == JUSTIFICATION

    # Just before Rita was added she is not in the table. The primary is, if named by then (the site
    # was made moments before Rita was added, sometimes in the same second).
    show_access_at(page, before_added)
    expect(report_row(page, MEMBER_EMAIL)).to_have_count(0)
    primary_named = access_event_times(live_server, PRIMARY_EMAIL)["membership.primary_granted"] <= before_added
    expect(report_row(page, PRIMARY_EMAIL)).to_have_count(1 if primary_named else 0)
    expect(page.get_by_role("cell", name="Nobody had access then.")).to_have_count(0 if primary_named else 1)
    expect(page.get_by_role("row")).to_have_count(2)  # the header and either the primary or "Nobody …"

    # A day before, when the site did not exist yet, nobody had access.
    show_access_at(page, before_added - timedelta(days=1))
    expect(page.get_by_role("cell", name="Nobody had access then.")).to_be_visible()
    expect(report_row(page, PRIMARY_EMAIL)).to_have_count(0)

    # Emptied, the field asks for access now: Rita's changed levels, still granted by the primary.
    show_access_at(page, None)
    expect_report_row(page, MEMBER_EMAIL, "User", CHANGED_LEVELS, "", PRIMARY_EMAIL, JUSTIFICATION)
    expect(report_row(page, PRIMARY_EMAIL).get_by_role("cell").first).to_have_text("Primary contact")
    expect(page.get_by_role("row")).to_have_count(3)
