"""Access requests (SPEC §5, issue 4) through the client: self-nomination and its limits, the approvers'
mail, the Requests page and its badge, approving (role, profile, levels, grant rules), rejecting with a
reason, decision mails, the requester's own list and withdrawal, privilege requests from My access,
authorization, ids of another site, and the audit trail.

Every test gets a copy of one world built once for the module (see module_world_fixtures in
tests/helpers/module_world.py), as in tests/views/test_members.py. The races of two approvers are in
tests/concurrency/test_request_races.py."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import AccessProfile, AccessRequest, AuditEvent, Membership, OutboxMail, Person, Privilege, db
from models import access_request as requests
from models.base import utcnow
from models.throttle import ThrottleEvent
from models.tool import DEFAULT_CATALOG, catalog, tool_by_key
from tests.helpers.matrix import matrix_row
from tests.helpers.apps import join_mail_threads
from tests.helpers.client import Auth
from tests.helpers.module_world import SessionHelper, module_world_fixtures
from tests.helpers.world import World
from tests.helpers.mail import body_text, html_text
from tests.helpers.pages import page_text, page_tree, text
from tests.helpers.times import shown_minute

# Tool ids follow the default catalog: software=1 … support=8.
TOOL = {key: position for position, (key, *_rest) in enumerate(DEFAULT_CATALOG, start=1)}

SITE_A, SITE_B = "SA-1001", "SB-2002"
PRIMARY = "primary@example.com"       # primary of site A
MANAGER = "manager@example.com"       # secondary, Manage access = Update, notification email set, Reporting = None
MANAGER_MAIL = "mia.alerts@example.com"
QUIET = "quiet@example.com"           # secondary, Manage access = Update, no mail about access requests wanted
VIEWER = "viewer@example.com"         # secondary, Manage access = View: not an approver
ALICE = "alice@example.com"           # user of site A (Basic access) with a pending privilege request (Reporting)
BOB = "bob@example.com"               # user of site A, Manage access none: not an approver
FRANK = "frank@example.com"           # has a pending self-nomination for site A
ERIN = "erin@example.com"             # verified account, member of no site, no requests
NEWCOMER = "newcomer@example.com"     # account whose email is not verified yet
PRIMARY_B = "primary.b@example.com"   # primary of site B
GRACE = "grace@example.com"           # has a pending self-nomination for site B

NAMES = {PRIMARY: ("Pat", "Primary"), MANAGER: ("Mia", "Manager"), QUIET: ("Quinn", "Quiet"),
         VIEWER: ("Vic", "Viewer"), ALICE: ("Alice", "Archer"), BOB: ("Bob", "Baker"), FRANK: ("Frank", "Fisher"),
         ERIN: ("Erin", "Example"), PRIMARY_B: ("Bea", "Beta"), GRACE: ("Grace", "Green")}
SIGNED_IN = (PRIMARY, MANAGER, QUIET, VIEWER, ALICE, BOB, FRANK, ERIN, NEWCOMER, PRIMARY_B, GRACE)

# The one answer to every refusal of the site number (issue 10, Low 4): it tells nothing about which numbers exist.
NUMBER_REFUSED = ("We cannot take a request for this site number. Check it with your company's primary contact. "
                  "A request is not taken either for a site you already belong to or have asked for, or after "
                  "5 attempts in 24 hours.")
REASON_LABELS = {
    "unknown_requester": "The requester is unknown",
    "not_required": "The primary contact has determined that access is not required",
    "no_business_relationship": "The requester has no business relationship with this site",
    "other": "Other",
}


def levels(**ranks) -> dict[str, str]:
    """Form fields tool_<id> for {tool_key: rank}."""
    return {f"tool_{TOOL[key]}": str(rank) for key, rank in ranks.items()}


def all_levels(**ranks) -> dict[str, str]:
    """Every level field, as a browser sends the approve form (the ones not named at their lowest)."""
    return {f"tool_{tool_id}": str(ranks.get(key, 0)) for key, tool_id in TOOL.items()}


def nomination(number=SITE_A, **changes) -> dict[str, str]:
    form = {"site_number": number, "company_name": "Example Trading Ltd", "first_name": "Erin",
            "last_name": "Example", "job_title": "Licence buyer", "phone": "+44 20 7946 0000",
            "business_justification": "I order the licences for our plant in Leeds"}
    form.update(changes)
    return form


# --- the world, built once ----------------------------------------------------------------------

def build_world(world: World, app) -> dict:
    from models.person import find_person

    for email, (first, last) in NAMES.items():
        world.person(email, first_name=first, last_name=last)
    world.person(NEWCOMER, verified=False, first_name="Nina", last_name="Newcomer")
    site_a = world.site(PRIMARY, number=SITE_A, customer="Acme Corp", name="Acme Works")
    world.member(site_a, MANAGER, "secondary", {"manage_access": 2, "software": 1, "support": 2})
    world.member(site_a, QUIET, "secondary", {"manage_access": 2})
    world.member(site_a, VIEWER, "secondary", {"manage_access": 1, "reporting": 1})
    world.member(site_a, ALICE, "user", {"software": 1, "support": 1})
    world.member(site_a, BOB, "user", {"reporting": 1})
    site_b = world.site(PRIMARY_B, number=SITE_B, customer="Beta Corp", name="Beta Plant")
    with app.app_context():
        find_person(MANAGER).notification_email = MANAGER_MAIL
        find_person(QUIET).notification_preferences = {"access_requests": False}
        db.session.commit()
        frank = requests.submit_self_nomination(
            find_person(FRANK), SITE_A, "Fisher Logistics",
            {"first_name": "Frank", "last_name": "Fisher", "job_title": "Buyer", "phone": "+1 212 555 0100",
             "email": FRANK}, "Buys our licences")
        alice_membership = db.session.scalar(sa.select(Membership).join(Membership.person)
                                             .where(Person.email == ALICE))
        alice = requests.submit_privilege_request(alice_membership, tool_by_key("reporting"), 1,
                                                  "Reads the quarterly reports")
        grace = requests.submit_self_nomination(find_person(GRACE), SITE_B, "Green Ltd",
                                                {"first_name": "Grace", "last_name": "Green", "email": GRACE},
                                                "Works for Beta")
        # Mail of the world is not what the tests wait for.
        db.session.execute(sa.update(OutboxMail).values(status="sent", sent_at=utcnow()))
        db.session.commit()
        ids = {"site_a": site_a, "site_b": site_b, "frank": frank.id, "alice": alice.id, "grace": grace.id}
        for email in (PRIMARY, MANAGER, QUIET, VIEWER, ALICE, BOB, PRIMARY_B):
            ids[email] = db.session.scalar(sa.select(Membership.id).join(Membership.person)
                                           .where(Person.email == email))
        for site_key in ("site_a", "site_b"):
            for profile in db.session.scalars(sa.select(AccessProfile).where(AccessProfile.site_id == ids[site_key])):
                ids[(site_key, profile.name)] = profile.id
    return ids


class Helper(SessionHelper):
    def url(self, path, site=None):
        return f"/sites/{site or self.a}/{path}"

    def review_url(self, request_id, action="", site=None):
        return self.url(f"requests/{request_id}" + (f"/{action}" if action else ""), site)

    @staticmethod
    def _row(r) -> dict:
        return dict(id=r.id, site_id=r.site_id, requester=r.requester.email, kind=r.kind, status=r.status,
                    decided_by=r.decided_by.email if r.decided_by else None, decided_at=r.decided_at,
                    reason=r.rejection_reason, text=r.rejection_text, justification=r.business_justification,
                    company=r.company_name, details=dict(r.contact_details or {}), tool_id=r.tool_id,
                    rank=r.requested_rank)

    def request_row(self, request_id) -> dict | None:
        def read():
            found = db.session.get(AccessRequest, request_id)
            return None if found is None else self._row(found)
        return self.read(read)

    def requests_of(self, email) -> list[dict]:
        return self.read(lambda: [self._row(r) for r in db.session.scalars(
            sa.select(AccessRequest).join(AccessRequest.requester).where(Person.email == email)
            .order_by(AccessRequest.id))])

    def memberships(self, site=None) -> dict[str, tuple[str, dict[str, int]]]:
        """email → (role, {tool key: rank > 0}) of a site's members, read from the database."""
        def read():
            tools = catalog()
            rows = db.session.scalars(sa.select(Membership).where(Membership.site_id == (site or self.a))).all()
            return {m.person.email: (m.role, {t.key: m.level(t) for t in tools if m.level(t)}) for m in rows}
        return self.read(read)

    def membership(self, email, site=None) -> dict | None:
        def read():
            found = db.session.scalar(sa.select(Membership).join(Membership.person).where(
                Person.email == email, Membership.site_id == (site or self.a)))
            return None if found is None else dict(
                role=found.role, granted_by=found.granted_by.email if found.granted_by else None,
                justification=found.business_justification)
        return self.read(read)

    def outbox(self, template=None) -> list[OutboxMail]:
        def read():
            statement = sa.select(OutboxMail).order_by(OutboxMail.id)
            if template:
                statement = statement.where(OutboxMail.template == template)
            rows = db.session.scalars(statement).all()
            db.session.expunge_all()
            return list(rows)
        return self.read(read)

    def state(self):
        """Everything a refused step must leave as it was, read in one go."""
        def read():
            tools = catalog()
            return (
                {(m.site_id, m.person.email, m.role, tuple(m.level(t) for t in tools))
                 for m in db.session.scalars(sa.select(Membership))},
                {(r.id, r.site_id, r.requester_id, r.kind, r.status, r.decided_by_id, r.rejection_reason,
                  r.rejection_text, r.business_justification) for r in db.session.scalars(sa.select(AccessRequest))},
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)),
            )
        return self.read(read)

    def set(self, model, row_id, **values):
        """Change a row behind the rules' back (to prepare a situation)."""
        with self.app.app_context():
            db.session.execute(sa.update(model).where(model.id == row_id).values(**values))
            db.session.commit()

    def add_secondary(self, email, site=None, **ranks):
        """Make `email` a secondary of a site behind the rules' back."""
        with self.app.app_context():
            person = db.session.scalar(sa.select(Person).where(Person.email == email))
            membership = Membership(site_id=site or self.a, person_id=person.id, role="secondary",
                                    business_justification="test")
            for key, rank in ranks.items():
                membership.privileges.append(Privilege(tool_id=TOOL[key], rank=rank))
            db.session.add(membership)
            db.session.commit()


