"""Contacts (SPEC §6, issue 5) through the client: Contact updates (inline edits, validation errors in
place with nothing written, contact types, who may view and who may change), Site contacts (the
primary acting for a type nobody holds, warnings for primary and secondaries only), contact email
versus login and notification email, Mark contacts reviewed and the monthly review reminder.
Every test gets a copy of one world built once for the module."""
from __future__ import annotations

import html as htmllib
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models import AuditEvent, ContactRecord, Membership, OutboxMail, Person, Site, db
from models import contact as contacts
from models.base import utcnow
from tests.helpers.client import Auth
from tests.helpers.mail import link_in
from tests.helpers.module_world import SessionHelper, module_world_fixtures
from tests.helpers.pages import field_error as message_next_to, parse, page_text, text
from tests.helpers.world import PASSWORD, World
from tests.helpers.times import shown_day

PRIMARY = "primary@example.com"      # primary of site A
EDITOR = "editor@example.com"        # secondary, Contact updates = Update
VIEWER = "viewer@example.com"        # secondary, Contact updates = View
HELPER = "helper@example.com"        # secondary, Manage access = Update, Contact updates = None
USER = "user@example.com"            # user
OUTSIDER = "outsider@example.com"    # member of no site
OPERATOR = "operator@example.com"
PRIMARY_B = "primary.b@example.com"  # primary of site B (no secondary, no contacts but one)
NAMES = {PRIMARY: ("Pat", "Primary"), EDITOR: ("Eddie", "Editor"), VIEWER: ("Vic", "Viewer"),
         HELPER: ("Hal", "Helper"), USER: ("Uma", "User"), OUTSIDER: ("Otto", "Outsider"),
         PRIMARY_B: ("Bea", "Beta")}
SIGNED_IN = (PRIMARY, EDITOR, VIEWER, HELPER, USER, OUTSIDER, OPERATOR, PRIMARY_B)

TYPES = ("technical", "administrative", "renewal", "media", "billing")
TYPE_NAMES = dict(contacts.DEFAULT_CONTACT_TYPES)

# Tina holds the technical and administrative types of site A; the others are held by nobody.
TINA = {"first_name": "Tina", "last_name": "Tech", "phone": "+49 30 901820", "email": "tina@example.com",
        "address": "Unter den Linden 1", "address_line2": "", "city": "Berlin", "subdivision": "DE-BE",
        "postal_code": "10117", "country": "DE"}
BRUNO = {"first_name": "Bruno", "last_name": "Beta", "phone": "(650) 253-0000", "email": "bruno@example.com",
         "address": "1600 Amphitheatre Pkwy", "address_line2": "", "city": "Mountain View",
         "subdivision": "US-CA", "postal_code": "94043", "country": "US"}


def valid_form(**changes) -> dict:
    """The fields of a new, valid contact (a billing mailbox in London), with changes."""
    form = {"first_name": "Bill", "last_name": "Mailbox", "phone": "020 7946 0018", "email": "billing@example.com",
            "address": "10 Downing Street", "address_line2": "Floor 2", "city": "London", "subdivision": "GB-LND",
            "postal_code": "SW1A 2AA", "country": "GB", "types": ["billing"]}
    form.update(changes)
    return form


# --- the world, built once ----------------------------------------------------------------------

def build_world(world: World, app) -> dict:
    for email, (first, last) in NAMES.items():
        world.person(email, first_name=first, last_name=last)
    world.operator(OPERATOR)
    site_a = world.site(PRIMARY, customer="Acme Corp", name="Acme Works")
    world.member(site_a, EDITOR, "secondary", {"contact_updates": 2})
    world.member(site_a, VIEWER, "secondary", {"contact_updates": 1})
    world.member(site_a, HELPER, "secondary", {"manage_access": 2})
    world.member(site_a, USER, "user", {"reporting": 1})
    site_b = world.site(PRIMARY_B, customer="Beta Corp", name="Beta Plant")
    from models.person import find_person
    with app.app_context():
        tina = contacts.save_contact(db.session.get(Site, site_a), find_person(PRIMARY), TINA,
                                     ["technical", "administrative"])
        bruno = contacts.save_contact(db.session.get(Site, site_b), find_person(PRIMARY_B), BRUNO, ["billing"])
        db.session.execute(sa.update(OutboxMail).values(status="sent", sent_at=utcnow()))
        db.session.commit()
        ids = {"site_a": site_a, "site_b": site_b, "tina": tina.id, "bruno": bruno.id}
        for email in (PRIMARY, EDITOR, VIEWER, HELPER, USER, PRIMARY_B):
            ids[email] = db.session.scalar(sa.select(Membership.id).join(Membership.person)
                                           .where(Person.email == email))
    return ids


