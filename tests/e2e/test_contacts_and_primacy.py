"""Contacts and the primary role in the browser (issue 5): the primary transfers the role, the nominee
accepts from the real mail's link, the old primary is then a secondary contact and leaves the site; a
contact edit with an invalid phone number shows the error in place and saves nothing; Site contacts
shows the primary standing in for a missing billing contact."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.members_steps import (PRIMARY_EMAIL, SITE_NAME, SITE_NUMBER, open_site_page, sign_in_as_primary,
                                     site_with_primary)
from tests.e2e.steps import another_browser, expect_site_start, sign_in_on_this_page
from tests.helpers.mail import body_text, link_in

NOMINEE_EMAIL = "nadia@example.com"
CONTACT = {"first_name": "Carla", "last_name": "Contact", "phone": "+49 30 12345678", "email": "carla@example.com",
           "address": "Friedrichstraße 1", "address_line2": "", "city": "Berlin", "subdivision": "DE-BE",
           "postal_code": "10115", "country": "DE"}
SAVED_PHONE = "+493012345678"  # E.164, as Sitepass stores and shows it
PHONE_ERROR = "Enter a valid phone number for Germany, or start with + and the country code."


def add_contact(live_server, site_id: int, types: list[str], **fields) -> None:
    """Save a site contact through the domain layer, as the primary would on Contact updates."""
    from models import Site, db
    from models import contact as contacts
    from models.person import find_person

    with live_server.app.app_context():
        contacts.save_contact(db.session.get(Site, site_id), find_person(PRIMARY_EMAIL), {**CONTACT, **fields}, types)
        db.session.commit()


def test_primary_transfers_role_nominee_accepts_from_mail_and_old_primary_leaves(live_server, smtp, page):
    world, site_id = site_with_primary(live_server, smtp)
    world.member(site_id, NOMINEE_EMAIL, levels={"support": 1})
    sign_in_as_primary(page, live_server.url)
    start_url = page.url
    expect(page.get_by_role("button", name="Leave site")).to_have_count(0)
    expect(page.get_by_text("As primary contact you cannot leave this site: transfer the primary role first.")
           ).to_be_visible()

    page.get_by_role("link", name="Transfer primary role").click()
    expect(page.get_by_role("heading", name="Transfer primary role", level=1)).to_be_visible()
    page.get_by_label("New primary contact").select_option(label=f"Nadia Tester <{NOMINEE_EMAIL}> · User")
    page.get_by_role("button", name="Transfer primary role").click()
    expect(page.get_by_role("status").filter(has_text="offered")).to_have_text(
        "Nadia Tester is offered the primary role and has 48 hours to accept. Until then nothing changes.")
    expect(page.get_by_text("Offered to Nadia Tester until")).to_be_visible()

    offer = smtp.wait_for(2)[1]
    assert offer["To"] == NOMINEE_EMAIL
    assert offer["Subject"] == f"You are offered the primary contact role of site {SITE_NUMBER}"
    assert f"Primary Tester offers you the primary contact role of site {SITE_NUMBER}, {SITE_NAME}." \
        in body_text(offer)
    link = link_in(offer, "/primary-offers/")
    assert link.startswith(f"{live_server.url}/primary-offers/")

    with another_browser(page) as nadia:
        nadia.goto(link)
        sign_in_on_this_page(nadia, NOMINEE_EMAIL)
        expect(nadia.get_by_role("heading", name="Primary contact role")).to_be_visible()
        expect(nadia.get_by_text(f"You are offered the primary contact role of site {SITE_NUMBER}, {SITE_NAME}.")
               ).to_be_visible()
        nadia.get_by_role("button", name="Accept").click()
        expect_site_start(nadia, live_server.url, SITE_NUMBER, SITE_NAME, "Primary contact")
        expect(nadia.get_by_role("status")).to_have_text("You are now the primary contact of this site.")
        expect(nadia.get_by_role("link", name="Transfer primary role")).to_be_visible()
        expect(nadia.get_by_role("link", name="See the offer")).to_have_count(0)

    changed = smtp.wait_for(4)[2:]
    assert sorted(m["To"] for m in changed) == sorted([PRIMARY_EMAIL, NOMINEE_EMAIL])
    for mail in changed:
        assert mail["Subject"] == f"The primary contact of site {SITE_NUMBER} changed"
        text = body_text(mail)
        assert f"Nadia Tester is now the primary contact of site {SITE_NUMBER}, {SITE_NAME}." in text
        assert "Primary Tester is now secondary contact." in text

    # The old primary: a secondary contact now, who may leave.
    page.goto(start_url)
    expect_site_start(page, live_server.url, SITE_NUMBER, SITE_NAME, "Secondary contact")
    expect(page.get_by_role("link", name="Transfer primary role")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Leave site").click()
    expect(page.get_by_role("heading", name="My sites", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"You left {SITE_NAME}.")
    expect(page.get_by_text("You are not a member of any site yet.")).to_be_visible()
    expect(page.get_by_role("link", name=SITE_NAME)).to_have_count(0)

    response = page.goto(start_url)
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found", level=1)).to_be_visible()
    expect(page.get_by_text(SITE_NAME)).to_have_count(0)


def test_contact_edit_with_invalid_phone_shows_error_in_place_and_saves_nothing(live_server, smtp, page):
    _world, site_id = site_with_primary(live_server, smtp)
    add_contact(live_server, site_id, ["technical"])
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "Contact updates")
    updates_url = page.url
    page.evaluate("window.stillTheSamePage = true")
    expect(page.get_by_role("article").filter(has_text="Carla Contact")).to_contain_text(SAVED_PHONE)

    page.get_by_role("button", name="Edit Carla Contact").click()
    card = page.get_by_role("article").filter(has=page.get_by_role("button", name="Save changes"))
    phone = card.get_by_label("Phone")
    expect(phone).to_have_value(SAVED_PHONE)
    expect(card.get_by_label("Billing contact")).not_to_be_checked()
    expect(card.get_by_label("Site technical contact")).to_be_checked()
    # A valid change of email, a new contact type and a bad phone number: all or nothing.
    card.get_by_label("Email").fill("carla.new@example.com")
    card.get_by_label("Billing contact").check()
    phone.fill("123")
    card.get_by_role("button", name="Save changes").click()

    # The error sits next to the Phone field of the same card, still a form with what was typed.
    expect(card.get_by_text(PHONE_ERROR)).to_be_visible()
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(PHONE_ERROR)
    expect(phone).to_have_value("123")
    expect(card.get_by_label("Email")).to_have_value("carla.new@example.com")
    expect(card.get_by_label("Billing contact")).to_be_checked()
    expect(card.get_by_label("Email")).not_to_have_attribute("aria-invalid", "true")
    assert page.url == updates_url
    assert page.evaluate("window.stillTheSamePage") is True

    page.reload()
    saved = page.get_by_role("article").filter(has_text="Carla Contact")
    expect(saved).to_contain_text(SAVED_PHONE)
    expect(saved).to_contain_text("carla@example.com")
    expect(saved).not_to_contain_text("carla.new@example.com")
    expect(saved).not_to_contain_text("Billing contact")
    saved.get_by_role("button", name="Edit Carla Contact").click()
    expect(page.get_by_role("article").filter(has=page.get_by_role("button", name="Save changes"))
           .get_by_label("Phone")).to_have_value(SAVED_PHONE)


def test_site_contacts_shows_primary_standing_in_for_missing_billing_contact(live_server, smtp, page):
    _world, site_id = site_with_primary(live_server, smtp)
    add_contact(live_server, site_id, ["technical", "administrative", "renewal", "media"])
    sign_in_as_primary(page, live_server.url)
    open_site_page(page, "Site contacts")

    def row(contact_type: str):
        return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=contact_type, exact=True))

    expect(row("Primary contact")).to_contain_text("Primary Tester")
    expect(row("Billing contact").get_by_role("cell")).to_have_text(
        "Nobody holds this type: the primary contact, Primary Tester, acts for it.")
    technical = row("Site technical contact")
    expect(technical).to_contain_text("Carla Contact")
    expect(technical).to_contain_text("carla@example.com")
    expect(technical).to_contain_text(SAVED_PHONE)
    # Billing is the only type nobody holds.
    expect(page.get_by_role("cell").filter(has_text=re.compile("acts for it"))).to_have_count(1)