module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, SIGNED_IN, Helper)


# --- reading pages ------------------------------------------------------------------------------

def field_error(response, field) -> str:
    found = page_tree(response).find("small", id=f"{field}-error", class_="field-error")
    return found.text if found else ""


def request_rows(response) -> list[dict[str, str]]:
    """The rows of the Requests list in page order, with the request id from the review link."""
    rows = []
    for row in page_tree(response).find_all("tr"):
        link = row.find("a", href=lambda value: re.fullmatch(r"/sites/\d+/requests/\d+", value))
        if link is None:
            continue
        requester, kind, sent, status, decided = row.cells()[:5]
        rows.append(dict(id=int(link.get("href").rsplit("/", 1)[1]), requester=requester, kind=kind, sent=sent,
                         status=status, decided=decided))
    return rows


def assert_fragment(response, starts_with):
    body = response.get_data(as_text=True)
    assert "<html" not in body and "<!doctype" not in body.lower(), "htmx got a whole page"
    assert body.lstrip().startswith(starts_with), body[:200]


def assert_full_page(response):
    assert "<html" in response.get_data(as_text=True)


def mails_to(smtp, address):
    return [m for m in smtp.messages if address.lower() in m["To"].lower()]


def settle(smtp, count):
    """Wait for `count` mails, then for every delivery of this test to end: no more arrive."""
    smtp.wait_for(count)
    join_mail_threads()
    assert len(smtp.messages) == count, [(m["To"], m["Subject"]) for m in smtp.messages]
    return list(smtp.messages)


# === self-nomination ==============================================================================

def test_self_nomination_form_has_labelled_fields_prefilled_with_the_name(h):
    h.become(ERIN)
    response = h.client.get("/request-access")
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    for name in ("site_number", "company_name", "first_name", "last_name", "job_title", "phone",
                 "business_justification"):
        assert f'name="{name}"' in markup and f'<label for="{name}"' in markup, name
    assert re.search(r'name="first_name"[^>]*value="Erin"', markup)
    assert re.search(r'name="last_name"[^>]*value="Example"', markup)
    assert "Submit" in markup and ERIN in text(markup)