class Helper(SessionHelper):
    def url(self, path="", site=None):
        return f"/sites/{site or self.a}/contacts{path}"

    def records(self, site=None) -> dict[str, dict]:
        """email → every field and the type keys of a site's contacts, read from the database."""
        with self.app.app_context():
            result = {r.email: {**{n: getattr(r, n) for n in contacts.CONTACT_FIELDS},
                                "types": sorted(t.key for t in r.types), "id": r.id}
                      for r in contacts.contacts_of(site or self.a)}
            db.session.rollback()
        return result

    def outbox(self, template=None) -> list[OutboxMail]:
        with self.app.app_context():
            statement = sa.select(OutboxMail).where(OutboxMail.id > self.outbox_start if template is None else
                                                    OutboxMail.template == template).order_by(OutboxMail.id)
            rows = db.session.scalars(statement).all()
            db.session.expunge_all()
        return list(rows)

    def state(self):
        """Everything a refused change must leave as it was."""
        with self.app.app_context():
            result = (
                {(r.site_id, tuple(getattr(r, n) for n in contacts.CONTACT_FIELDS), tuple(t.key for t in r.types))
                 for r in db.session.scalars(sa.select(ContactRecord))},
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)),
                tuple(db.session.execute(sa.select(Site.id, Site.contacts_reviewed_at).order_by(Site.id))),
                tuple(db.session.execute(sa.select(Person.email, Person.notification_email).order_by(Person.id))),
            )
            db.session.rollback()
        return result

    def update_site(self, site=None, **values):
        with self.app.app_context():
            db.session.execute(sa.update(Site).where(Site.id == (site or self.a)).values(**values))
            db.session.commit()

    def person(self, email) -> Person:
        with self.app.app_context():
            person = db.session.scalar(sa.select(Person).where(Person.email == email))
            db.session.expunge_all()
        return person


module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, SIGNED_IN, Helper)


def field_error(markup: str, prefix: str, field: str) -> str:
    """The error shown next to a field: its control says aria-invalid and points at the message (and at
    nothing else)."""
    message = message_next_to(markup, f"{prefix}-{field}")
    control = parse(markup).find(id=f"{prefix}-{field}")
    assert control.get("aria-describedby") == f"{prefix}-{field}-error"
    return message


def invalid_fields(markup: str) -> set[str]:
    return set(re.findall(r'id="[a-z0-9]+-([a-z_0-9]+)-error"', markup))


# --- validation through the forms: 422, the error next to its field, nothing written --------------

INVALID = [
    # (field changed, value, other changes, message fragment)
    ("phone", "123", {}, "valid phone number for United Kingdom"),
    ("phone", "555-0123", {"country": "US", "subdivision": "US-CA", "postal_code": "94043"},
     "valid phone number for United States"),
    ("phone", "0151 2345", {"country": "DE", "subdivision": "DE-BE", "postal_code": "10117"}, "valid phone number"),
    ("phone", "(02) 9374", {"country": "AU", "subdivision": "AU-NSW", "postal_code": "2000"}, "valid phone number"),
    ("phone", "03-1234", {"country": "JP", "subdivision": "JP-13", "postal_code": "100-0001"}, "valid phone number"),
    ("subdivision", "Texas", {"country": "CA", "postal_code": "K1A 0B1", "phone": "(416) 967-1111"},
     "the post of Canada does not know this one"),
    ("subdivision", "Atlantis", {"country": "US", "postal_code": "94043", "phone": "(650) 253-0000"},
     "the post of United States does not know this one"),
    ("postal_code", "12345", {}, "Enter the postal code as it is written in United Kingdom, e.g. EC1Y 8SY."),
    ("postal_code", "9404", {"country": "US", "subdivision": "California", "phone": "(650) 253-0000"},
     "Enter the ZIP code as it is written in United States, e.g. "),
    ("postal_code", "K1A0B", {"country": "CA", "subdivision": "Ontario", "phone": "(416) 967-1111"},
     "Enter the postal code as it is written in Canada"),
    ("postal_code", "1000", {"country": "PT", "subdivision": "PT-11", "phone": "+351 21 123 4567"},
     "Enter the postal code as it is written in Portugal"),
    ("postal_code", "1011", {"country": "DE", "subdivision": "Berlin", "phone": "030 901820"},
     "Enter the postal code as it is written in Germany, e.g. 26133."),
    ("postal_code", "10000", {"country": "IN", "subdivision": "IN-MH", "phone": "98765 43210"},
     "Enter the PIN code as it is written in India"),
    ("email", "not-an-email", {}, "valid email address"),
    ("email", "billing@example", {}, "valid email address"),
    ("country", "XX", {}, "Choose a country"),
    ("first_name", "", {}, "This field is required"),
    ("last_name", "  ", {}, "This field is required"),
    ("phone", "", {}, "This field is required"),
    ("email", "", {}, "This field is required"),
    ("address", "", {}, "This field is required"),
    ("city", "", {}, "This field is required"),
    ("subdivision", "", {"country": "US", "postal_code": "94043", "phone": "(650) 253-0000"},
     "This field is required"),
    ("postal_code", "", {}, "This field is required"),
    ("country", "", {}, "This field is required"),
]
INVALID_IDS = [f"{field}={value or 'blank'}-{changes.get('country', 'GB')}" for field, value, changes, _m in INVALID]


@pytest.mark.parametrize("field, value, changes, message", INVALID, ids=INVALID_IDS)
def test_adding_an_invalid_contact_answers_422_with_the_error_next_to_the_field(h, field, value, changes, message):
    h.become(PRIMARY)
    before = h.state()
    response = h.post(h.url(), valid_form(**changes, **{field: value}))
    assert response.status_code == 422
    markup = response.get_data(as_text=True)
    assert message in field_error(markup, "new", field)
    assert invalid_fields(markup) == {field}
    # What was typed stays in the form (Japan's addresses have no city: the street names it).
    typed = valid_form(**changes, **{field: value})
    for kept in ("first_name", "address", "postal_code") + (("city",) if changes.get("country") != "JP" else ()):
        if kept != field:
            assert f'value="{typed[kept]}"' in markup, kept
    assert h.state() == before


