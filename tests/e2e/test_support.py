"""Support access in the browser (SPEC §7): a member asks on My access for a higher support level; the
request is mailed to the site technical contact and the primary (not to a secondary who decides the other
requests); the technical contact follows the real mail, approves, and the member holds the level. Also the
technical contact setting a member's support level on the Support access page, never above her own."""
from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import Locator, Page, expect

from tests.e2e.members_steps import (PRIMARY_EMAIL, SITE_NAME, SITE_NUMBER, open_site_page, sign_in_as_primary,
                                     site_with_primary)
from tests.e2e.steps import another_browser, expect_site_start, sign_in, sign_in_on_this_page
from tests.helpers.mail import body_text, link_in

TINA_EMAIL = "tina@example.com"    # user, Support cases = Full, the site technical contact
SAM_EMAIL = "sam@example.com"      # user, Support cases = Basic
SONJA_EMAIL = "sonja@example.com"  # secondary, Manage access = Update, Support cases = Basic: no support manager
ADA_EMAIL = "ada@example.com"      # user, Support cases = Administrator
TECHNICAL_CONTACT = {"first_name": "Tina", "last_name": "Tester", "phone": "+49 30 12345678", "email": TINA_EMAIL,
                     "address": "Friedrichstraße 1", "address_line2": "", "city": "Berlin", "subdivision": "DE-BE",
                     "postal_code": "10115", "country": "DE"}
JUSTIFICATION = "I now handle the site's support cases for the whole Berlin team."


def name_technical_contact(live_server, site_id: int) -> None:
    """Name Tina the site technical contact by her login email, as the primary would on Contact updates."""
    from models import Site, db
    from models.contact import save_contact
    from models.person import find_person

    with live_server.app.app_context():
        save_contact(db.session.get(Site, site_id), find_person(PRIMARY_EMAIL), TECHNICAL_CONTACT, ["technical"])
        db.session.commit()


def expect_my_level(page: Page, tool: str, level: str) -> None:
    """On My access: the row of this tool shows this level."""
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=tool, exact=True))
    expect(row.get_by_role("cell")).to_have_text(level)


def support_row(page: Page, email: str) -> Locator:
    """The row of the Support levels table showing this member's email."""
    return page.get_by_role("row").filter(has_text=email)


def support_level_of(scope: Page, name: str) -> Locator:
    """The level chooser of a member's row on Support access (exact: the row's Save button is labelled
    "Save changes to the support level of …")."""
    return scope.get_by_label(f"Support level for {name}", exact=True)


def queued_recipients(live_server, template: str) -> list[str]:
    """Who the outbox addressed a mail of this template to, whatever the SMTP delivery's timing."""
    from models import OutboxMail, db

    with live_server.app.app_context():
        recipients = db.session.scalars(sa.select(OutboxMail.recipient).where(OutboxMail.template == template))
        found = sorted(recipients)
        db.session.remove()
    return found


