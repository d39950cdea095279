"""Site rules of the hardening issue (issue 10) through the client: contact types that carry rights
(the site technical contact manages support levels, SPEC §7) are given or taken only by a support
manager and never to oneself, and count only for verified accounts.

Every test gets a copy of one world built once for the module (see module_world_fixtures)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import AccessRequest, AuditEvent, ContactRecord, Invitation, Membership, OutboxMail, Person, Site, db
from models import contact as contacts
from models.access_request import DAILY_LIMIT, SELF_NOMINATION
from models.base import utcnow
from models.support import support_managers_of, technical_contact_ids
from models.throttle import ThrottleEvent
from models.tool import catalog
from tests.helpers.module_world import SessionHelper, module_world_fixtures
from tests.helpers.world import PASSWORD, World
from tests.helpers.mail import link_in
from tests.helpers.pages import text

PRIMARY = "primary@example.com"      # primary of site A
EDITOR = "editor@example.com"        # secondary, Contact updates = Update, no support level: the attacker
TECHIE = "techie@example.com"        # secondary, Contact updates = Update; site technical contact by login email
ADMIN = "admin@example.com"          # secondary, Contact updates = Update, Support cases = Administrator
OTHER = "other@example.com"          # user, Support = Basic; a billing contact by login email
SQUATTER = "squatter@example.com"    # user whose account never proved its mailbox (unverified)
OUTSIDER = "outsider@example.com"    # member of no site
SIGNED_IN = (PRIMARY, EDITOR, TECHIE, ADMIN, OTHER, OUTSIDER)

NOT_A_MANAGER = ("Only the primary contact, the site technical contacts and support Administrators give or take "
                 "the type Site technical contact.")
NOT_ONESELF = "You cannot give yourself the type Site technical contact or take it from yourself."


def contact_form(email, first_name="Casey", types=("billing",), **changes) -> dict:
    form = {"first_name": first_name, "last_name": "Contact", "phone": "+49 30 901820", "email": email,
            "address": "Unter den Linden 1", "address_line2": "", "city": "Berlin", "subdivision": "DE-BE",
            "postal_code": "10117", "country": "DE", "types": list(types)}
    form.update(changes)
    return form


def build_world(world: World, app) -> dict:
    from models.person import find_person

    for email in (PRIMARY, EDITOR, TECHIE, ADMIN, OTHER, OUTSIDER):
        world.person(email)
    world.person(SQUATTER, verified=False)
    site_a = world.site(PRIMARY, customer="Acme Corp", name="Acme Works")
    world.member(site_a, EDITOR, "secondary", {"contact_updates": 2})
    world.member(site_a, TECHIE, "secondary", {"contact_updates": 2, "support": 2})
    world.member(site_a, ADMIN, "secondary", {"contact_updates": 2, "support": 3})
    world.member(site_a, OTHER, "user", {"support": 1})
    world.member(site_a, SQUATTER, "user", {"support": 1})
    with app.app_context():
        site = db.session.get(Site, site_a)
        primary = find_person(PRIMARY)
        records = {
            "techie": contacts.save_contact(site, primary, contact_form(TECHIE, "Techie", ["technical"]), ["technical"]),
            "editor": contacts.save_contact(site, primary, contact_form(EDITOR, "Eddie"), ["billing"]),
            "other": contacts.save_contact(site, primary, contact_form(OTHER, "Otto"), ["billing"]),
            # Names the unverified account by its login email; and a shared mailbox linked to that account.
            "squatter": contacts.save_contact(site, primary, contact_form(SQUATTER, "Sam"), ["technical"]),
            "linked": contacts.save_contact(site, primary, contact_form("helpdesk@example.com", "Hal"), ["technical"]),
        }
        records["linked"].person_id = find_person(SQUATTER).id
        db.session.execute(sa.update(OutboxMail).values(status="sent", sent_at=utcnow()))
        db.session.commit()
        ids = {"site_a": site_a, "number_a": site.site_number,
               **{f"contact_{name}": record.id for name, record in records.items()}}
        for email in (PRIMARY, EDITOR, TECHIE, ADMIN, OTHER, SQUATTER):
            ids[email] = db.session.scalar(sa.select(Membership.id).join(Membership.person)
                                           .where(Person.email == email, Membership.site_id == site_a))
        for email in (*SIGNED_IN, SQUATTER):
            ids[("person", email)] = find_person(email).id
    return ids


class Helper(SessionHelper):
    def url(self, path=""):
        return f"/sites/{self.a}{path}"

    def state(self):
        """Everything a refused change must leave as it was."""
        def read():
            tools = catalog()
            return (
                {(r.id, r.email, r.person_id, tuple(sorted(t.key for t in r.types)))
                 for r in db.session.scalars(sa.select(ContactRecord))},
                {(m.person_id, m.role, tuple(m.level(t) for t in tools))
                 for m in db.session.scalars(sa.select(Membership))},
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)),
            )
        return self.read(read)

    def nominations(self, email) -> list[tuple[int, str]]:
        """(site id, status) of a person's self-nominations."""
        def read():
            return list(db.session.execute(sa.select(AccessRequest.site_id, AccessRequest.status).where(
                AccessRequest.requester_id == self.ids[("person", email)], AccessRequest.kind == "membership")))
        return self.read(read)

    def attempts(self, email) -> int:
        """The self-nomination attempts counted for a person, read from the database."""
        def read():
            return db.session.scalar(sa.select(sa.func.count()).select_from(ThrottleEvent).where(
                ThrottleEvent.kind == SELF_NOMINATION, ThrottleEvent.key == str(self.ids[("person", email)])))
        return self.read(read)

    def seats(self) -> tuple[int, int]:
        """(secondary contacts, pending secondary invitations) of site A, read from the database."""
        def read():
            members = db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
                Membership.site_id == self.a, Membership.role == "secondary"))
            invited = sum(1 for i in db.session.scalars(sa.select(Invitation).where(
                Invitation.site_id == self.a, Invitation.role == "secondary")) if i.status() == "open")
            return members, invited
        return self.read(read)

    def invitation_id(self, email) -> int:
        def read():
            return db.session.scalar(sa.select(sa.func.max(Invitation.id)).where(Invitation.email == email))
        return self.read(read)

    def types_of(self, contact_id) -> list[str] | None:
        def read():
            record = db.session.get(ContactRecord, contact_id)
            return None if record is None else sorted(t.key for t in record.types)
        return self.read(read)

    def technical(self) -> set[str]:
        """The login emails of the people who are the site's technical contacts."""
        def read():
            ids = technical_contact_ids(self.a)
            return set(db.session.scalars(sa.select(Person.email).where(Person.id.in_(ids)))) if ids else set()
        return self.read(read)

    def may_manage_support(self, email) -> bool:
        """Whether the person opens Support access and sets a support level there (the squatter's, to No access)."""
        self.become(email)
        page = self.get(self.url("/support")).status_code
        change = self.post(self.url(f"/support/{self.ids[SQUATTER]}"), {"level": "0"}).status_code
        assert (page == 200) == (change == 303), (page, change)
        return page == 200