@pytest.mark.parametrize("field, value, changes, message", INVALID, ids=INVALID_IDS)
def test_an_invalid_inline_edit_answers_422_in_place_and_saves_nothing(h, field, value, changes, message):
    h.become(EDITOR)
    before = h.state()
    cid = h.ids["tina"]
    response = h.post(h.url(f"/{cid}"), valid_form(**changes, **{field: value}), htmx=True)
    assert response.status_code == 422
    markup = response.get_data(as_text=True)
    assert markup.lstrip().startswith(f'<article id="contact-{cid}"'), "the row, not a page, is swapped"
    assert "<html" not in markup
    assert message in field_error(markup, f"c{cid}", field)
    assert invalid_fields(markup) == {field}
    assert h.state() == before
    assert h.records()["tina@example.com"]["phone"] == "+4930901820"


def test_an_invalid_edit_without_htmx_shows_the_row_page_with_the_error(h):
    h.become(PRIMARY)
    before = h.state()
    cid = h.ids["tina"]
    response = h.post(h.url(f"/{cid}"), valid_form(phone="12"))
    assert response.status_code == 422
    markup = response.get_data(as_text=True)
    assert "<html" in markup and "Contact updates" in markup
    assert "valid phone number" in field_error(markup, f"c{cid}", "phone")
    assert h.state() == before


def test_a_valid_new_contact_is_saved_normalised_with_its_types_and_audited(h):
    h.become(EDITOR)
    response = h.post(h.url(), valid_form(types=["billing", "media"], subdivision="london, city of",
                                          postal_code="sw1a 2aa"))
    assert response.status_code == 303 and response.location.endswith(h.url("/manage"))
    saved = h.records()["billing@example.com"]
    # British addresses name no county or region: the one given is dropped.
    assert saved == {**saved, "phone": "+442079460018", "subdivision": "", "postal_code": "SW1A 2AA",
                     "country": "GB", "address_line2": "Floor 2", "types": ["billing", "media"]}
    [event] = [e for e in h.audit("contact.added") if e.target_id == saved["id"]]
    assert event.actor_label == EDITOR and event.target_id == saved["id"] and event.before is None
    assert event.after["types"] == ["media", "billing"] and event.after["phone"] == "+442079460018"
    page = h.get(response.location)
    assert "Contact Bill Mailbox added." in page_text(page)
    assert h.person("billing@example.com") is None, "a contact needs no portal account"


def test_a_valid_inline_edit_swaps_the_row_and_is_audited_with_before_and_after(h):
    h.become(EDITOR)
    cid = h.ids["tina"]
    response = h.post(h.url(f"/{cid}"), {**TINA, "phone": "030 123456", "city": "Berlin-Mitte",
                                         "types": ["technical", "renewal"]}, htmx=True)
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert markup.lstrip().startswith(f'<article id="contact-{cid}"') and "<form" in markup  # the remove form
    assert 'name="first_name"' not in markup, "the row is shown again, not the editor"
    # The address as Germany writes it: postal code, then the city in capitals (kept as typed).
    assert "+4930123456" in markup and "10117 BERLIN-MITTE" in markup
    record = h.records()["tina@example.com"]
    assert record["phone"] == "+4930123456" and record["types"] == ["renewal", "technical"]
    assert record["city"] == "Berlin-Mitte"
    [event] = h.audit("contact.saved")
    assert event.before["phone"] == "+4930901820" and event.after["phone"] == "+4930123456"
    assert event.before["types"] == ["technical", "administrative"]
    assert event.after["types"] == ["technical", "renewal"]


def test_a_valid_edit_without_htmx_redirects_to_contact_updates(h):
    h.become(PRIMARY)
    response = h.post(h.url(f"/{h.ids['tina']}"), {**TINA, "city": "Potsdam", "subdivision": "DE-BB",
                                                   "postal_code": "14467", "types": ["technical"]})
    assert response.status_code == 303 and response.location.endswith(h.url("/manage"))
    assert h.records()["tina@example.com"]["city"] == "Potsdam"


def test_opening_the_editor_changes_nothing_and_cancel_shows_the_row_again(h):
    h.become(EDITOR)
    before = h.state()
    cid = h.ids["tina"]
    editor = h.get(h.url(f"/{cid}/edit"), htmx=True)
    assert editor.status_code == 200
    markup = editor.get_data(as_text=True)
    assert markup.lstrip().startswith(f'<article id="contact-{cid}"') and "<html" not in markup
    assert f'hx-post="{h.url(f"/{cid}")}"' in markup
    assert 'value="Tina"' in markup and 'value="+4930901820"' in markup
    # German addresses name no state: the fields are street, postal code and city.
    assert 'value="10117"' in markup and 'value="Berlin"' in markup and 'name="subdivision"' not in markup
    row = h.get(h.url(f"/{cid}"), htmx=True)
    assert row.status_code == 200 and 'name="first_name"' not in row.get_data(as_text=True)
    assert h.state() == before