def test_self_nomination_is_pending_and_mails_the_approvers(h, smtp):
    h.become(ERIN)
    response = h.post("/request-access", nomination(f"  {SITE_A} "))
    assert response.status_code == 303 and response.location == "/my-requests"
    [mine] = h.requests_of(ERIN)
    assert mine["site_id"] == h.a and mine["kind"] == "membership" and mine["status"] == "pending"
    assert mine["company"] == "Example Trading Ltd"
    assert mine["justification"] == "I order the licences for our plant in Leeds"
    assert mine["details"] == {"first_name": "Erin", "last_name": "Example", "job_title": "Licence buyer",
                               "phone": "+44 20 7946 0000", "email": ERIN}
    listed = page_text(h.client.get("/my-requests"))
    assert f"Your request for site {SITE_A} is sent." in listed
    # The primary and the secondaries with Manage access = Update (the manager at her notification email);
    # not the one who asked for no such mail, not the secondary with View, not users, not the requester.
    mails = settle(smtp, 2)
    assert sorted(m["To"] for m in mails) == sorted([PRIMARY, MANAGER_MAIL])
    for mail in mails:
        assert mail["Subject"] == f"Access request for site {SITE_A}"
        body = body_text(mail)
        assert f"Erin Example ({ERIN}, Example Trading Ltd) asks for access to site {SITE_A}, Acme Works." in body
        assert "I order the licences for our plant in Leeds" in body
        assert f"http://localhost/sites/{h.a}/requests/{mine['id']}" in body
        assert "Erin Example" in html_text(mail)
    for nobody in (MANAGER, QUIET, VIEWER, ALICE, BOB, ERIN, PRIMARY_B):
        assert not mails_to(smtp, nobody), nobody


def test_unverified_email_cannot_self_nominate(h):
    h.become(NEWCOMER)
    # An unverified account is a stranger: the whole page is refused with the way to confirm.
    page = h.client.get("/request-access")
    assert page.status_code == 403
    assert "Your email address newcomer@example.com is not confirmed yet" in page_text(page)
    before = h.state()
    response = h.post("/request-access", nomination())
    assert response.status_code == 403
    assert "Send the link again" in page_text(response)
    assert h.state() == before


@pytest.mark.parametrize("number", ["SZ-9999", "sa-1001x", "!!bad number!!", SITE_A.lower() + "-0"],
                         ids=["unknown", "near miss", "malformed", "suffix"])
def test_a_number_problem_is_refused_in_place_with_one_message(h, number):
    """Unknown, malformed: the same words, which tell nothing about which numbers exist."""
    h.become(ERIN)
    before = h.state()
    response = h.post("/request-access", nomination(number))
    assert response.status_code == 422
    assert field_error(response, "site_number") == NUMBER_REFUSED
    markup = response.get_data(as_text=True)
    assert "Acme" not in markup and "Beta" not in markup and SITE_B not in markup
    # The form is shown again as filled in.
    assert 'value="Example Trading Ltd"' in markup
    assert h.state() == before


def test_unknown_and_malformed_numbers_get_the_same_page(h):
    h.become(ERIN)
    pages = []
    for number in ("SZ-9999", "!!bad number!!", SITE_A + "0"):
        body = h.post("/request-access", nomination(number)).get_data(as_text=True)
        pages.append(re.sub(r'value="[^"]*"', "", body))
    assert pages[0] == pages[1] == pages[2]


def test_a_member_cannot_self_nominate_for_their_own_site(h):
    h.become(ALICE)
    before = h.state()
    response = h.post("/request-access", nomination())
    assert response.status_code == 422
    assert field_error(response, "site_number") == NUMBER_REFUSED
    assert h.state() == before


def test_one_pending_request_per_site(h, smtp):
    h.become(FRANK)
    before = h.state()
    again = h.post("/request-access", nomination())
    assert again.status_code == 422
    assert field_error(again, "site_number") == NUMBER_REFUSED
    assert h.state() == before
    # Another site is another matter.
    assert h.post("/request-access", nomination(SITE_B)).status_code == 303
    assert [r["status"] for r in h.requests_of(FRANK)] == ["pending", "pending"]
    # Once the first is withdrawn, site A may be asked again.
    assert h.post(f"/my-requests/{h.ids['frank']}/withdraw").status_code == 303
    assert h.post("/request-access", nomination()).status_code == 303
    assert [(r["site_id"], r["status"]) for r in h.requests_of(FRANK)] == \
        [(h.a, "withdrawn"), (h.b, "pending"), (h.a, "pending")]


def test_daily_limit_with_the_one_answer(h):
    assert requests.DAILY_LIMIT == 5
    h.become(ERIN)
    for _round in range(requests.DAILY_LIMIT):
        assert h.post("/request-access", nomination()).status_code == 303
        [pending] = [r for r in h.requests_of(ERIN) if r["status"] == "pending"]
        assert h.post(f"/my-requests/{pending['id']}/withdraw").status_code == 303
    before = h.state()
    refused = h.post("/request-access", nomination(SITE_B))
    assert refused.status_code == 422
    assert field_error(refused, "site_number") == NUMBER_REFUSED
    assert h.state() == before
    # A day later the oldest attempt no longer counts.
    oldest = h.read(lambda: db.session.scalar(
        sa.select(sa.func.min(ThrottleEvent.id)).join(Person, ThrottleEvent.key == sa.cast(Person.id, sa.String))
        .where(ThrottleEvent.kind == requests.SELF_NOMINATION, Person.email == ERIN)))
    h.set(ThrottleEvent, oldest, created_at=utcnow() - timedelta(hours=24, minutes=1))
    assert h.post("/request-access", nomination(SITE_B)).status_code == 303


@pytest.mark.parametrize("changes, field, message", [
    ({"business_justification": ""}, "business_justification", "This field is required."),
    ({"business_justification": "   "}, "business_justification", "Give a business justification."),
    ({"company_name": ""}, "company_name", "This field is required."),
    ({"site_number": ""}, "site_number", "This field is required."),
    ({"first_name": ""}, "first_name", "This field is required."),
], ids=["no justification", "blank justification", "no company", "no number", "no first name"])
def test_missing_fields_are_refused_in_place(h, changes, field, message):
    h.become(ERIN)
    before = h.state()
    response = h.post("/request-access", nomination(**changes))
    assert response.status_code == 422
    assert message in field_error(response, field)
    assert h.state() == before


def test_signed_out_person_is_sent_to_sign_in(h):
    assert h.client.get("/request-access").status_code == 302
    assert "/sign-in" in h.client.get("/my-requests").location


# === privilege requests from My access ===========================================================

def test_privilege_request_from_my_access_goes_to_the_approvers(h, smtp):
    h.become(ALICE)
    page = h.client.get(h.url("my-access"))
    markup = page.get_data(as_text=True)
    assert f'value="{TOOL["documents"]}:1"' in markup          # a level above hers
    assert f'value="{TOOL["software"]}:1"' not in markup        # held already
    assert f'value="{TOOL["manage_access"]}:1"' not in markup   # secondary contacts only
    assert "Waiting for a decision" in text(markup) and "Reporting: View" in text(markup)
    response = h.post(h.url("my-access/request"), {"wanted": f"{TOOL['documents']}:1",
                                                   "business_justification": "Downloads our invoices"})
    assert response.status_code == 303 and response.location == h.url("my-access")
    [_world, mine] = h.requests_of(ALICE)
    assert (mine["kind"], mine["tool_id"], mine["rank"], mine["status"]) == \
        ("privilege", TOOL["documents"], 1, "pending")
    shown = page_text(h.client.get(h.url("my-access")))
    assert "Your request for Account-related documents is sent" in shown
    assert "Account-related documents: View" in shown
    mails = settle(smtp, 2)
    assert sorted(m["To"] for m in mails) == sorted([PRIMARY, MANAGER_MAIL])
    assert "Alice Archer asks for View on Account-related documents at site SA-1001." in body_text(mails[0])