module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, SIGNED_IN, Helper)


def types_error(markup: str, prefix: str) -> str:
    """The message shown next to the Contact types of a form (new contact: prefix "new")."""
    fieldset = re.search(r"<fieldset\b[^>]*>", markup.split(f'id="{prefix}-country"', 1)[1])
    assert fieldset and 'aria-invalid="true"' in fieldset.group(0), "the contact types are not marked invalid"
    assert f'aria-describedby="{prefix}-types-error"' in fieldset.group(0)
    found = re.search(rf'<small id="{prefix}-types-error"[^>]*>(.*?)</small>', markup, re.S)
    assert found, "no message next to the contact types"
    return text(found.group(1))


# --- Medium: a secondary makes themself site technical contact ------------------------------------

def test_a_secondary_with_contact_updates_cannot_make_themself_site_technical_contact(h):
    """The attack of the review: a secondary with Contact updates = Update saves a contact with their own
    login email and the type Site technical contact, and would then manage support levels."""
    assert not h.may_manage_support(EDITOR)
    h.become(EDITOR)
    before = h.state()
    response = h.post(h.url("/contacts"), contact_form(EDITOR, "Eddie", ["technical"]))
    assert response.status_code == 422
    assert types_error(response.get_data(as_text=True), "new") == NOT_A_MANAGER
    assert h.state() == before
    assert EDITOR not in h.technical()
    assert not h.may_manage_support(EDITOR)