REQUIRED_LABELS = {"first_name": "First name", "last_name": "Last name", "phone": "Phone", "email": "Email",
                   "address": "Address", "city": "City", "postal_code": "Postal code", "country": "Country"}


def test_required_fields_are_marked_with_an_asterisk_and_the_second_address_line_is_not(h):
    h.become(PRIMARY)
    markup = h.get(h.url(f"/{h.ids['tina']}/edit"), htmx=True).get_data(as_text=True)
    prefix = f"c{h.ids['tina']}"
    for field, label in REQUIRED_LABELS.items():
        found = re.search(rf'<label for="{prefix}-{field}">(.*?)</label>', markup, re.S)
        assert found and text(found.group(1)) == f"{label} *", field
    optional = re.search(rf'<label for="{prefix}-address_line2">(.*?)</label>', markup, re.S)
    assert "*" not in optional.group(1)


def test_removing_a_contact_inline_deletes_it_and_is_audited(h):
    h.become(PRIMARY)  # Tina is the site technical contact: only a support manager takes that type (test_site_rules)
    cid = h.ids["tina"]
    response = h.post(h.url(f"/{cid}/delete"), htmx=True)
    assert response.status_code == 200 and response.get_data(as_text=True) == ""
    assert h.records() == {}
    [event] = h.audit("contact.deleted")
    assert event.target_id == cid and event.before["email"] == "tina@example.com"


def test_the_country_choice_loads_its_address_fields_keeping_what_was_typed(h):
    h.become(EDITOR)
    germany = h.get(h.url("/address-fields?country=DE&prefix=new&city=Berlin&postal_code=10115"), htmx=True)
    assert germany.status_code == 200
    markup = germany.get_data(as_text=True)
    assert markup.lstrip().startswith('<div id="new-address-fields">') and "<html" not in markup
    assert 'name="subdivision"' not in markup
    assert 'id="new-city" name="city" value="Berlin"' in markup and 'value="10115"' in markup
    japan = h.get(h.url("/address-fields?country=jp&prefix=c5&subdivision=Tokyo"), htmx=True).get_data(as_text=True)
    assert '<select id="c5-subdivision"' in japan
    assert re.search(r'<option value="東京都"\s+selected>東京都 / Tokyo</option>', japan)
    assert 'name="city"' not in japan
    unknown = h.get(h.url("/address-fields?country=XX"), htmx=True).get_data(as_text=True)
    assert '<input id="new-subdivision" name="subdivision"' in unknown
    assert h.get(h.url('/address-fields?country=DE&prefix=x"onload="1'), htmx=True).status_code == 400


# --- contact types ------------------------------------------------------------------------------

def test_the_contact_types_are_checkboxes_and_the_primary_type_only_shown(h):
    h.become(PRIMARY)
    markup = h.get(h.url(f"/{h.ids['tina']}/edit"), htmx=True).get_data(as_text=True)
    prefix = f"c{h.ids['tina']}"
    boxes = re.findall(r'<input type="checkbox" id="[^"]+" name="types" value="([a-z]+)"\s*(checked)?>', markup)
    assert [key for key, _checked in boxes] == list(TYPES)
    assert {key for key, checked in boxes if checked} == {"technical", "administrative"}
    assert re.search(r'<input type="checkbox" disabled>\s*Primary contact \(changes only by transfer\)', markup)
    for key in TYPES:
        assert re.search(rf'for="{prefix}-type-{key}">.*?{re.escape(TYPE_NAMES[key])}</label>', markup, re.S)


@pytest.mark.parametrize("chosen", [
    [], ["technical"], ["billing", "renewal"], list(TYPES),
])
def test_a_contact_holds_exactly_the_types_checked(h, chosen):
    h.become(PRIMARY)  # some choices take the site technical contact type from Tina: a support manager's change
    response = h.post(h.url(f"/{h.ids['tina']}"), {**TINA, "types": chosen}, htmx=True)
    assert response.status_code == 200
    assert h.records()["tina@example.com"]["types"] == sorted(chosen)
    markup = response.get_data(as_text=True)
    for key in TYPES:
        assert (f"<mark>{TYPE_NAMES[key]}</mark>" in htmllib.unescape(markup)) == (key in chosen)


def test_a_type_can_be_held_by_several_contacts(h):
    h.become(PRIMARY)
    h.post(h.url(), valid_form(types=["technical", "billing"]))
    holders = {r["email"]: r["types"] for r in h.records().values()}
    assert holders == {"tina@example.com": ["administrative", "technical"],
                       "billing@example.com": ["billing", "technical"]}
    page = page_text(h.get(h.url()))
    assert "Tina Tech tina@example.com +4930901820" in page
    assert "Bill Mailbox billing@example.com +442079460018" in page


@pytest.mark.parametrize("forged", ["primary", "owner", "TECHNICAL"])
def test_a_type_that_is_not_offered_is_refused_in_place_and_nothing_is_written(h, forged):
    # "Primary contact" follows the primary membership and changes only by transfer.
    h.become(PRIMARY)
    before = h.state()
    cid = h.ids["tina"]
    response = h.post(h.url(f"/{cid}"), {**TINA, "types": ["technical", forged]}, htmx=True)
    assert response.status_code == 422
    assert h.state() == before
    created = h.post(h.url(), valid_form(types=[forged]))
    assert created.status_code == 422
    assert h.state() == before
    assert "Unknown contact type." in page_text(response), "the refusal of an edit must be shown in place"
    assert "Unknown contact type." in page_text(created), "the refusal of a new contact must be shown"