@pytest.mark.parametrize("wanted, message", [
    (f"{TOOL['manage_access']}:1", "Manage access above None is for secondary contacts only."),
    (f"{TOOL['software']}:1", "Choose a level above the one you hold."),
    (f"{TOOL['software']}:9", "Choose a level above the one you hold."),
    (f"{TOOL['reporting']}:1", "You already asked for a higher level on Reporting."),
    ("99:1", "Choose a tool and a level."),
    ("garbled", "Choose a tool and a level."),
], ids=["secondary only", "held already", "no such level", "pending already", "no such tool", "garbled"])
def test_refused_privilege_requests_write_nothing(h, wanted, message):
    h.become(ALICE)
    before = h.state()
    response = h.post(h.url("my-access/request"), {"wanted": wanted, "business_justification": "Please"})
    assert response.status_code == 422
    assert message in page_text(response)
    assert h.state() == before


def test_privilege_request_needs_a_justification_and_membership(h):
    h.become(ALICE)
    before = h.state()
    response = h.post(h.url("my-access/request"), {"wanted": f"{TOOL['documents']}:1", "business_justification": ""})
    assert response.status_code == 422 and "This field is required." in page_text(response)
    h.become(ERIN)
    assert h.post(h.url("my-access/request"), {"wanted": f"{TOOL['documents']}:1",
                                               "business_justification": "Let me in"}).status_code == 404
    h.become(PRIMARY)
    assert h.post(h.url("my-access/request", h.b), {"wanted": f"{TOOL['documents']}:1",
                                                    "business_justification": "Let me in"}).status_code == 404
    assert h.state() == before


# === the Requests page and its badge =============================================================

def _decide_some(h):
    """Frank's request rejected by the manager (Other, with a text), Erin's new request pending."""
    h.become(MANAGER)
    assert h.post(h.review_url(h.ids["frank"], "reject"),
                  {"reason": "other", "text": "Ask your own IT"}).status_code == 303
    h.become(ERIN)
    assert h.post("/request-access", nomination()).status_code == 303
    return h.requests_of(ERIN)[0]["id"]


def test_requests_page_pending_first_then_decided_with_who_when_why(h):
    erin = _decide_some(h)
    h.become(PRIMARY)
    response = h.client.get(h.url("requests"))
    assert response.status_code == 200
    assert_full_page(response)
    rows = request_rows(response)
    assert [r["id"] for r in rows] == [erin, h.ids["alice"], h.ids["frank"]]
    assert [r["status"] for r in rows] == ["Pending", "Pending", "Rejected"]
    assert rows[0]["requester"] == f"Erin Example {ERIN}" and rows[0]["kind"] == "Access to the site"
    assert rows[1]["kind"] == "Reporting: View"
    decided_at = shown_minute(h.request_row(h.ids["frank"])["decided_at"])
    assert rows[2]["decided"] == f"Mia Manager, {decided_at}: Other (Ask your own IT)"
    assert rows[0]["decided"] == "" and rows[1]["decided"] == ""
    assert "Grace" not in page_text(response)  # site B's request


@pytest.mark.parametrize("query, expected", [
    ({}, ["erin", "alice", "frank"]),
    ({"status": "pending"}, ["erin", "alice"]),
    ({"status": "rejected"}, ["frank"]),
    ({"status": "approved"}, []),
    ({"kind": "privilege"}, ["alice"]),
    ({"kind": "membership"}, ["erin", "frank"]),
    ({"status": "pending", "kind": "membership"}, ["erin"]),
    ({"status": "bogus", "kind": "bogus"}, ["erin", "alice", "frank"]),
], ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None)
def test_filter_by_status_and_type_as_fragment_and_as_page(h, query, expected):
    ids = {"erin": _decide_some(h), "alice": h.ids["alice"], "frank": h.ids["frank"]}
    h.become(PRIMARY)
    fragment = h.client.htmx_get(h.url("requests"), query_string=query)
    assert fragment.status_code == 200
    assert_fragment(fragment, '<div id="request-list"')
    assert "HX-Request" in fragment.headers.get("Vary", "")
    assert [r["id"] for r in request_rows(fragment)] == [ids[name] for name in expected]
    if not expected:
        assert "No requests match these filters." in page_text(fragment)
    page = h.client.get(h.url("requests"), query_string=query)
    assert page.status_code == 200
    assert_full_page(page)
    assert [r["id"] for r in request_rows(page)] == [ids[name] for name in expected]
    markup = page.get_data(as_text=True)
    for name in ("status", "kind"):
        if query.get(name) in ("pending", "rejected", "approved", "privilege", "membership"):
            assert f'<option value="{query[name]}" selected>' in markup


def test_badge_counts_pending_requests(h):
    h.become(PRIMARY)
    badge = h.client.htmx_get(h.url("requests/badge"))
    assert badge.status_code == 200
    assert_fragment(badge, '<span id="requests-badge"')
    assert 'aria-label="2 pending requests">2</mark>' in badge.get_data(as_text=True)
    start = h.client.get(h.url("")).get_data(as_text=True)
    assert 'id="requests-badge"' in start and ">2</mark>" in start   # in the navigation
    h.become(ERIN)
    h.post("/request-access", nomination())
    h.become(MANAGER)
    assert ">3</mark>" in h.client.get(h.url("requests/badge")).get_data(as_text=True)
    for request_id in (h.ids["frank"], h.ids["alice"]):
        h.post(h.review_url(request_id, "reject"), {"reason": "unknown_requester"})
    assert 'aria-label="1 pending request">1</mark>' in h.client.htmx_get(h.url("requests/badge")).get_data(
        as_text=True)
    [erin] = h.requests_of(ERIN)
    h.post(h.review_url(erin["id"], "reject"), {"reason": "not_required"})
    emptied = h.client.htmx_get(h.url("requests/badge")).get_data(as_text=True)
    assert "<mark" not in emptied and 'id="requests-badge"' in emptied
    # Site B's pending request counts on site B only.
    h.become(PRIMARY_B)
    assert ">1</mark>" in h.client.get(h.url("requests/badge", h.b)).get_data(as_text=True)