# (what, contact record, its new fields or "delete") — each by EDITOR, who manages no support level.
NOT_A_MANAGERS_CHANGE = [
    ("own record gains the type", "editor", contact_form(EDITOR, "Eddie", ["billing", "technical"])),
    ("another's record gains the type", "other", contact_form(OTHER, "Otto", ["billing", "technical"])),
    ("a technical record moves to one's own email", "techie", contact_form(EDITOR, "Techie", ["technical"])),
    ("a technical record moves to another email", "techie", contact_form(OTHER, "Techie", ["technical"])),
    ("a technical record loses the type", "techie", contact_form(TECHIE, "Techie", ["administrative"])),
    ("a technical record is removed", "techie", "delete"),
]


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
@pytest.mark.parametrize("what, record, change", NOT_A_MANAGERS_CHANGE, ids=[c[0] for c in NOT_A_MANAGERS_CHANGE])
def test_only_a_support_manager_gives_or_takes_the_site_technical_contact_type(h, what, record, change, htmx):
    h.become(EDITOR)
    before = h.state()
    cid = h.ids[f"contact_{record}"]
    if change == "delete":
        response = h.post(h.url(f"/contacts/{cid}/delete"), htmx=htmx)
        markup = response.get_data(as_text=True)
        assert NOT_A_MANAGER in text(markup)
        assert re.search(r'<p class="field-error" role="alert">', markup)
    else:
        response = h.post(h.url(f"/contacts/{cid}"), change, htmx=htmx)
        assert types_error(response.get_data(as_text=True), f"c{cid}") == NOT_A_MANAGER
    assert response.status_code == 422
    assert ("<html" in response.get_data(as_text=True)) != htmx
    assert h.state() == before
    assert h.technical() == {TECHIE}


def test_a_change_that_moves_no_rights_needs_no_support_manager(h):
    h.become(EDITOR)
    cid = h.ids["contact_techie"]
    response = h.post(h.url(f"/contacts/{cid}"), contact_form(TECHIE, "Techie", ["technical", "media"],
                                                               city="Potsdam", subdivision="DE-BB",
                                                               postal_code="14467"), htmx=True)
    assert response.status_code == 200
    assert h.types_of(cid) == ["media", "technical"]
    assert h.post(h.url("/contacts"), contact_form("media@example.com", types=["media"])).status_code == 303
    assert h.technical() == {TECHIE}


@pytest.mark.parametrize("who", [PRIMARY, TECHIE, ADMIN])
def test_a_support_manager_gives_and_takes_the_type_of_others(h, who):
    assert not h.may_manage_support(OTHER)
    h.become(who)
    cid = h.ids["contact_other"]
    response = h.post(h.url(f"/contacts/{cid}"), contact_form(OTHER, "Otto", ["billing", "technical"]), htmx=True)
    assert response.status_code == 200
    assert OTHER in h.technical()
    assert h.may_manage_support(OTHER)
    h.become(who)
    assert h.post(h.url(f"/contacts/{cid}"), contact_form(OTHER, "Otto", ["billing"]), htmx=True).status_code == 200
    assert OTHER not in h.technical()
    assert not h.may_manage_support(OTHER)


# (who, what, contact record or None for a new one, its fields or "delete")
ONESELF = [
    (PRIMARY, "a new record with one's own email", None, contact_form(PRIMARY, "Pat", ["technical"])),
    (ADMIN, "a new record with one's own email", None, contact_form(ADMIN, "Ada", ["technical"])),
    (TECHIE, "a new record with one's own email", None, contact_form(TECHIE, "Techie", ["technical", "media"])),
    (ADMIN, "a technical record moved to one's own email", "other", contact_form(ADMIN, "Ada", ["technical"])),
    (TECHIE, "one's own record loses the type", "techie", contact_form(TECHIE, "Techie", ["administrative"])),
    (TECHIE, "one's own record moves to another email", "techie", contact_form(OTHER, "Techie", ["technical"])),
    (TECHIE, "one's own record is removed", "techie", "delete"),
]