# --- who may view and who may change ------------------------------------------------------------

ALLOWED, VIEW_ONLY, NO_TOOL, STRANGER, OPERATOR_VIEW = "allowed", "view", "none", "stranger", "operator"
# Contact updates = Update, but no support manager: may not take Tina's site technical contact type by removing her.
UPDATE_ONLY = "update"
WHO = {PRIMARY: ALLOWED, EDITOR: UPDATE_ONLY, VIEWER: VIEW_ONLY, HELPER: NO_TOOL, USER: NO_TOOL,
       OUTSIDER: STRANGER, PRIMARY_B: STRANGER, OPERATOR: OPERATOR_VIEW}

# (name, method, path, form, htmx, {kind: status}) — "ok" is 200 for pages and fragments, a redirect after a form.
ACTIONS = [
    ("site contacts", "GET", "", None, False,
     {ALLOWED: 200, UPDATE_ONLY: 200, VIEW_ONLY: 200, NO_TOOL: 200, STRANGER: 404, OPERATOR_VIEW: 200}),
    ("contact updates", "GET", "/manage", None, False,
     {ALLOWED: 200, UPDATE_ONLY: 200, VIEW_ONLY: 200, NO_TOOL: 403, STRANGER: 404, OPERATOR_VIEW: 200}),
    ("show a contact", "GET", "/{tina}", None, True,
     {ALLOWED: 200, UPDATE_ONLY: 200, VIEW_ONLY: 200, NO_TOOL: 403, STRANGER: 404, OPERATOR_VIEW: 200}),
    ("open the editor", "GET", "/{tina}/edit", None, True,
     {ALLOWED: 200, UPDATE_ONLY: 200, VIEW_ONLY: 403, NO_TOOL: 403, STRANGER: 404, OPERATOR_VIEW: 403}),
    ("address fields of a country", "GET", "/address-fields?country=DE", None, True,
     {ALLOWED: 200, UPDATE_ONLY: 200, VIEW_ONLY: 403, NO_TOOL: 403, STRANGER: 404, OPERATOR_VIEW: 403}),
    ("save a contact", "POST", "/{tina}", {**TINA, "city": "Spandau", "types": ["technical"]}, True,
     {ALLOWED: 200, UPDATE_ONLY: 200, VIEW_ONLY: 403, NO_TOOL: 403, STRANGER: 404, OPERATOR_VIEW: 403}),
    ("add a contact", "POST", "", valid_form(), False,
     {ALLOWED: 303, UPDATE_ONLY: 303, VIEW_ONLY: 403, NO_TOOL: 403, STRANGER: 404, OPERATOR_VIEW: 403}),
    ("remove a contact", "POST", "/{tina}/delete", {}, False,
     {ALLOWED: 303, UPDATE_ONLY: 422, VIEW_ONLY: 403, NO_TOOL: 403, STRANGER: 404, OPERATOR_VIEW: 403}),
    ("mark reviewed", "POST", "/reviewed", {}, False,
     {ALLOWED: 303, UPDATE_ONLY: 303, VIEW_ONLY: 403, NO_TOOL: 403, STRANGER: 404, OPERATOR_VIEW: 403}),
]