def test_navigation_offers_requests_to_approvers_only(h):
    for who, shown in ((PRIMARY, True), (MANAGER, True), (VIEWER, False), (ALICE, False)):
        h.become(who)
        markup = h.client.get(h.url("")).get_data(as_text=True)
        assert (f'href="/sites/{h.a}/requests"' in markup) == shown, who
        assert ('id="requests-badge"' in markup) == shown, who


# === reviewing and approving ======================================================================

def test_review_shows_the_requesters_details_and_both_decisions(h):
    h.become(PRIMARY)
    response = h.client.get(h.review_url(h.ids["frank"]))
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    shown = text(markup)
    for expected in ("Request from Frank Fisher", f"Login email {FRANK} (confirmed)", "Company name Fisher Logistics",
                     "Name given Frank Fisher", "Job title Buyer", "Phone +1 212 555 0100",
                     "Business justification Buys our licences", "Status Pending"):
        assert expected in shown, expected
    assert 'name="role"' in markup and 'value="secondary"' in markup and 'value="user"' in markup
    basic = h.ids[("site_a", "Basic access")]
    assert re.search(rf'<option selected value="{basic}">|<option value="{basic}" selected', markup), \
        "no profile pre-selected"
    # The levels of the pre-selected profile (Basic access: Downloads only, support Basic), editable.
    assert matrix_row(markup, "levels", TOOL["software"])["checked"] == 1
    assert matrix_row(markup, "levels", TOOL["support"])["checked"] == 1
    for label in REASON_LABELS.values():
        assert label in shown
    assert shown.count("Approve") >= 2 and shown.count("Reject") >= 2
    # The justification field is offered only when none was given.
    assert 'name="business_justification"' not in markup