@pytest.mark.parametrize("who, what, record, change", ONESELF, ids=[f"{c[0].split('@')[0]}: {c[1]}" for c in ONESELF])
def test_nobody_gives_themself_the_type_or_takes_it_from_themself(h, who, what, record, change):
    if record == "other":  # a technical record first, given by the primary
        h.become(PRIMARY)
        assert h.post(h.url(f"/contacts/{h.ids['contact_other']}"),
                      contact_form(OTHER, "Otto", ["technical"]), htmx=True).status_code == 200
    h.become(who)
    before = h.state()
    technical = h.technical()
    if record is None:
        response = h.post(h.url("/contacts"), change)
        assert types_error(response.get_data(as_text=True), "new") == NOT_ONESELF
    elif change == "delete":
        response = h.post(h.url(f"/contacts/{h.ids['contact_' + record]}/delete"), htmx=True)
        assert NOT_ONESELF in text(response.get_data(as_text=True))
    else:
        cid = h.ids[f"contact_{record}"]
        response = h.post(h.url(f"/contacts/{cid}"), change, htmx=True)
        assert types_error(response.get_data(as_text=True), f"c{cid}") == NOT_ONESELF
    assert response.status_code == 422
    assert h.state() == before and h.technical() == technical


def test_the_rights_follow_only_contact_records_of_verified_accounts(h):
    # The squatter is named by a technical record (by login email) and linked to another one, yet manages nothing.
    assert h.technical() == {TECHIE}
    assert h.read(lambda: [p.email for p in support_managers_of(h.a)]) == [PRIMARY, ADMIN, TECHIE]

    def verify():
        db.session.get(Person, h.ids[("person", SQUATTER)]).email_verified_at = utcnow()
        db.session.commit()
    h.read(verify)
    assert h.technical() == {TECHIE, SQUATTER}


# --- Low 4: self-nomination tells nothing about which site numbers exist ---------------------------

NUMBER_REFUSED = ("We cannot take a request for this site number. Check it with your company's primary contact. "
                  "A request is not taken either for a site you already belong to or have asked for, or after "
                  "5 attempts in 24 hours.")


def nomination(number) -> dict[str, str]:
    return {"site_number": number, "company_name": "Outside Ltd", "first_name": "Olive", "last_name": "Outsider",
            "job_title": "Buyer", "phone": "+44 20 7946 0000", "business_justification": "I buy the licences"}


def answer(response) -> tuple[int, str]:
    """What a refusal tells: its status and its page, without the values typed into the form and the CSRF
    token (signed with the time: it changes from one second to the next)."""
    page = re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))
    return response.status_code, re.sub(r'"X-CSRFToken": "[^"]+"', "", page)


@pytest.mark.parametrize("who, prepare", [
    (EDITOR, None),           # already a member of the site
    (OUTSIDER, "pending"),    # already asked for the site
    (OUTSIDER, "limit"),      # the daily limit reached
], ids=["member", "pending request", "limit reached"])
def test_a_known_number_refused_answers_exactly_as_an_unknown_number(h, who, prepare):
    h.become(who)
    if prepare == "pending":
        assert h.post("/request-access", nomination(h.ids["number_a"])).status_code == 303
        h.get("/my-requests")  # shows (and so ends) the flash message of the request sent
    unknown = h.post("/request-access", nomination("SZ-0000"))
    if prepare == "limit":
        for number in range(DAILY_LIMIT - 1):
            h.post("/request-access", nomination(f"SZ-{number}"))
    refused = h.post("/request-access", nomination(h.ids["number_a"]))
    assert unknown.status_code == 422
    assert answer(refused) == answer(unknown)
    assert NUMBER_REFUSED in text(refused.get_data(as_text=True))
    assert h.nominations(who) == ([(h.a, "pending")] if prepare == "pending" else [])