@pytest.mark.parametrize("who", list(WHO))
@pytest.mark.parametrize("name, method, path, form, htmx, expected", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_contact_updates_view_and_update_rights(h, who, name, method, path, form, htmx, expected):
    h.become(who)
    before = h.state()
    url = h.url(path.format(tina=h.ids["tina"]))
    if method == "GET":
        response = h.get(url, htmx=htmx)
    else:
        response = h.post(url, form, htmx=htmx)
    assert response.status_code == expected[WHO[who]]
    if method == "POST" and response.status_code >= 400:
        assert h.state() == before, "a refused change writes nothing"
    if method == "POST" and response.status_code < 400:
        assert h.state() != before


@pytest.mark.parametrize("who", [PRIMARY, EDITOR, VIEWER])
def test_the_contact_updates_page_offers_edits_only_to_update(h, who):
    h.become(who)
    markup = h.get(h.url("/manage")).get_data(as_text=True)
    assert "Tina Tech" in markup and "tina@example.com" in markup
    can_update = who != VIEWER
    assert ("Mark contacts reviewed" in markup) == can_update
    assert ("Add contact" in markup) == can_update
    assert (f'{h.url("/" + str(h.ids["tina"]) + "/edit")}' in markup) == can_update


@pytest.mark.parametrize("method, path, htmx", [
    ("GET", "/{bruno}", True), ("GET", "/{bruno}/edit", True), ("POST", "/{bruno}", True),
    ("POST", "/{bruno}/delete", False),
])
@pytest.mark.parametrize("who", [PRIMARY, EDITOR])
def test_a_contact_of_another_site_is_not_found_through_ones_own_site(h, who, method, path, htmx):
    h.become(who)
    before = h.state()
    url = h.url(path.format(bruno=h.ids["bruno"]))  # site A in the URL, site B's contact id
    if method == "GET":
        response = h.get(url, htmx=htmx)
    else:
        response = h.post(url, {**BRUNO, "city": "Hacked", "types": ["technical"]}, htmx=htmx)
    assert response.status_code == 404
    assert h.state() == before
    # …and through site B's own URL a member of site A is a stranger.
    direct = h.url(path.format(bruno=h.ids["bruno"]), site=h.b)
    response = h.get(direct, htmx=htmx) if method == "GET" else h.post(direct, BRUNO, htmx=htmx)
    assert response.status_code == 404
    assert h.state() == before


# --- Site contacts ------------------------------------------------------------------------------

def site_contacts_rows(markup: str) -> dict[str, list[str]]:
    """Contact type → the texts of its rows (who, email, phone), from the Site contacts table."""
    rows: dict[str, list[str]] = {}
    current = None
    for row in parse(markup).find("tbody").find_all("tr"):
        header = row.find("th")
        if header:
            current = header.text
        rows.setdefault(current, []).append(" ".join(filter(None, row.cells())))
    return rows


@pytest.mark.parametrize("who", [PRIMARY, EDITOR, VIEWER, HELPER, USER, OPERATOR])
def test_site_contacts_shows_the_primary_the_holders_and_who_acts_for_the_rest(h, who):
    h.become(who)
    response = h.get(h.url())
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert "<h1>Site contacts</h1>" in markup
    rows = site_contacts_rows(markup)
    assert rows["Primary contact"] == ["Pat Primary primary@example.com"]
    assert rows[TYPE_NAMES["technical"]] == ["Tina Tech tina@example.com +4930901820"]
    assert rows[TYPE_NAMES["administrative"]] == ["Tina Tech tina@example.com +4930901820"]
    for key in ("renewal", "media", "billing"):
        assert rows[TYPE_NAMES[key]] == ["Nobody holds this type: the primary contact, Pat Primary, acts for it."]
    assert f"/contacts/{h.ids['tina']}/edit" not in markup and "/contacts/reviewed" not in markup, "read-only"


def test_site_contacts_follows_a_saved_change(h):
    h.become(PRIMARY)
    h.post(h.url(), valid_form(types=["billing"]))
    rows = site_contacts_rows(h.get(h.url()).get_data(as_text=True))
    assert rows[TYPE_NAMES["billing"]] == ["Bill Mailbox billing@example.com +442079460018"]
    assert rows[TYPE_NAMES["media"]] == ["Nobody holds this type: the primary contact, Pat Primary, acts for it."]


COVERAGE_WARNING = "The site has current support coverage but no site technical contact."
RENEWAL_WARNING = "No renewal contact is named (recommended)."
SECONDARY_WARNING = "The site has no secondary contact (recommended)."


def warnings_on(response) -> set[str]:
    return {text(m) for m in re.findall(r'<p class="flash flash-error" role="status">(.*?)</p>',
                                        response.get_data(as_text=True), re.S)}


@pytest.mark.parametrize("who, shown", [
    (PRIMARY, True), (EDITOR, True), (VIEWER, True), (HELPER, True), (USER, False),
])
def test_warnings_are_for_the_primary_and_secondaries_only(h, who, shown):
    h.update_site(coverage_ends_on=date.today() + timedelta(days=90))
    h.become(PRIMARY)
    h.post(h.url(f"/{h.ids['tina']}"), {**TINA, "types": ["administrative"]})  # nobody technical any more
    h.become(who)
    expected = {COVERAGE_WARNING, RENEWAL_WARNING} if shown else set()
    assert warnings_on(h.get(h.url())) == expected


@pytest.mark.parametrize("coverage_days, tina_types, expected", [
    (None, ["technical"], {RENEWAL_WARNING}),
    (None, [], {RENEWAL_WARNING}),
    (30, ["technical"], {RENEWAL_WARNING}),
    (30, ["administrative"], {COVERAGE_WARNING, RENEWAL_WARNING}),
    (0, ["billing"], {COVERAGE_WARNING, RENEWAL_WARNING}),          # coverage ends today: still current
    (-1, ["billing"], {RENEWAL_WARNING}),                            # coverage ended yesterday
    (30, ["technical", "renewal"], set()),
    (None, ["renewal"], set()),
])
def test_the_warnings_follow_coverage_and_the_types_held(h, coverage_days, tina_types, expected):
    if coverage_days is not None:
        h.update_site(coverage_ends_on=date.today() + timedelta(days=coverage_days))
    h.become(PRIMARY)
    assert h.post(h.url(f"/{h.ids['tina']}"), {**TINA, "types": tina_types}).status_code == 303
    assert warnings_on(h.get(h.url())) == expected
    assert warnings_on(h.get(h.url("/manage"))) >= expected


def test_a_site_without_secondary_is_warned_and_the_primary_acts_for_every_type_not_held(h):
    h.become(PRIMARY_B)
    response = h.get(h.url(site=h.b))
    assert warnings_on(response) == {RENEWAL_WARNING, SECONDARY_WARNING}
    rows = site_contacts_rows(response.get_data(as_text=True))
    assert rows["Primary contact"] == ["Bea Beta primary.b@example.com"]
    assert rows[TYPE_NAMES["billing"]] == ["Bruno Beta bruno@example.com +16502530000"]
    assert rows[TYPE_NAMES["technical"]] == ["Nobody holds this type: the primary contact, Bea Beta, acts for it."]


# --- contact email, login email and notification email are three things -------------------------

def test_changing_a_contact_email_changes_no_login_or_notification_email(h):
    h.become(PRIMARY)
    # A contact record for the primary themself, with their login email as work email.
    h.post(h.url(), valid_form(first_name="Pat", last_name="Primary", email=PRIMARY, types=["renewal"]))
    cid = h.records()[PRIMARY]["id"]
    people_before = {p: (h.person(p).email, h.person(p).notification_email) for p in (PRIMARY, EDITOR)}
    response = h.post(h.url(f"/{cid}"), valid_form(first_name="Pat", last_name="Primary",
                                                   email="pat.work@example.com", types=["renewal"]), htmx=True)
    assert response.status_code == 200
    assert "pat.work@example.com" in h.records()
    assert {p: (h.person(p).email, h.person(p).notification_email) for p in (PRIMARY, EDITOR)} == people_before
    assert h.person(PRIMARY).email == PRIMARY and h.person(PRIMARY).notification_email is None
    # The login still works with the login email.
    fresh = h.app.test_client()
    assert Auth(fresh).sign_in(PRIMARY).status_code == 303


def confirm_notification_email(h):
    """Open the link mailed to a new notification email: only then does it take effect (issue 10)."""
    [row] = h.outbox("notification_email")
    link = re.search(r"http://localhost(/settings/notification-email/\S+)", row.text_body).group(1)
    assert h.post(link).status_code == 303


def test_changing_the_notification_email_changes_no_contact_email(h):
    h.become(PRIMARY)
    h.post(h.url(), valid_form(first_name="Pat", last_name="Primary", email=PRIMARY, types=["renewal"]))
    contacts_before = h.records()
    response = h.post("/settings/", {"first_name": "Pat", "last_name": "Primary", "language": "",
                                     "notification_email": "pat.alerts@example.com", "access_requests": "y"})
    assert response.status_code == 303
    confirm_notification_email(h)
    assert h.person(PRIMARY).notification_email == "pat.alerts@example.com"
    assert h.person(PRIMARY).email == PRIMARY
    assert h.records() == contacts_before


def test_changing_the_login_email_changes_no_contact_email(h):
    h.become(PRIMARY)
    h.post(h.url(), valid_form(first_name="Pat", last_name="Primary", email=PRIMARY, types=["renewal"]))
    contacts_before = h.records()
    assert h.post("/settings/email", {"new_email": "pat.new@example.com",
                                      "current_password": PASSWORD}).status_code == 303
    [change] = h.outbox("email_change")
    link = re.search(r"http://localhost(/settings/email/\S+)", change.text_body).group(1)
    assert h.post(link).status_code == 303
    assert h.person("pat.new@example.com") is not None
    assert h.records() == contacts_before
    assert h.person("pat.new@example.com").notification_email is None


# --- Mark contacts reviewed and the monthly reminder ---------------------------------------------

def test_mark_contacts_reviewed_records_the_date_and_is_audited(h):
    h.become(EDITOR)
    assert "Contacts never reviewed." in page_text(h.get(h.url("/manage")))
    response = h.post(h.url("/reviewed"))
    assert response.status_code == 303 and response.location.endswith(h.url("/manage"))
    page = page_text(h.get(response.location))
    assert "Contacts marked as reviewed today." in page
    assert f"Contacts last reviewed on {shown_day(utcnow())}." in page
    with h.app.app_context():
        reviewed = db.session.get(Site, h.a).contacts_reviewed_at
    assert abs(utcnow() - reviewed) < timedelta(minutes=1)
    [event] = h.audit("contacts.reviewed")
    assert event.actor_label == EDITOR and event.before == {"contacts_reviewed_at": None}
    assert event.after == {"contacts_reviewed_at": reviewed.isoformat()}


def run_reminders(h) -> str:
    result = h.app.test_cli_runner().invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    return result.output


def test_send_reminders_mails_the_primary_of_a_site_not_reviewed_for_a_month_once(h, smtp):
    month_and_a_day = utcnow() - timedelta(days=31)
    h.update_site(h.a, created_at=month_and_a_day - timedelta(days=100), contacts_reviewed_at=month_and_a_day)
    h.update_site(h.b, created_at=month_and_a_day, contacts_reviewed_at=utcnow() - timedelta(days=5))
    assert "contact review reminders: 1" in run_reminders(h)
    [reminder] = h.outbox("contacts_review_reminder")
    assert reminder.recipient == PRIMARY
    assert "Acme Works" in reminder.text_body and "were not reviewed for a month" in reminder.text_body
    [event] = h.audit("contacts.review_reminded")
    assert event.site_id == h.a
    # The real mail arrives, with a link to Contact updates.
    [message] = smtp.wait_for(1)
    assert message["To"] == PRIMARY and "review the contacts" in message["Subject"]
    assert link_in(message, h.url("/manage")).endswith(h.url("/manage"))
    # Running it again the same day sends nothing new.
    assert "contact review reminders: 0" in run_reminders(h)
    assert len(h.outbox("contacts_review_reminder")) == 1
    assert len(h.audit("contacts.review_reminded", site=False)) == 1


def test_a_site_never_reviewed_is_reminded_a_month_after_it_was_created(h):
    h.update_site(h.a, created_at=utcnow() - timedelta(days=29))
    h.update_site(h.b, created_at=utcnow() - timedelta(days=31))
    assert "contact review reminders: 1" in run_reminders(h)
    assert [m.recipient for m in h.outbox("contacts_review_reminder")] == [PRIMARY_B]


def test_the_reminder_comes_again_a_month_later_unless_the_contacts_were_reviewed(h):
    now = utcnow()
    long_ago = now - timedelta(days=100)
    h.update_site(h.a, created_at=long_ago)
    h.update_site(h.b, created_at=long_ago)
    with h.app.app_context():
        assert contacts.send_review_reminders(now=now - timedelta(days=40)) == 2
        db.session.commit()
        assert contacts.send_review_reminders(now=now - timedelta(days=25)) == 0
        db.session.commit()
        # Site A's contacts are reviewed; B's are not: a month after the first reminder only B's primary
        # is reminded again.
        db.session.get(Site, h.a).contacts_reviewed_at = now - timedelta(days=5)
        db.session.commit()
        assert contacts.send_review_reminders(now=now) == 1
        db.session.commit()
        assert contacts.send_review_reminders(now=now) == 0
        db.session.commit()
    assert [m.recipient for m in h.outbox("contacts_review_reminder")] == [PRIMARY, PRIMARY_B, PRIMARY_B]


def test_marking_reviewed_through_the_page_stops_the_reminder(h):
    h.update_site(h.a, created_at=utcnow() - timedelta(days=60))
    h.become(PRIMARY)
    h.post(h.url("/reviewed"))
    assert "contact review reminders: 0" in run_reminders(h)
    assert h.outbox("contacts_review_reminder") == []


def test_the_reminder_goes_to_the_primarys_notification_email(h):
    h.update_site(h.a, created_at=utcnow() - timedelta(days=60))
    h.become(PRIMARY)
    h.post("/settings/", {"first_name": "Pat", "last_name": "Primary", "language": "",
                          "notification_email": "pat.alerts@example.com"})
    confirm_notification_email(h)
    run_reminders(h)
    [reminder] = h.outbox("contacts_review_reminder")
    assert reminder.recipient == "pat.alerts@example.com"
    assert "Hello Pat Primary" in reminder.text_body


def test_the_reminder_mail_link_is_absolute_and_points_at_contact_updates(h):
    h.update_site(h.a, created_at=utcnow() - timedelta(days=60))
    run_reminders(h)
    [reminder] = h.outbox("contacts_review_reminder")
    assert f"http://localhost{h.url('/manage')}" in reminder.text_body
    assert f"http://localhost{h.url('/manage')}" in reminder.html_body
    h.become(PRIMARY)
    assert h.get(h.url("/manage")).status_code == 200


# --- each country's address fields (issue 14) ------------------------------------------------------

def labels_of(markup: str, prefix: str) -> list[str]:
    return [text(label) for label in re.findall(rf'<label for="{prefix}-(?:address|city|city_area|subdivision|'
                                                rf'postal_code|sorting_code|address_line2)">(.*?)</label>',
                                                markup, re.S)]


@pytest.mark.parametrize("country, expected", [
    ("DE", ["Address *", "Address, second line", "Postal code *", "City *"]),
    ("US", ["Address *", "Address, second line", "City *", "State *", "ZIP code *"]),
    ("JP", ["Postal code *", "Prefecture *", "Address *", "Address, second line"]),
    ("ID", ["Address *", "Address, second line", "City", "Province *", "Postal code"]),
])
def test_the_address_fields_of_a_country_come_in_its_order_with_its_names(h, country, expected):
    h.become(EDITOR)
    markup = h.get(h.url(f"/address-fields?country={country}&prefix=new"), htmx=True).get_data(as_text=True)
    assert labels_of(markup, "new") == expected


def test_without_javascript_a_changed_country_is_answered_with_its_fields(h):
    # The form still showed Britain's fields; the country changed to Japan on submit: the page comes
    # back with Japan's fields (a prefecture to choose, no city; Britain's "GB-LND" is none of Japan's)
    # and what was typed, nothing saved.
    h.become(PRIMARY)
    before = h.state()
    response = h.post(h.url(), valid_form(country="JP", phone="+81 3-1234-5678", postal_code="100-0001"))
    assert response.status_code == 422
    markup = response.get_data(as_text=True)
    assert "the post of Japan does not know this one" in field_error(markup, "new", "subdivision")
    assert labels_of(markup, "new") == ["Postal code *", "Prefecture *", "Address *", "Address, second line"]
    assert '<select id="new-subdivision"' in markup and 'value="100-0001"' in markup
    assert h.state() == before
    response = h.post(h.url(), valid_form(country="JP", phone="+81 3-1234-5678", postal_code="100-0001",
                                          subdivision="Tokyo", address="千代田区千代田1-1"))
    assert response.status_code == 303
    saved = h.records()["billing@example.com"]
    assert (saved["subdivision"], saved["city"], saved["postal_code"]) == ("東京都", "", "100-0001")
    page = h.get(response.location).get_data(as_text=True)
    assert "<address>〒100-0001<br>東京都<br>千代田区千代田1-1<br>Floor 2<br>Japan</address>" in page
    assert "千代田区千代田1-1<br>Floor 2, TOKYO<br>100-0001<br>Japan</address>" in page  # in Latin script too