def test_approve_with_role_profile_and_edited_levels_gives_access_at_the_next_request(h, smtp):
    frank = h.become(FRANK, h.new_client())
    assert frank.get(h.url("")).status_code == 404     # not yet
    h.become(PRIMARY)
    reporting = h.ids[("site_a", "Reporting access")]
    form = {"role": "user", "profile_id": str(reporting),
            **all_levels(reporting=1, entitlements=1, allocation=1, documents=1, support=1, software=2)}
    response = h.post(h.review_url(h.ids["frank"], "approve"), form)
    assert response.status_code == 303 and response.location == h.url("requests")
    assert "Approved: Frank Fisher has what was asked for" in page_text(h.client.get(h.url("requests")))
    assert h.memberships()[FRANK] == ("user", {"reporting": 1, "entitlements": 1, "allocation": 1, "documents": 1,
                                               "support": 1, "software": 2})
    membership = h.membership(FRANK)
    assert membership["granted_by"] == PRIMARY and membership["justification"] == "Buys our licences"
    row = h.request_row(h.ids["frank"])
    assert (row["status"], row["decided_by"]) == ("approved", PRIMARY) and row["decided_at"] is not None
    # The very next request of Frank's open session reaches the site; My access shows the levels.
    assert frank.get(h.url("")).status_code == 200
    mine = frank.get(h.url("my-access"))
    assert mine.status_code == 200
    shown = {text(tool): text(level) for tool, level in
             re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', mine.get_data(as_text=True), re.S)}
    assert shown["Reporting"] == "View" and shown["Software and services (purchase and download)"] == \
        "Downloads and media" and shown["Manage access"] == "None"
    assert "Your role on this site: User" in page_text(mine)
    [mail] = settle(smtp, 1)
    assert mail["To"] == FRANK and mail["Subject"] == f"Your access request for site {SITE_A} is approved"
    assert f"Your request for site {SITE_A}, Acme Works, is approved." in body_text(mail)
    assert f"http://localhost/sites/{h.a}/" in body_text(mail)
    # The list shows who decided, and the request is no longer pending.
    assert [r["status"] for r in request_rows(h.client.get(h.url("requests")))
            if r["id"] == h.ids["frank"]] == ["Approved"]
    assert [r["status"] for r in h.requests_of(FRANK)] == ["approved"]


def test_approve_with_a_profile_alone_sets_its_levels(h):
    h.become(PRIMARY)
    response = h.post(h.review_url(h.ids["frank"], "approve"),
                      {"role": "user", "profile_id": str(h.ids[("site_a", "Reporting access")])})
    assert response.status_code == 303
    assert h.memberships()[FRANK] == ("user", {"reporting": 1, "entitlements": 1, "allocation": 1, "documents": 1,
                                               "support": 1})


def test_an_approval_sent_before_the_profile_filled_the_matrix_saves_the_profile(h):
    """Issue 13: the approver chose Reporting access and pressed Approve before the levels showed it;
    the form says no level was set by hand, so the profile's levels are granted."""
    h.become(PRIMARY)
    form = {"role": "user", "profile_id": str(h.ids[("site_a", "Reporting access")]), **all_levels(software=1),
            "manual": ""}
    response = h.post(h.review_url(h.ids["frank"], "approve"), form)
    assert response.status_code == 303, page_text(response)
    assert h.memberships()[FRANK] == ("user", {"reporting": 1, "entitlements": 1, "allocation": 1, "documents": 1,
                                               "support": 1})


def test_approve_as_secondary_with_manage_access(h):
    h.become(PRIMARY)
    response = h.post(h.review_url(h.ids["frank"], "approve"),
                      {"role": "secondary", **all_levels(manage_access=2, contact_updates=1, reporting=1)})
    assert response.status_code == 303
    assert h.memberships()[FRANK] == ("secondary", {"manage_access": 2, "contact_updates": 1, "reporting": 1})


def test_justification_is_asked_for_when_none_was_given(h):
    h.set(AccessRequest, h.ids["frank"], business_justification="")
    h.become(PRIMARY)
    review = h.client.get(h.review_url(h.ids["frank"]))
    assert 'name="business_justification"' in review.get_data(as_text=True)
    assert "Business justification none given" in page_text(review)
    before = h.state()
    refused = h.post(h.review_url(h.ids["frank"], "approve"), {"role": "user", **all_levels(software=1)})
    assert refused.status_code == 422 and "Give a business justification." in page_text(refused)
    assert h.state() == before
    approved = h.post(h.review_url(h.ids["frank"], "approve"),
                      {"role": "user", "business_justification": "Confirmed by phone with Frank's manager",
                       **all_levels(software=1)})
    assert approved.status_code == 303
    assert h.membership(FRANK)["justification"] == "Confirmed by phone with Frank's manager"
    assert h.request_row(h.ids["frank"])["justification"] == "Confirmed by phone with Frank's manager"


@pytest.mark.parametrize("actor, form, message", [
    (PRIMARY, {"role": "user", **levels(manage_access=1)}, "Manage access above None is for secondary contacts only."),
    (PRIMARY, {"role": "user", **levels(contact_updates=2)},
     "Contact updates above None is for secondary contacts only."),
    (PRIMARY, {"role": "user", **levels(reporting=4)}, "Reporting has no such level."),
    (PRIMARY, {"role": "primary"}, "Not a valid choice."),
    (PRIMARY, {"role": "user", "profile_id": "{b_profile}"}, "Choose one of this site's profiles."),
    (PRIMARY, {"role": "user", "profile_id": "garbled"}, "Choose one of this site's profiles."),
    (PRIMARY, {"role": "user", "tool_1": "x"}, "Choose a level."),
    (MANAGER, {"role": "user", **levels(reporting=1)}, "You cannot grant View on Reporting: it is above your own level."),
    (MANAGER, {"role": "user", "profile_id": "{full}"}, "it is above your own level."),
    (MANAGER, {"role": "user", **levels(support=3)},
     "You cannot grant Administrator on Support cases: it is above your own level."),
    (MANAGER, {"role": "secondary", **levels(contact_updates=1)},
     "You cannot grant View on Contact updates: it is above your own level."),
], ids=["user with manage access", "user with contact updates", "no such level", "primary role",
        "profile of site B", "garbled profile", "garbled level", "above own reporting", "profile above own",
        "above own support", "above own contact updates"])
def test_approve_refusals_are_shown_in_place_and_change_nothing(h, smtp, actor, form, message):
    ids = {"b_profile": h.ids[("site_b", "Basic access")], "full": h.ids[("site_a", "Full access")]}
    form = {key: value.format(**ids) for key, value in form.items()}
    h.become(actor)
    before = h.state()
    response = h.post(h.review_url(h.ids["frank"], "approve"), form)
    assert response.status_code == 422, page_text(response)[:500]
    assert message in page_text(response)
    if "profile_id" in form and "profile" in message:
        assert field_error(response, "profile_id") == message   # next to the field it concerns
    assert "Request from Frank Fisher" in page_text(response)   # the review, shown again
    assert h.state() == before
    assert h.request_row(h.ids["frank"])["status"] == "pending"
    join_mail_threads()
    assert not smtp.messages


def test_fifth_secondary_is_refused_on_approval(h, smtp):
    h.add_secondary(ERIN)      # the 4th
    h.become(PRIMARY)
    before = h.state()
    response = h.post(h.review_url(h.ids["frank"], "approve"), {"role": "secondary", **all_levels(software=1)})
    assert response.status_code == 422
    assert "This site already has 4 secondary contacts, the most allowed." in page_text(response)
    assert h.state() == before
    # As a user it goes through.
    assert h.post(h.review_url(h.ids["frank"], "approve"),
                  {"role": "user", **all_levels(software=1)}).status_code == 303
    assert h.memberships()[FRANK] == ("user", {"software": 1})


def test_a_requester_who_became_a_member_meanwhile_is_not_added_twice(h):
    h.add_secondary(FRANK)
    h.become(PRIMARY)
    before = h.state()
    response = h.post(h.review_url(h.ids["frank"], "approve"), {"role": "user"})
    assert response.status_code == 422 and "Frank Fisher is already a member of this site." in page_text(response)
    assert h.state() == before


# === privilege requests: approve raises exactly that level =======================================

def test_privilege_request_approved_raises_exactly_that_level(h, smtp):
    h.become(PRIMARY)
    review = h.client.get(h.review_url(h.ids["alice"]))
    assert "Asked for Reporting: View" in page_text(review)
    assert "Approving sets Reporting to View." in page_text(review)
    # Whatever levels a crafted form carries, only the asked-for level changes.
    response = h.post(h.review_url(h.ids["alice"], "approve"),
                      {"role": "secondary", **all_levels(software=3, manage_access=2)})
    assert response.status_code == 303
    assert h.memberships()[ALICE] == ("user", {"software": 1, "support": 1, "reporting": 1})
    [mail] = settle(smtp, 1)
    assert mail["To"] == ALICE and "You now hold View on Reporting." in body_text(mail)
    alice = h.become(ALICE, h.new_client())
    shown = page_text(alice.get(h.url("my-access")))
    assert "Reporting View" in shown and "Waiting for a decision" not in shown
    [event] = h.audit("request.approved")
    assert event.after["status"] == "approved" and event.after["tool"] == "reporting"


def test_privilege_above_the_approvers_own_level_is_refused(h):
    h.become(MANAGER)      # Reporting = None
    before = h.state()
    response = h.post(h.review_url(h.ids["alice"], "approve"), {})
    assert response.status_code == 422
    assert "You cannot grant View on Reporting: it is above your own level." in page_text(response)
    assert h.state() == before


def test_nobody_approves_their_own_privilege_request(h):
    h.become(MANAGER)
    assert h.post(h.url("my-access/request"), {"wanted": f"{TOOL['software']}:2",
                                               "business_justification": "Media too"}).status_code == 303
    [mine] = h.requests_of(MANAGER)
    before = h.state()
    response = h.post(h.review_url(mine["id"], "approve"), {})
    assert response.status_code == 422 and "You cannot decide your own request." in page_text(response)
    assert h.state() == before
    h.become(PRIMARY)
    assert h.post(h.review_url(mine["id"], "approve"), {}).status_code == 303
    assert h.memberships()[MANAGER][1]["software"] == 2


# === rejecting ===================================================================================

@pytest.mark.parametrize("form, field, message", [
    ({}, "reason", "Choose a reason."),
    ({"reason": "bogus"}, "reason", "Choose a reason."),
    ({"reason": "other"}, "text", "Say why, when the reason is Other."),
    ({"reason": "other", "text": "   "}, "text", "Say why, when the reason is Other."),
], ids=["no reason", "unknown reason", "other without text", "other with blanks"])
def test_reject_requires_a_reason_and_other_a_text(h, smtp, form, field, message):
    h.become(PRIMARY)
    before = h.state()
    response = h.post(h.review_url(h.ids["frank"], "reject"), form)
    assert response.status_code == 422
    assert message in page_text(response)
    assert h.state() == before
    join_mail_threads()
    assert not smtp.messages


@pytest.mark.parametrize("reason, extra", [
    ("unknown_requester", ""),
    ("not_required", ""),
    ("no_business_relationship", "We do not know Fisher Logistics"),
    ("other", "Your company has its own site, SA-3003"),
])
def test_rejection_mails_the_decision_and_the_reason(h, smtp, reason, extra):
    h.become(MANAGER)
    response = h.post(h.review_url(h.ids["frank"], "reject"), {"reason": reason, "text": extra})
    assert response.status_code == 303 and response.location == h.url("requests")
    assert "Rejected; we mailed Frank Fisher the reason." in page_text(h.client.get(h.url("requests")))
    row = h.request_row(h.ids["frank"])
    assert (row["status"], row["decided_by"], row["reason"], row["text"]) == \
        ("rejected", MANAGER, reason, extra or None)
    [mail] = settle(smtp, 1)
    assert mail["To"] == FRANK and mail["Subject"] == f"Your access request for site {SITE_A} is rejected"
    for part in (body_text(mail), text(html_text(mail))):
        assert f"Your request for site {SITE_A}, Acme Works, is rejected." in part
        assert f"Reason: {REASON_LABELS[reason]}" in part
        assert extra in part
    assert FRANK not in h.memberships()
    frank = h.become(FRANK, h.new_client())
    assert frank.get(h.url("")).status_code == 404
    mine = page_text(frank.get("/my-requests"))
    assert "Rejected" in mine and REASON_LABELS[reason] in mine and extra in mine


def test_a_decided_request_is_not_decided_again(h, smtp):
    h.become(PRIMARY)
    assert h.post(h.review_url(h.ids["frank"], "reject"), {"reason": "unknown_requester"}).status_code == 303
    settle(smtp, 1)
    before = h.state()
    h.become(MANAGER)
    review = h.client.get(h.review_url(h.ids["frank"]))
    assert review.status_code == 200
    assert "This request was already decided by Pat Primary (Rejected)." in page_text(review)
    assert 'action="/sites/%d/requests/%d/approve"' % (h.a, h.ids["frank"]) not in review.get_data(as_text=True)
    for action, form in (("approve", {"role": "user"}), ("reject", {"reason": "not_required"})):
        response = h.post(h.review_url(h.ids["frank"], action), form)
        assert response.status_code == 409
        assert "This request was already decided by Pat Primary (Rejected)." in page_text(response)
    assert h.state() == before
    join_mail_threads()
    assert len(smtp.messages) == 1


# === the requester's own requests and withdrawal ==================================================

def test_my_requests_lists_own_requests_with_status(h):
    h.become(FRANK)
    assert h.post("/request-access", nomination(SITE_B)).status_code == 303
    response = h.client.get("/my-requests")
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    shown = text(markup)
    assert f"{SITE_A} · Acme Works" in shown and f"{SITE_B} · Beta Plant" in shown
    assert shown.count("Pending") == 2 and markup.count("/withdraw") == 2
    assert "Grace" not in shown and "Alice" not in shown
    h.become(ERIN)
    assert "You have not asked for access yet." in page_text(h.client.get("/my-requests"))
    h.become(ALICE)
    assert "Reporting: View" in page_text(h.client.get("/my-requests"))


def test_withdrawn_request_cannot_be_decided(h, smtp):
    h.become(FRANK)
    response = h.post(f"/my-requests/{h.ids['frank']}/withdraw")
    assert response.status_code == 303 and response.location == "/my-requests"
    mine = h.client.get("/my-requests")
    assert "Your request is withdrawn." in page_text(mine) and "Withdrawn" in page_text(mine)
    assert "/withdraw" not in mine.get_data(as_text=True)
    assert h.request_row(h.ids["frank"])["status"] == "withdrawn"
    h.become(PRIMARY)
    assert ">1</mark>" in h.client.get(h.url("requests/badge")).get_data(as_text=True)
    before = h.state()
    for action, form in (("approve", {"role": "user", **all_levels(software=1)}), ("reject", {"reason": "other",
                                                                                              "text": "Late"})):
        refused = h.post(h.review_url(h.ids["frank"], action), form)
        assert refused.status_code == 409
        assert "The requester withdrew this request." in page_text(refused)
    assert h.state() == before
    assert FRANK not in h.memberships()
    join_mail_threads()
    assert not smtp.messages
    # Withdrawing again tells why and changes nothing.
    h.become(FRANK)
    again = h.post(f"/my-requests/{h.ids['frank']}/withdraw")
    assert again.status_code == 303
    assert "The requester withdrew this request." in page_text(h.client.get("/my-requests"))
    assert h.state() == before


def test_a_decided_request_cannot_be_withdrawn(h):
    h.become(PRIMARY)
    h.post(h.review_url(h.ids["frank"], "reject"), {"reason": "unknown_requester"})
    before = h.state()
    h.become(FRANK)
    response = h.post(f"/my-requests/{h.ids['frank']}/withdraw")
    assert response.status_code == 303
    assert "already decided by Pat Primary" in page_text(h.client.get("/my-requests"))
    assert h.state() == before


@pytest.mark.parametrize("actor, request_key", [(ERIN, "frank"), (PRIMARY, "frank"), (ALICE, "frank"),
                                                (FRANK, "grace"), (FRANK, "alice")])
def test_nobody_withdraws_another_persons_request(h, actor, request_key):
    h.become(actor)
    before = h.state()
    assert h.post(f"/my-requests/{h.ids[request_key]}/withdraw").status_code == 404
    assert h.post("/my-requests/999999/withdraw").status_code == 404
    assert h.state() == before


# === authorization ===============================================================================

APPROVER_ROUTES = [
    ("GET", "requests", {}, False),
    ("GET", "requests", {}, True),
    ("GET", "requests/badge", {}, True),
    ("GET", "requests/{frank}", {}, False),
    ("POST", "requests/{frank}/approve", {"role": "user", "tool_1": "1"}, False),
    ("POST", "requests/{alice}/approve", {}, False),
    ("POST", "requests/{frank}/reject", {"reason": "unknown_requester"}, False),
    ("POST", "requests/{alice}/reject", {"reason": "other", "text": "No"}, False),
]
ROUTE_IDS = ["list", "list htmx", "badge", "review", "approve", "approve privilege", "reject", "reject privilege"]


@pytest.mark.parametrize("actor", [VIEWER, ALICE, BOB], ids=["secondary with View", "user", "user with reporting"])
@pytest.mark.parametrize("method, path, form, htmx", APPROVER_ROUTES, ids=ROUTE_IDS)
def test_members_without_manage_access_update_get_403(h, actor, method, path, form, htmx):
    h.become(actor)
    before = h.state()
    url = h.url(path.format(frank=h.ids["frank"], alice=h.ids["alice"]))
    if method == "GET":
        response = h.client.htmx_get(url) if htmx else h.client.get(url)
    else:
        response = h.post(url, form, htmx=htmx)
    assert response.status_code == 403
    assert "Frank" not in page_text(response)
    assert h.state() == before


@pytest.mark.parametrize("actor", [ERIN, FRANK, PRIMARY_B], ids=["no site", "requester", "other site's primary"])
@pytest.mark.parametrize("method, path, form, htmx", APPROVER_ROUTES, ids=ROUTE_IDS)
def test_non_members_get_404(h, actor, method, path, form, htmx):
    h.become(actor)
    before = h.state()
    url = h.url(path.format(frank=h.ids["frank"], alice=h.ids["alice"]))
    if method == "GET":
        response = h.client.htmx_get(url) if htmx else h.client.get(url)
    else:
        response = h.post(url, form, htmx=htmx)
    assert response.status_code == 404
    assert "Acme" not in page_text(response)
    assert h.state() == before


@pytest.mark.parametrize("method, path, form, htmx", APPROVER_ROUTES, ids=ROUTE_IDS)
def test_signed_out_is_sent_to_sign_in(h, method, path, form, htmx):
    before = h.state()
    url = h.url(path.format(frank=h.ids["frank"], alice=h.ids["alice"]))
    if method == "GET":
        response = h.client.htmx_get(url) if htmx else h.client.get(url)
    else:
        response = h.client.submit(url, form, htmx=htmx)
    assert response.status_code == (401 if htmx else 303 if method == "POST" else 302)
    assert h.state() == before


@pytest.mark.parametrize("actor", [PRIMARY, MANAGER])
@pytest.mark.parametrize("method, path, form", [
    ("GET", "requests/{grace}", {}),
    ("POST", "requests/{grace}/approve", {"role": "user", "tool_1": "1"}),
    ("POST", "requests/{grace}/reject", {"reason": "other", "text": "Taken over"}),
    ("POST", "requests/{grace}/approve", {"role": "secondary"}),
    ("GET", "requests/999999", {}),
    ("POST", "requests/999999/reject", {"reason": "unknown_requester"}),
], ids=["review", "approve", "reject", "approve as secondary", "no such review", "no such reject"])
def test_another_sites_request_by_changing_the_id_is_404_and_changes_nothing(h, actor, method, path, form):
    h.become(actor)
    before = h.state()
    url = h.url(path.format(grace=h.ids["grace"]))
    response = h.client.get(url) if method == "GET" else h.post(url, form)
    assert response.status_code == 404
    assert "Grace" not in page_text(response)
    assert h.state() == before
    assert h.request_row(h.ids["grace"])["status"] == "pending"


@pytest.mark.parametrize("method, path, form", [
    ("GET", "requests/{frank}", {}),
    ("POST", "requests/{frank}/approve", {"role": "user", "tool_1": "1"}),
    ("POST", "requests/{frank}/reject", {"reason": "unknown_requester"}),
    ("GET", "requests", {}),
    ("GET", "requests/badge", {}),
], ids=["review", "approve", "reject", "list", "badge"])
def test_site_b_primary_cannot_reach_site_a_requests_through_site_b(h, method, path, form):
    """Site B's primary puts site A's request id under site B's URL: 404 (or B's own page), A untouched."""
    h.become(PRIMARY_B)
    before = h.state()
    url = h.url(path.format(frank=h.ids["frank"]), h.b)
    response = h.client.get(url) if method == "GET" else h.post(url, form)
    if "{frank}" in path:
        assert response.status_code == 404
    else:
        assert response.status_code == 200
    assert "Frank" not in page_text(response) and "Alice" not in page_text(response)
    assert h.state() == before


def test_an_operator_cannot_decide(h, world):
    world.operator("ops@example.com")
    operator = h.new_client()
    Auth(operator).sign_in("ops@example.com")
    before = h.state()
    assert operator.get(h.url("requests")).status_code == 403
    assert operator.submit(h.review_url(h.ids["frank"], "approve"), {"role": "user"}).status_code == 403
    assert h.state() == before


# === the audit trail =============================================================================

def test_every_step_writes_an_audit_event(h):
    known = {e.id for e in h.audit()} | {e.id for e in h.audit(site=h.b)}
    h.become(ERIN)
    h.post("/request-access", nomination())
    [erin] = h.requests_of(ERIN)
    h.become(ALICE)
    h.post(h.url("my-access/request"), {"wanted": f"{TOOL['documents']}:1", "business_justification": "Invoices"})
    h.become(FRANK)
    h.post(f"/my-requests/{h.ids['frank']}/withdraw")
    h.become(PRIMARY)
    assert h.post(h.review_url(erin["id"], "approve"), {"role": "user", **all_levels(software=1)}).status_code \
        == 303
    assert h.post(h.review_url(h.ids["alice"], "reject"), {"reason": "other", "text": "Use the shared report"}) \
        .status_code == 303
    events = [e for e in h.audit() if e.id not in known and e.action.startswith("request.")]
    summary = [(e.action, e.actor_label, e.target_type, e.target_id, e.target_label) for e in events]
    alice_new = h.requests_of(ALICE)[-1]["id"]
    assert summary == [
        ("request.submitted", ERIN, "access_request", erin["id"], ERIN),
        ("request.submitted", ALICE, "access_request", alice_new, ALICE),
        ("request.withdrawn", FRANK, "access_request", h.ids["frank"], FRANK),
        ("request.approved", PRIMARY, "access_request", erin["id"], ERIN),
        ("request.rejected", PRIMARY, "access_request", h.ids["alice"], ALICE),
    ]
    submitted, privilege, withdrawn, approved, rejected = events
    assert submitted.after == {"kind": "membership", "company_name": "Example Trading Ltd",
                               "justification": "I order the licences for our plant in Leeds"}
    assert privilege.after == {"kind": "privilege", "tool": "documents", "level": "View", "justification": "Invoices"}
    assert withdrawn.before == {"status": "pending"} and withdrawn.after == {"status": "withdrawn"}
    assert approved.before == {"status": "pending"}
    assert approved.after["status"] == "approved" and approved.after["role"] == "user"
    assert approved.after["levels"]["software"] == 1
    assert rejected.after == {"status": "rejected", "reason": "other", "text": "Use the shared report"}
    assert all(e.site_id == h.a for e in events)
    assert not [e for e in h.audit(site=h.b) if e.id not in known]


def test_refused_steps_write_no_audit_event(h):
    count = len(h.audit())
    h.become(ERIN)
    h.post("/request-access", nomination("SZ-0000"))
    h.become(PRIMARY)
    h.post(h.review_url(h.ids["frank"], "reject"), {"reason": "other"})
    h.post(h.review_url(h.ids["frank"], "approve"), {"role": "user", **levels(manage_access=1)})
    h.become(VIEWER)
    h.post(h.review_url(h.ids["frank"], "reject"), {"reason": "unknown_requester"})
    assert len(h.audit()) == count