def test_the_daily_limit_is_reached_with_unknown_numbers_only_and_every_attempt_stays_counted(h):
    h.become(OUTSIDER)
    for number in range(DAILY_LIMIT):
        response = h.post("/request-access", nomination(f"SZ-{number}"))
        assert response.status_code == 422 and NUMBER_REFUSED in text(response.get_data(as_text=True))
    assert h.attempts(OUTSIDER) == DAILY_LIMIT, "a refused attempt is counted in the database all the same"
    refused = h.post("/request-access", nomination(h.ids["number_a"]))
    assert refused.status_code == 422 and NUMBER_REFUSED in text(refused.get_data(as_text=True))
    assert h.nominations(OUTSIDER) == []
    # A day later the attempts no longer count.
    def age():
        db.session.execute(sa.update(ThrottleEvent).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    h.read(age)
    assert h.post("/request-access", nomination(h.ids["number_a"])).status_code == 303
    assert h.nominations(OUTSIDER) == [(h.a, "pending")]


# --- the secondary cap reserves seats for invitations -------------------------------------------------

SEATS_TAKEN = ("All 4 secondary contact seats are taken: 3 secondary contacts and 1 pending invitations to become "
               "one. Revoking an invitation frees its seat.")


def add_form(email, role="secondary") -> dict[str, str]:
    return {"email": email, "role": role, "business_justification": "Helps the primary"}


def role_error(response) -> str:
    markup = response.get_data(as_text=True)
    legend = re.search(r'<fieldset\b([^>]*)>\s*<legend>Role</legend>', markup)
    assert legend and "role-error" in legend.group(1), "the role choice does not point at its message"
    found = re.search(r'<small id="role-error"[^>]*>(.*?)</small>', markup, re.S)
    assert found, "no message next to the role field"
    return text(found.group(1))


def test_a_pending_secondary_invitation_keeps_its_seat_and_the_fifth_is_refused_when_added(h, smtp):
    h.become(PRIMARY)
    assert h.seats() == (3, 0)
    assert h.post(h.url("/members"), add_form("fourth@example.com")).status_code == 303
    assert h.seats() == (3, 1)
    before = h.state(), h.seats()
    for email in ("fifth@example.com", OUTSIDER):  # an invitation, and an existing account added at once
        response = h.post(h.url("/members"), add_form(email))
        assert response.status_code == 422
        assert role_error(response) == SEATS_TAKEN
    # A user promoted inline takes no seat either.
    promoted = h.post(h.url(f"/members/{h.ids[OTHER]}"), {"role": "secondary"}, htmx=True)
    assert promoted.status_code == 422 and SEATS_TAKEN in text(promoted.get_data(as_text=True))
    assert (h.state(), h.seats()) == before
    # A user is still welcome, and the invitee of the fourth seat still gets it.
    assert h.post(h.url("/members"), add_form("user@example.com", "user")).status_code == 303
    mail = smtp.wait_for(1)[0]
    link = link_in(mail, "/invitations/").removeprefix("http://localhost")
    accepted = h.new_client().submit(link, {"first_name": "Fay", "last_name": "Fourth", "password": PASSWORD,
                                            "confirm": PASSWORD})
    assert accepted.status_code == 303
    assert h.seats() == (4, 0)


def test_a_seat_freed_by_a_revoked_invitation_can_be_used_again(h):
    h.become(PRIMARY)
    assert h.post(h.url("/members"), add_form("fourth@example.com")).status_code == 303
    assert h.post(h.url("/members"), add_form(OUTSIDER)).status_code == 422
    revoke = h.post(h.url(f"/invitations/{h.invitation_id('fourth@example.com')}/revoke"))
    assert revoke.status_code == 303
    assert h.seats() == (3, 0)
    assert h.post(h.url("/members"), add_form(OUTSIDER)).status_code == 303
    assert h.seats() == (4, 0)


def test_inviting_the_same_email_again_replaces_its_invitation_and_keeps_its_seat(h):
    h.become(PRIMARY)
    assert h.post(h.url("/members"), add_form("fourth@example.com")).status_code == 303
    first = h.invitation_id("fourth@example.com")
    assert h.post(h.url("/members"), add_form("fourth@example.com")).status_code == 303
    assert h.post(h.url(f"/invitations/{h.invitation_id('fourth@example.com')}/resend")).status_code == 303
    assert h.invitation_id("fourth@example.com") > first
    assert h.seats() == (3, 1)


def test_an_expired_invitation_keeps_no_seat_and_is_not_resent_into_a_full_site(h):
    h.become(PRIMARY)
    assert h.post(h.url("/members"), add_form("fourth@example.com")).status_code == 303
    expired = h.invitation_id("fourth@example.com")

    def expire():
        db.session.execute(sa.update(Invitation).where(Invitation.id == expired)
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    h.read(expire)
    assert h.post(h.url("/members"), add_form(OUTSIDER)).status_code == 303  # the freed seat
    before = h.state(), h.seats()
    response = h.post(h.url(f"/invitations/{expired}/resend"), htmx=True)
    assert response.status_code == 422
    assert "This site already has 4 secondary contacts, the most allowed." in text(response.get_data(as_text=True))
    assert (h.state(), h.seats()) == before