def test_support_request_goes_to_the_technical_contact_who_approves_it(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)  # mail 1: the primary's welcome
    world.member(site_id, TINA_EMAIL, levels={"support": 2})
    world.member(site_id, SAM_EMAIL, levels={"software": 1, "support": 1})
    world.member(site_id, SONJA_EMAIL, role="secondary", levels={"manage_access": 2, "support": 1})
    name_technical_contact(live_server, site_id)

    # Sam asks for Full on Support cases from My access.
    sign_in(page, live_server.url, SAM_EMAIL)
    expect_site_start(page, live_server.url, SITE_NUMBER, SITE_NAME, "User")
    expect(page.get_by_role("navigation", name="Site").get_by_role("link", name="Support access")).to_have_count(0)
    open_site_page(page, "My access")
    expect_my_level(page, "Support cases", "Basic")
    page.get_by_label("Level you need").select_option(label="Support cases: Full")
    page.get_by_label("Business justification").fill(JUSTIFICATION)
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your request for Support cases is sent to the site technical contacts, support Administrators and the "
        "primary contact.")
    expect(page.get_by_role("heading", name="Waiting for a decision")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Support cases: Full")).to_be_visible()
    expect_my_level(page, "Support cases", "Basic")  # nothing changes before a decision

    # The technical contact and the primary are mailed; the secondary who decides other requests is not.
    alerts = smtp.wait_for(3)[1:]
    assert sorted(m["To"] for m in alerts) == sorted([PRIMARY_EMAIL, TINA_EMAIL])
    assert queued_recipients(live_server, "access_request_received") == sorted([PRIMARY_EMAIL, TINA_EMAIL])
    [alert] = smtp.sink.to(TINA_EMAIL)
    assert alert["Subject"] == f"Access request for site {SITE_NUMBER}"
    text = body_text(alert)
    assert text.startswith("Hello Tina Tester,")
    assert f"Sam Tester asks for Full on Support cases at site {SITE_NUMBER}." in text
    assert JUSTIFICATION in text
    review_link = link_in(alert, f"/sites/{site_id}/requests/")
    assert re.fullmatch(re.escape(f"{live_server.url}/sites/{site_id}/requests/") + r"\d+", review_link)
    assert link_in(smtp.sink.to(PRIMARY_EMAIL)[-1], f"/sites/{site_id}/requests/") == review_link

    # The secondary finds it neither in her Requests nor behind its address.
    with another_browser(page) as sonja:
        sign_in(sonja, live_server.url, SONJA_EMAIL)
        expect_site_start(sonja, live_server.url, SITE_NUMBER, SITE_NAME, "Secondary contact")
        site_nav = sonja.get_by_role("navigation", name="Site")
        expect(site_nav.get_by_role("link", name="Support access")).to_have_count(0)
        expect(site_nav.locator("mark")).to_have_count(0)  # no pending-request badge
        open_site_page(sonja, "Requests")
        expect(sonja.get_by_role("row").filter(has_text=SAM_EMAIL)).to_have_count(0)
        assert sonja.goto(review_link).status == 403

    # Tina follows the link from her mail, signs in on the page it leads to and approves.
    with another_browser(page) as tina:
        tina.goto(review_link)
        sign_in_on_this_page(tina, TINA_EMAIL)
        expect(tina).to_have_url(review_link)
        expect(tina.get_by_role("heading", name="Request from Sam Tester", level=1)).to_be_visible()
        expect(tina.get_by_text("Support cases: Full", exact=True)).to_be_visible()
        expect(tina.get_by_text(JUSTIFICATION, exact=True)).to_be_visible()
        expect(tina.get_by_text("Approving sets Support cases to Full.")).to_be_visible()
        tina.get_by_role("button", name="Approve").click()

        # She lands on Support access, where the request shows as hers, decided.
        expect(tina.get_by_role("heading", name="Support access", level=1)).to_be_visible()
        expect(tina.get_by_role("status")).to_have_text(
            "Approved: Sam Tester has what was asked for, and we mailed them.")
        decided = tina.get_by_role("row").filter(has=tina.get_by_role("link", name="Sam Tester"))
        expect(decided).to_contain_text("Full")
        expect(decided).to_contain_text("Approved (Tina Tester)")
        expect(support_level_of(tina, "Sam Tester").locator("option:checked")).to_have_text("Full")

    # Sam is mailed the decision naming the level, and holds it at his next request.
    approved = smtp.wait_for(4)[3]
    assert approved["To"] == SAM_EMAIL
    assert approved["Subject"] == f"Your access request for site {SITE_NUMBER} is approved"
    text = body_text(approved)
    assert f"Your request for site {SITE_NUMBER}, {SITE_NAME}, is approved." in text
    assert "You now hold Full on Support cases." in text
    page.reload()
    expect_my_level(page, "Support cases", "Full")
    expect_my_level(page, "Software and services (purchase and download)", "Downloads only")
    expect(page.get_by_role("heading", name="Waiting for a decision")).to_have_count(0)
    # The decision mail is the only one: no second "your access changed" mail, nothing to the secondary.
    assert len(smtp.messages) == 4
    assert not smtp.sink.to(SONJA_EMAIL)


def test_technical_contact_sets_a_support_level_but_not_above_her_own(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)  # mail 1: the primary's welcome
    world.member(site_id, TINA_EMAIL, levels={"support": 2})
    world.member(site_id, SAM_EMAIL, levels={"software": 1, "support": 1})
    world.member(site_id, ADA_EMAIL, levels={"support": 3})
    name_technical_contact(live_server, site_id)

    sign_in(page, live_server.url, TINA_EMAIL)
    expect_site_start(page, live_server.url, SITE_NUMBER, SITE_NAME, "User")
    open_site_page(page, "Support access")
    expect(page.get_by_text("You hold Full: you can grant up to that level.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="No requests.")).to_be_visible()

    # Only the rows she may change have a level chooser: not hers, not the primary's, not Ada's above hers.
    for email, level in ((TINA_EMAIL, "Full"), (PRIMARY_EMAIL, "Administrator"), (ADA_EMAIL, "Administrator")):
        expect(support_row(page, email).get_by_role("combobox")).to_have_count(0)
        expect(support_row(page, email).get_by_role("cell").last).to_have_text(level)

    # On Sam's row she can offer up to Full; Administrator, above her own level, cannot be chosen.
    sam = support_row(page, SAM_EMAIL)
    chooser = support_level_of(page, "Sam Tester")
    expect(chooser.locator("option:checked")).to_have_text("Basic")
    for level in ("No access", "Basic", "Full"):
        expect(chooser.get_by_role("option", name=level, exact=True)).to_be_enabled()
    expect(chooser.get_by_role("option", name="Administrator", exact=True)).to_be_disabled()

    # She raises Sam to Full: the row is swapped in place (the page is not reloaded) with a status.
    page.evaluate("window.sitepassMarker = 'same page'")
    chooser.select_option(label="Full")
    sam.get_by_role("button", name="Save changes to the support level of Sam Tester").click()
    expect(sam.get_by_role("status")).to_have_text("Sam Tester now holds Full.")
    expect(support_level_of(page, "Sam Tester").locator("option:checked")).to_have_text("Full")
    assert page.evaluate("window.sitepassMarker") == "same page"
    expect(page).to_have_url(f"{live_server.url}/sites/{site_id}/support")

    changed = smtp.wait_for(2)[1]
    assert changed["To"] == SAM_EMAIL
    assert changed["Subject"] == f"Your access to site {SITE_NUMBER} changed"
    text = body_text(changed)
    assert f"Tina Tester changed your access to site {SITE_NUMBER}, {SITE_NAME}." in text
    assert "- Support cases: Full" in text

    # A page altered to offer Administrator anyway is refused by the server, in place.
    support_level_of(page, "Sam Tester").evaluate("select => { select.options[3].disabled = false; }")
    support_level_of(page, "Sam Tester").select_option(label="Administrator")
    sam.get_by_role("button", name="Save changes to the support level of Sam Tester").click()
    expect(sam.get_by_role("alert")).to_have_text(
        "You cannot grant Administrator on Support cases: it is above your own level.")
    assert page.evaluate("window.sitepassMarker") == "same page"

    # Reloaded, the page shows what is stored: Sam holds Full, and the primary sees it too.
    page.reload()
    expect(support_level_of(page, "Sam Tester").locator("option:checked")).to_have_text("Full")
    expect(support_level_of(page, "Sam Tester").get_by_role("option", name="Administrator")).to_be_disabled()
    with another_browser(page) as primary:
        sign_in_as_primary(primary, live_server.url)
        open_site_page(primary, "Support access")
        expect(primary.get_by_text("You hold Administrator: you can grant up to that level.")).to_be_visible()
        expect(support_level_of(primary, "Sam Tester").locator("option:checked")).to_have_text("Full")
        # The primary, who holds Administrator, may offer it.
        expect(support_level_of(primary, "Sam Tester").get_by_role(
            "option", name="Administrator")).to_be_enabled()
    assert len(smtp.messages) == 2  # the refused change mailed nobody
