"""Support access (SPEC §7) through the client: who manages a site's support levels (the primary, the site
technical contacts, support Administrators), the Support access page and its row saves (htmx and not),
every grant rule, the support level kept out of reach of Manage-access approvers (User list, Add new user,
bulk profiles, approving a membership request), and the requests for a higher support level: their mail,
their place apart from the Requests list, their decision by a support manager, the audit trail.

Every test gets a copy of one world built once for the module (see module_world_fixtures in
tests/helpers/module_world.py), as in tests/views/test_requests.py."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models import AccessProfile, AccessRequest, AuditEvent, Invitation, Membership, OutboxMail, Person, Site, db
from models import access_request as requests
from models.base import utcnow
from models.tool import DEFAULT_CATALOG, catalog, tool_by_key
from tests.helpers.matrix import matrix_row
from tests.helpers.apps import join_mail_threads
from tests.helpers.module_world import SessionHelper, module_world_fixtures
from tests.helpers.world import World
from tests.helpers.mail import body_text, html_text
from tests.helpers.pages import page_text, page_tree, table_after, text

# Tool ids follow the default catalog: software=1 … support=8.
TOOL = {key: position for position, (key, *_rest) in enumerate(DEFAULT_CATALOG, start=1)}
SUPPORT = TOOL["support"]
LEVEL = {0: "No access", 1: "Basic", 2: "Full", 3: "Administrator"}

SITE_A, SITE_B = "SA-1001", "SB-2002"
PRIMARY = "primary@example.com"         # primary of site A
TECH = "tina.tech@example.com"          # user, Support = Full; site technical contact by her login email
TOM = "tom.tech@example.com"            # user, Support = Basic; site technical contact by the record's person link
ADMIN = "ada.admin@example.com"         # user, Support = Administrator; notification email set
ADMIN_MAIL = "ada.alerts@example.com"
QUIET = "quinn.quiet@example.com"       # user, Support = Administrator; wants no mail about access requests
MANAGER = "mia.manager@example.com"     # secondary, Manage access = Update, Support = Full: not a support manager
MANAGER_MAIL = "mia.alerts@example.com"  # her notification email, named by a technical contact record (not her login)
ALICE = "alice@example.com"             # user, Basic support; a pending request for Full support
BOB = "bob@example.com"                 # user, Reporting = View, no support; a pending request for Documents = View;
                                        # a billing contact by his login email
CAROL = "carol@example.com"             # user, Full support
FRANK = "frank@example.com"             # pending self-nomination for site A
ERIN = "erin@example.com"               # an account, member of no site
PRIMARY_B = "primary.b@example.com"     # primary of site B
BEN = "ben@example.com"                 # user of site B, Basic support, a pending request for Full there
OPERATOR = "ops@example.com"

NAMES = {PRIMARY: ("Pat", "Primary"), TECH: ("Tina", "Tech"), TOM: ("Tom", "Tech"), ADMIN: ("Ada", "Admin"),
         QUIET: ("Quinn", "Quiet"), MANAGER: ("Mia", "Manager"), ALICE: ("Alice", "Archer"), BOB: ("Bob", "Baker"),
         CAROL: ("Carol", "Clark"), FRANK: ("Frank", "Fisher"), ERIN: ("Erin", "Example"),
         PRIMARY_B: ("Bea", "Beta"), BEN: ("Ben", "Other")}
SIGNED_IN = (PRIMARY, TECH, TOM, ADMIN, QUIET, MANAGER, ALICE, BOB, CAROL, FRANK, ERIN, PRIMARY_B, BEN, OPERATOR)
SUPPORT_MANAGERS = (PRIMARY, TECH, TOM, ADMIN, QUIET)

NOT_YOURS = ("Support levels are set by the primary contact, the site technical contacts and support "
             "Administrators.")
HINT = "Set by the primary contact, the site technical contacts and support Administrators."
SUPPORT_SENT = ("Your request for Support cases is sent to the site technical contacts, support Administrators "
                "and the primary contact.")


def levels(**ranks) -> dict[str, str]:
    """Form fields tool_<id> for {tool_key: rank}."""
    return {f"tool_{TOOL[key]}": str(rank) for key, rank in ranks.items()}


def address(**changes) -> dict[str, str]:
    fields = {"first_name": "Tina", "last_name": "Tech", "phone": "+49 30 1234567", "email": TECH,
              "address": "Hauptstr. 1", "city": "Berlin", "subdivision": "DE-BE", "postal_code": "10115",
              "country": "DE"}
    fields.update(changes)
    return fields


# --- the world, built once ----------------------------------------------------------------------

def build_world(world: World, app) -> dict:
    from models.contact import save_contact
    from models.person import find_person

    for email, (first, last) in NAMES.items():
        world.person(email, first_name=first, last_name=last)
    world.operator(OPERATOR)
    site_a = world.site(PRIMARY, number=SITE_A, customer="Acme Corp", name="Acme Works")
    world.member(site_a, TECH, "user", {"software": 1, "support": 2})
    world.member(site_a, TOM, "user", {"support": 1})
    world.member(site_a, ADMIN, "user", {"support": 3})
    world.member(site_a, QUIET, "user", {"support": 3})
    world.member(site_a, MANAGER, "secondary", {"manage_access": 2, "software": 1, "support": 2})
    world.member(site_a, ALICE, "user", {"software": 1, "support": 1})
    world.member(site_a, BOB, "user", {"reporting": 1})
    world.member(site_a, CAROL, "user", {"support": 2})
    site_b = world.site(PRIMARY_B, number=SITE_B, customer="Beta Corp", name="Beta Plant")
    world.member(site_b, BEN, "user", {"support": 1})
    world.member(site_b, TECH, "user", {})   # a technical contact on site A only
    with app.app_context():
        site = db.session.get(Site, site_a)
        primary = find_person(PRIMARY)
        # Tina: by her login email, written as people write it (the case differs).
        tech_contact = save_contact(site, primary, address(email="Tina.Tech@Example.com"), ["technical"])
        # Tom: by the record's link to his account; the record's email is a shared mailbox.
        tom_contact = save_contact(site, primary, address(first_name="Tom", email="helpdesk@example.com"),
                                   ["technical"])
        tom_contact.person_id = find_person(TOM).id
        # Not technical contacts: Mia named by her notification email, Bob as billing contact only.
        save_contact(site, primary, address(first_name="Mia", last_name="Manager", email=MANAGER_MAIL), ["technical"])
        save_contact(site, primary, address(first_name="Bob", last_name="Baker", email=BOB), ["billing"])
        # Site B's technical contact is Alice: no right on site A.
        save_contact(db.session.get(Site, site_b), find_person(PRIMARY_B), address(first_name="Alice", email=ALICE),
                     ["technical"])
        find_person(ADMIN).notification_email = ADMIN_MAIL
        find_person(MANAGER).notification_email = MANAGER_MAIL
        find_person(QUIET).notification_preferences = {"access_requests": False}
        db.session.commit()

        def membership(email, site_id):
            return db.session.scalar(sa.select(Membership).join(Membership.person)
                                     .where(Person.email == email, Membership.site_id == site_id))

        alice_support = requests.submit_privilege_request(membership(ALICE, site_a), tool_by_key("support"), 2,
                                                          "Follows every case of the plant")
        bob_documents = requests.submit_privilege_request(membership(BOB, site_a), tool_by_key("documents"), 1,
                                                          "Downloads our invoices")
        ben_support = requests.submit_privilege_request(membership(BEN, site_b), tool_by_key("support"), 2,
                                                        "Follows Beta's cases")
        frank = requests.submit_self_nomination(
            find_person(FRANK), SITE_A, "Fisher Logistics",
            {"first_name": "Frank", "last_name": "Fisher", "email": FRANK}, "Buys our licences")
        # Mail of the world is not what the tests wait for.
        db.session.execute(sa.update(OutboxMail).values(status="sent", sent_at=utcnow()))
        db.session.commit()
        ids = {"site_a": site_a, "site_b": site_b, "alice_support": alice_support.id,
               "bob_documents": bob_documents.id, "ben_support": ben_support.id, "frank": frank.id,
               "tech_contact": tech_contact.id}
        for email in (PRIMARY, TECH, TOM, ADMIN, QUIET, MANAGER, ALICE, BOB, CAROL):
            ids[email] = membership(email, site_a).id
        for email in (PRIMARY_B, BEN, TECH):
            ids[("b", email)] = membership(email, site_b).id
        for profile in db.session.scalars(sa.select(AccessProfile).where(AccessProfile.site_id == site_a)):
            ids[profile.name] = profile.id
    return ids


class Helper(SessionHelper):
    def url(self, path, site=None):
        return f"/sites/{site or self.a}/{path}"

    def row_url(self, email, site=None):
        return self.url(f"support/{self.ids[email]}", site)

    def review_url(self, request_id, action="", site=None):
        return self.url(f"requests/{request_id}" + (f"/{action}" if action else ""), site)

    def send(self, method, url, form):
        """GET the URL, or POST the form to it."""
        return self.client.get(url) if method == "GET" else self.post(url, form)

    def support(self, email, site=None) -> int | None:
        """The support level a person holds on a site, read from the database."""
        found = self.memberships(site).get(email)
        return None if found is None else found[1].get("support", 0)

    def memberships(self, site=None) -> dict[str, tuple[str, dict[str, int]]]:
        """email → (role, {tool key: rank > 0}) of a site's members, read from the database."""
        def read():
            tools = catalog()
            rows = db.session.scalars(sa.select(Membership).where(Membership.site_id == (site or self.a))).all()
            return {m.person.email: (m.role, {t.key: m.level(t) for t in tools if m.level(t)}) for m in rows}
        return self.read(read)

    def request_row(self, request_id) -> dict:
        def read():
            r = db.session.get(AccessRequest, request_id)
            return dict(status=r.status, decided_by=r.decided_by.email if r.decided_by else None,
                        reason=r.rejection_reason, tool_id=r.tool_id, rank=r.requested_rank, kind=r.kind)
        return self.read(read)

    def requests_of(self, email) -> list[dict]:
        def read():
            return [dict(id=r.id, site_id=r.site_id, kind=r.kind, tool_id=r.tool_id, rank=r.requested_rank,
                         status=r.status, justification=r.business_justification)
                    for r in db.session.scalars(sa.select(AccessRequest).join(AccessRequest.requester)
                                                .where(Person.email == email).order_by(AccessRequest.id))]
        return self.read(read)

    def state(self):
        """Everything a refused step must leave as it was, read in one go (both sites)."""
        def read():
            tools = catalog()
            return (
                {(m.site_id, m.person.email, m.role, tuple(m.level(t) for t in tools))
                 for m in db.session.scalars(sa.select(Membership))},
                {(r.id, r.site_id, r.requester_id, r.kind, r.status, r.decided_by_id, r.rejection_reason)
                 for r in db.session.scalars(sa.select(AccessRequest))},
                {(i.id, i.email, i.status()) for i in db.session.scalars(sa.select(Invitation))},
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)),
            )
        return self.read(read)

    def set_support(self, email, rank, site=None):
        """Change a support level behind the rules' back (to prepare a situation)."""
        from models import Privilege
        with self.app.app_context():
            membership = db.session.get(Membership, self.ids[email] if site is None else self.ids[(site, email)])
            found = next((p for p in membership.privileges if p.tool_id == SUPPORT), None)
            if found is None:
                membership.privileges.append(Privilege(tool_id=SUPPORT, rank=rank))
            else:
                found.rank = rank
            db.session.commit()


module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, SIGNED_IN, Helper)


# --- reading pages ------------------------------------------------------------------------------

def support_rows(response) -> dict[int, dict]:
    """The rows of the Support access list by membership id: the cells, and the level select if offered."""
    rows = {}
    for row in page_tree(response).find_all("tr", id=lambda value: re.fullmatch(r"support-\d+", value)):
        # The level cell as read without its error message (shown under the level or the select).
        errors = row.find_all("small", id=lambda value: re.fullmatch(r"support-\d+-error", value))
        cells = [cell.words(without=errors) for cell in row.find_all("td")]
        select = row.find("select", id=lambda value: re.fullmatch(r"support-level-\d+", value), name="level")
        label = options = None
        if select is not None:
            label = row.one("label", for_=select.get("id")).text
            options = {int(option.get("value")): (option.text, option.has("selected"), option.has("disabled"))
                       for option in select.find_all("option", value=str.isdigit)}
        error = row.find("small", id=lambda value: re.fullmatch(r"support-\d+-error", value), class_="field-error",
                         role="alert")
        status = row.find("small", role="status")
        rows[int(row.get("id").removeprefix("support-"))] = dict(
            name=cells[0], email=cells[1], role=cells[2], level=cells[3], label=label, options=options,
            error=error.text if error else None, saved=status.text if status else None, html=row.html)
    return rows


def _request_id(element) -> int | None:
    """The id of the access request an element links to, if it links to one."""
    link = element.find("a", href=lambda value: re.fullmatch(r"/sites/\d+/requests/\d+", value))
    return int(link.get("href").rsplit("/", 1)[1]) if link else None


def support_request_rows(response) -> list[dict]:
    """The rows of 'Requests for a higher support level' on the Support access page."""
    rows = []
    for row in table_after(response.get_data(as_text=True), "Requests for a higher support level").find_all("tr"):
        cells = row.cells()
        if len(cells) < 4:
            continue
        rows.append(dict(requester=cells[0], asked=cells[1], status=cells[3], id=_request_id(row)))
    return rows


def request_list_ids(response) -> list[int]:
    links = page_tree(response).find_all("a", href=lambda value: re.fullmatch(r"/sites/\d+/requests/\d+", value))
    return [int(link.get("href").rsplit("/", 1)[1]) for link in links]


def assert_fragment(response, starts_with):
    body = response.get_data(as_text=True)
    assert "<html" not in body and "<!doctype" not in body.lower(), "htmx got a whole page"
    assert body.lstrip().startswith(starts_with), body[:200]


def assert_full_page(response):
    assert "<html" in response.get_data(as_text=True)


def settle(smtp, count):
    """Wait for `count` mails, then for every delivery of this test to end: no more arrive."""
    if count:
        smtp.wait_for(count)
    join_mail_threads()
    assert len(smtp.messages) == count, [(m["To"], m["Subject"]) for m in smtp.messages]
    return list(smtp.messages)


def support_select(markup: str, fieldset: str) -> dict:
    """The support level's row of a level matrix (tests/helpers/matrix.py), with its note when it has one."""
    return matrix_row(markup, fieldset, SUPPORT)


# === who manages support levels ==================================================================

@pytest.mark.parametrize("who, shown", [
    (PRIMARY, True), (TECH, True), (TOM, True), (ADMIN, True), (QUIET, True),
    (MANAGER, False), (ALICE, False), (BOB, False), (CAROL, False)])
def test_navigation_offers_support_access_to_support_managers_only(h, who, shown):
    h.become(who)
    markup = h.client.get(h.url("")).get_data(as_text=True)
    assert (f'<a href="/sites/{h.a}/support">Support access</a>' in markup) == shown, who


def test_a_technical_contact_of_one_site_has_no_say_on_another(h):
    """Tina is site A's technical contact and a plain user of site B; Alice is site B's technical contact."""
    h.become(TECH)
    assert "Support access" not in page_text(h.client.get(h.url("", h.b)))
    assert h.client.get(h.url("support", h.b)).status_code == 403
    before = h.state()
    assert h.post(h.row_url(("b", BEN), h.b), {"level": "0"}).status_code == 403
    h.become(ALICE)
    assert h.client.get(h.url("support")).status_code == 403
    assert h.post(h.row_url(BOB), {"level": "1"}).status_code == 403
    assert h.state() == before


@pytest.mark.parametrize("who, status", [
    (PRIMARY, 200), (TECH, 200), (TOM, 200), (ADMIN, 200), (OPERATOR, 200),
    (MANAGER, 403), (ALICE, 403), (BOB, 403), (CAROL, 403),
    (ERIN, 404), (FRANK, 404), (PRIMARY_B, 404)])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_who_sees_the_support_access_page(h, who, status, htmx):
    h.become(who)
    response = h.client.htmx_get(h.url("support")) if htmx else h.client.get(h.url("support"))
    assert response.status_code == status
    if status == 200:
        if htmx:
            assert_fragment(response, '<div id="support-list">')
        else:
            assert_full_page(response)
            assert "<h1>Support access</h1>" in response.get_data(as_text=True)
        assert "HX-Request" in response.headers.get("Vary", "")
        assert len(support_rows(response)) == 9   # every member of site A, none of site B
    else:
        assert "Bob Baker" not in page_text(response)


@pytest.mark.parametrize("who, status", [
    (MANAGER, 403), (ALICE, 403), (CAROL, 403), (OPERATOR, 403), (ERIN, 404), (PRIMARY_B, 404)])
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_who_may_not_change_a_support_level(h, who, status, htmx):
    h.become(who)
    before = h.state()
    response = h.post(h.row_url(BOB), {"level": "1"}, htmx=htmx)
    assert response.status_code == status
    assert h.state() == before


def test_signed_out_is_sent_to_sign_in(h):
    before = h.state()
    page = h.client.get(h.url("support"))
    assert page.status_code == 302 and "/sign-in" in page.location
    fragment = h.client.submit(h.row_url(BOB), {"level": "1"}, htmx=True)
    assert fragment.status_code == 401 and "/sign-in" in fragment.headers.get("HX-Redirect", "")
    assert h.state() == before


def test_a_save_without_the_csrf_token_changes_nothing(h):
    h.become(PRIMARY)
    before = h.state()
    response = h.client.post(h.row_url(BOB), data={"level": "1"})
    assert response.status_code == 400 and "The form has expired" in page_text(response)
    fragment = h.client.post(h.row_url(BOB), data={"level": "1"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 400 and fragment.headers.get("HX-Refresh") == "true"
    assert h.state() == before


def test_a_member_of_another_site_is_not_reached_through_this_one(h):
    h.become(PRIMARY)
    before = h.state()
    assert h.post(h.url(f"support/{h.ids[('b', BEN)]}"), {"level": "2"}).status_code == 404
    assert h.post(h.url("support/999999"), {"level": "2"}, htmx=True).status_code == 404
    assert h.state() == before


def test_losing_the_technical_contact_type_ends_the_right_at_the_next_request(h):
    h.become(TECH)
    assert h.client.get(h.url("support")).status_code == 200
    h.become(PRIMARY)
    assert h.post(h.url(f"contacts/{h.ids['tech_contact']}/delete")).status_code == 303
    h.become(TECH)
    assert h.client.get(h.url("support")).status_code == 403
    assert "Support access" not in page_text(h.client.get(h.url("")))
    before = h.state()
    assert h.post(h.row_url(BOB), {"level": "1"}).status_code == 403
    assert h.state() == before


# === the page ====================================================================================

def test_technical_contact_sees_who_she_may_change_and_up_to_which_level(h):
    h.become(TECH)
    response = h.client.get(h.url("support"))
    shown = page_text(response)
    assert "You hold Full: you can grant up to that level." in shown
    rows = support_rows(response)
    by_email = {row["email"]: row for row in rows.values()}
    assert {email: row["level"] if row["options"] is None else None for email, row in by_email.items()} == {
        PRIMARY: "Administrator", TECH: "Full", ADMIN: "Administrator", QUIET: "Administrator",
        TOM: None, MANAGER: None, ALICE: None, BOB: None, CAROL: None}
    bob = by_email[BOB]
    assert bob["label"] == "Support level for Bob Baker"
    assert bob["options"] == {0: ("No access", True, False), 1: ("Basic", False, False), 2: ("Full", False, False),
                              3: ("Administrator", False, True)}
    assert [rank for rank, (_n, selected, _d) in by_email[CAROL]["options"].items() if selected] == [2]
    assert f'action="/sites/{h.a}/support/{h.ids[BOB]}"' in bob["html"] and "Save changes" in bob["html"]
    assert 'name="csrf_token"' in bob["html"]
    # Every select has a visible-to-assistive-technology label naming the member.
    assert sorted(row["label"] for row in rows.values() if row["label"]) == sorted(
        f"Support level for {name}" for name in ("Tom Tech", "Mia Manager", "Alice Archer", "Bob Baker",
                                                 "Carol Clark"))


def test_an_administrator_may_change_everyone_but_herself_and_the_primary(h):
    h.become(ADMIN)
    rows = {row["email"]: row for row in support_rows(h.client.get(h.url("support"))).values()}
    assert rows[ADMIN]["options"] is None and rows[ADMIN]["level"] == "Administrator"
    assert rows[PRIMARY]["options"] is None
    for email in (TECH, TOM, QUIET, MANAGER, ALICE, BOB, CAROL):
        assert rows[email]["options"] is not None, email
        assert not any(disabled for _n, _s, disabled in rows[email]["options"].values()), email


def test_an_operator_looks_but_is_offered_nothing_to_change(h):
    h.become(OPERATOR)
    response = h.client.get(h.url("support"))
    assert response.status_code == 200
    assert all(row["options"] is None for row in support_rows(response).values())
    assert "you can grant up to" not in page_text(response)
    [alice] = support_request_rows(response)
    assert alice["requester"] == "Alice Archer" and alice["id"] is None   # listed, not to be decided


def test_search_narrows_the_list(h):
    h.become(TECH)
    fragment = h.client.htmx_get(h.url("support"), query_string={"q": "bob"})
    assert fragment.status_code == 200
    assert_fragment(fragment, '<div id="support-list">')
    assert [row["email"] for row in support_rows(fragment).values()] == [BOB]


# === the grant rules =============================================================================

ALLOWED = [
    (PRIMARY, BOB, 3),      # the primary holds Administrator
    (TECH, BOB, 2),         # up to her own Full
    (TECH, CAROL, 1),       # a member at her own level
    (TECH, ALICE, 0),       # lowering
    (TOM, BOB, 1),          # Basic grants Basic (Tom is named by the record's person link)
    (ADMIN, TECH, 3),       # an Administrator makes another
    (ADMIN, QUIET, 0),      # and changes another Administrator
    (QUIET, MANAGER, 3),
]


@pytest.mark.parametrize("actor, target, rank", ALLOWED,
                         ids=[f"{a.split('@')[0]}-{t.split('@')[0]}-{r}" for a, t, r in ALLOWED])
def test_support_managers_grant_within_their_own_level(h, smtp, actor, target, rank):
    others = {email: value for email, value in h.memberships().items() if email != target}
    role, held = h.memberships()[target]
    h.become(actor)
    response = h.post(h.row_url(target), {"level": str(rank)}, htmx=True)
    assert response.status_code == 200, page_text(response)
    assert support_rows(response)[h.ids[target]]["error"] is None
    after = h.memberships()
    assert after[target] == (role, {**{k: v for k, v in held.items() if k != "support"},
                                    **({"support": rank} if rank else {})})
    assert {email: value for email, value in after.items() if email != target} == others
    [event] = h.audit("membership.changed")
    assert event.actor_label == actor and event.target_label == target
    assert event.before["levels"]["support"] == held.get("support", 0) and event.after["levels"]["support"] == rank


REFUSED = [
    # (actor, target, level posted, message, whether the row offers a select to show it in)
    (TECH, BOB, "3", "You cannot grant Administrator on Support cases: it is above your own level.", True),
    (TOM, BOB, "2", "You cannot grant Full on Support cases: it is above your own level.", True),
    (PRIMARY, BOB, "4", "Support cases has no such level.", True),
    (PRIMARY, BOB, "-1", "Choose a level.", True),
    (PRIMARY, BOB, "Full", "Choose a level.", True),
    (PRIMARY, BOB, "", "Choose a level.", True),
    # Rows without a select (the page never offers these; a stale page or a forged form posts them).
    (TOM, CAROL, "0", "Carol Clark holds Full on Support cases, above your own level.", False),
    (TECH, ADMIN, "2", "Ada Admin holds Administrator on Support cases, above your own level.", False),
    (TECH, TECH, "1", "You cannot change your own support level.", False),
    (ADMIN, ADMIN, "2", "You cannot change your own support level.", False),
    (QUIET, QUIET, "3", "You cannot change your own support level.", False),
    (TECH, PRIMARY, "1", "The primary contact always holds every support right.", False),
    (ADMIN, PRIMARY, "0", "The primary contact always holds every support right.", False),
]


@pytest.mark.parametrize("actor, target, level, message, editable", REFUSED,
                         ids=["tech above own", "basic tech above own", "no such level", "negative", "a word",
                              "nothing", "target above basic tech", "target above tech", "tech herself",
                              "admin herself (lower)", "admin herself (same)", "tech the primary",
                              "admin the primary"])
def test_refused_changes_are_shown_in_place_and_change_nothing(h, smtp, actor, target, level, message, editable):
    h.become(actor)
    before = h.state()
    response = h.post(h.row_url(target), {"level": level}, htmx=True)
    assert response.status_code == 422
    assert_fragment(response, f'<tr id="support-{h.ids[target]}"')
    [row] = support_rows(response).values()
    if editable:
        assert row["error"] == message
    else:
        assert row["options"] is None and row["level"] == LEVEL[h.support(target)]   # the row as it stands
    assert h.state() == before
    settle(smtp, 0)


def test_the_administrators_own_row_has_no_select_and_a_forged_raise_is_refused(h):
    """An Administrator cannot raise herself — there is nothing higher — nor can a Full technical contact."""
    for who, held in ((ADMIN, 3), (TECH, 2)):
        h.become(who)
        rows = support_rows(h.client.get(h.url("support")))
        assert rows[h.ids[who]]["options"] is None and rows[h.ids[who]]["level"] == LEVEL[held]
        before = h.state()
        for htmx in (False, True):
            response = h.post(h.row_url(who), {"level": "3"}, htmx=htmx)
            assert response.status_code == 422
        assert h.state() == before
        assert h.support(who) == held


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
def test_a_refusal_on_a_row_that_is_no_longer_editable_tells_why(h, htmx):
    """Tom's page offered Carol at Basic; meanwhile an Administrator made her Full; Tom saves No access."""
    h.set_support(CAROL, 1)
    h.become(TOM)
    assert support_rows(h.client.get(h.url("support")))[h.ids[CAROL]]["options"] is not None
    h.set_support(CAROL, 2)
    response = h.post(h.row_url(CAROL), {"level": "0"}, htmx=htmx)
    assert response.status_code == 422
    assert h.support(CAROL) == 2
    assert "Carol Clark holds Full on Support cases, above your own level." in page_text(response)


def test_saving_the_same_level_changes_nothing_and_audits_nothing(h, smtp):
    h.become(TECH)
    before = h.state()
    response = h.post(h.row_url(CAROL), {"level": "2"}, htmx=True)
    assert response.status_code == 200
    assert support_rows(response)[h.ids[CAROL]]["saved"] == "Nothing changed."
    assert h.state() == before
    settle(smtp, 0)


# === htmx and full page ==========================================================================

def test_htmx_save_returns_the_row_with_the_new_level(h, smtp):
    h.become(TECH)
    response = h.post(h.row_url(BOB), {"level": "2"}, htmx=True)
    assert response.status_code == 200
    assert_fragment(response, f'<tr id="support-{h.ids[BOB]}"')
    assert "HX-Request" in response.headers.get("Vary", "")
    [row] = support_rows(response).values()
    assert row["saved"] == "Bob Baker now holds Full."
    assert [rank for rank, (_n, selected, _d) in row["options"].items() if selected] == [2]
    assert f'hx-target="#support-{h.ids[BOB]}"' in row["html"] and 'hx-swap="outerHTML"' in row["html"]
    assert h.support(BOB) == 2


def test_form_save_redirects_to_the_page_with_a_message(h):
    h.become(TECH)
    response = h.post(h.row_url(BOB), {"level": "1"})
    assert response.status_code == 303 and response.location == h.url("support")
    page = h.client.get(response.location)
    assert "Bob Baker now holds Basic." in page_text(page)
    assert support_rows(page)[h.ids[BOB]]["options"][1][1]   # Basic selected
    assert h.support(BOB) == 1


def test_htmx_refusal_keeps_the_chosen_level_and_marks_the_select(h):
    h.become(TOM)
    response = h.post(h.row_url(BOB), {"level": "2"}, htmx=True)
    assert response.status_code == 422
    [row] = support_rows(response).values()
    assert [rank for rank, (_n, selected, _d) in row["options"].items() if selected] == [2]
    assert re.search(rf'<select id="support-level-{h.ids[BOB]}" name="level"\s+aria-invalid="true" aria-describedby="support-{h.ids[BOB]}-error"',
                     row["html"])
    assert row["saved"] is None
    assert h.support(BOB) == 0


def test_form_refusal_is_the_whole_page_with_the_message_on_the_row(h):
    h.become(TOM)
    before = h.state()
    response = h.post(h.row_url(BOB), {"level": "2"})
    assert response.status_code == 422
    assert_full_page(response)
    rows = support_rows(response)
    assert rows[h.ids[BOB]]["error"] == "You cannot grant Full on Support cases: it is above your own level."
    assert all(row["error"] is None for row_id, row in rows.items() if row_id != h.ids[BOB])
    assert "Requests for a higher support level" in page_text(response)
    assert h.state() == before


# === the audit trail and the member's mail =======================================================

def test_a_change_is_audited_with_before_and_after_and_mailed_to_the_member(h, smtp):
    h.become(TECH)
    assert h.post(h.row_url(BOB), {"level": "2"}).status_code == 303
    [event] = h.audit("membership.changed")
    assert (event.action, event.actor_label, event.target_type, event.target_label) == \
        ("membership.changed", TECH, "person", BOB)
    every = {key: 0 for key in TOOL}
    assert event.before == {"role": "user", "levels": {**every, "reporting": 1}}
    assert event.after == {"role": "user", "levels": {**every, "reporting": 1, "support": 2}}
    assert event.remote_addr == "127.0.0.1"
    [mail] = settle(smtp, 1)
    assert mail["To"] == BOB and mail["Subject"] == f"Your access to site {SITE_A} changed"
    body = body_text(mail)
    assert "Tina Tech changed your access" in body and "- Support cases: Full" in body


# === Manage access approvers who are not support managers ========================================

def test_the_managers_edit_row_shows_the_support_level_fixed_with_a_hint(h):
    h.become(MANAGER)
    edit = h.client.htmx_get(h.url(f"members/{h.ids[ALICE]}/edit"))
    assert edit.status_code == 200
    select = support_select(edit.get_data(as_text=True), f"levels-{h.ids[ALICE]}")
    assert select["disabled"] == {0, 1, 2, 3}
    assert {r["described"] for r in select["radios"]} == {f"levels-{h.ids[ALICE]}-{SUPPORT}-hint"}
    assert HINT in select["note"]
    assert select["checked"] == 1  # Basic
    # The primary sets it there.
    h.become(PRIMARY)
    select = support_select(h.client.htmx_get(h.url(f"members/{h.ids[ALICE]}/edit")).get_data(as_text=True),
                            f"levels-{h.ids[ALICE]}")
    assert not select["disabled"] and HINT not in select["note"]


def test_the_managers_profile_fill_keeps_the_members_support_level(h):
    h.become(MANAGER)
    edit = h.client.htmx_get(h.url(f"members/{h.ids[CAROL]}/edit"),
                             query_string={"profile_id": h.ids["Basic access"]})
    markup = edit.get_data(as_text=True)
    assert matrix_row(markup, f"levels-{h.ids[CAROL]}", TOOL["software"])["checked"] == 1
    assert support_select(markup, f"levels-{h.ids[CAROL]}")["checked"] == 2  # Full


@pytest.mark.parametrize("rank, message", [
    (2, NOT_YOURS),
    (0, NOT_YOURS),
    (3, "You cannot grant Administrator on Support cases: it is above your own level."),
], ids=["raise within own", "lower", "above own"])
def test_a_managers_forged_support_level_on_the_user_list_is_refused(h, smtp, rank, message):
    h.become(MANAGER)
    before = h.state()
    response = h.post(h.url(f"members/{h.ids[ALICE]}"), {"role": "user", **levels(software=1, support=rank)},
                      htmx=True)
    assert response.status_code == 422
    assert message in page_text(response)
    assert h.state() == before
    settle(smtp, 0)


def test_a_manager_changes_other_levels_and_the_support_level_stays(h):
    """As the browser sends the row: the disabled support select is not part of the form."""
    h.become(MANAGER)
    form = {"role": "user", **{f"tool_{tool_id}": "0" for key, tool_id in TOOL.items()
                               if key not in ("support", "manage_access", "contact_updates")}}
    response = h.post(h.url(f"members/{h.ids[CAROL]}"), {**form, **levels(software=1)}, htmx=True)
    assert response.status_code == 200, page_text(response)
    assert h.memberships()[CAROL] == ("user", {"software": 1, "support": 2})


def test_the_primary_changes_the_support_level_on_the_user_list(h):
    h.become(PRIMARY)
    response = h.post(h.url(f"members/{h.ids[ALICE]}"), {"role": "user", **levels(software=1, support=3)},
                      htmx=True)
    assert response.status_code == 200, page_text(response)
    assert h.memberships()[ALICE] == ("user", {"software": 1, "support": 3})


@pytest.mark.parametrize("email", [ERIN, "newcomer@example.com"], ids=["existing account", "invitation"])
def test_a_managers_forged_support_level_on_add_new_user_is_refused(h, smtp, email):
    h.become(MANAGER)
    page = h.client.get(h.url("members/new")).get_data(as_text=True)
    assert HINT in support_select(page, "levels")["note"]
    before = h.state()
    response = h.post(h.url("members"), {"email": email, "role": "user", "business_justification": "Buys licences",
                                         **levels(software=1, support=1)})
    assert response.status_code == 422
    assert NOT_YOURS in page_text(response)
    assert h.state() == before
    settle(smtp, 0)


def test_a_managers_profile_on_add_new_user_leaves_out_the_support_level(h):
    h.become(MANAGER)
    fragment = h.client.htmx_get(h.url("levels"), query_string={"profile_id": h.ids["Basic access"], "role": "user"})
    assert support_select(fragment.get_data(as_text=True), "levels")["checked"] == 0  # No access
    response = h.post(h.url("members"), {"email": ERIN, "role": "user", "business_justification": "Buys licences",
                                         "profile_id": str(h.ids["Basic access"])})
    assert response.status_code == 303, page_text(response)
    assert h.memberships()[ERIN] == ("user", {"software": 1})
    # The primary's same profile sets it.
    h.become(PRIMARY)
    assert h.post(h.url("members"), {"email": FRANK, "role": "user", "business_justification": "Buys licences",
                                     "profile_id": str(h.ids["Basic access"])}).status_code == 303
    assert h.memberships()[FRANK] == ("user", {"software": 1, "support": 1})


def bulk_profile(h, emails, profile):
    return {"action": "save", "selected": [str(h.ids[e]) for e in emails],
            **{f"bulk_profile_{h.ids[e]}": str(h.ids[profile]) for e in emails}}


def test_a_managers_bulk_profile_change_leaves_support_levels_as_they_are(h):
    h.become(MANAGER)
    response = h.post(h.url("members/bulk"), bulk_profile(h, [BOB, CAROL, ALICE], "Basic access"))
    assert response.status_code == 303, page_text(response)
    after = h.memberships()
    assert after[BOB] == ("user", {"software": 1})
    assert after[CAROL] == ("user", {"software": 1, "support": 2})
    assert after[ALICE] == ("user", {"software": 1, "support": 1})
    changed = {e.target_label: e for e in h.audit("membership.changed")}
    assert set(changed) == {BOB, CAROL}   # Alice already held exactly that
    assert changed[CAROL].before["levels"]["support"] == changed[CAROL].after["levels"]["support"] == 2


def test_the_primarys_bulk_profile_change_sets_the_support_level(h):
    h.become(PRIMARY)
    assert h.post(h.url("members/bulk"), bulk_profile(h, [BOB, CAROL], "Basic access")).status_code == 303
    after = h.memberships()
    assert after[BOB] == ("user", {"software": 1, "support": 1})
    assert after[CAROL] == ("user", {"software": 1, "support": 1})


def test_a_manager_approving_a_membership_request_cannot_set_the_support_level(h, smtp):
    h.become(MANAGER)
    review = h.client.get(h.review_url(h.ids["frank"])).get_data(as_text=True)
    select = support_select(review, "levels")
    assert select["disabled"] == {0, 1, 2, 3} and HINT in select["note"]
    before = h.state()
    refused = h.post(h.review_url(h.ids["frank"], "approve"), {"role": "user", **levels(software=1, support=1)})
    assert refused.status_code == 422
    assert NOT_YOURS in page_text(refused)
    assert h.state() == before
    settle(smtp, 0)
    approved = h.post(h.review_url(h.ids["frank"], "approve"),
                      {"role": "user", "profile_id": str(h.ids["Basic access"])})
    assert approved.status_code == 303, page_text(approved)
    assert h.memberships()[FRANK] == ("user", {"software": 1})


# === requests for a higher support level =========================================================

def test_my_access_offers_the_higher_support_levels(h):
    h.become(BOB)
    markup = h.client.get(h.url("my-access")).get_data(as_text=True)
    for rank in (1, 2, 3):
        assert f'value="{SUPPORT}:{rank}"' in markup
    # Who decides is named: the primary first, then the technical contacts and Administrators by name.
    assert "Support levels are set by: Pat Primary, Ada Admin, Quinn Quiet, Tina Tech, Tom Tech." in text(markup)
    h.become(ADMIN)
    assert f'value="{SUPPORT}:' not in h.client.get(h.url("my-access")).get_data(as_text=True)


def test_a_support_request_is_mailed_to_the_support_managers_only(h, smtp):
    h.become(BOB)
    response = h.post(h.url("my-access/request"), {"wanted": f"{SUPPORT}:2",
                                                   "business_justification": "Opens our cases"})
    assert response.status_code == 303 and response.location == h.url("my-access")
    assert SUPPORT_SENT in page_text(h.client.get(h.url("my-access")))
    mine = h.requests_of(BOB)[-1]
    assert (mine["kind"], mine["tool_id"], mine["rank"], mine["status"]) == ("privilege", SUPPORT, 2, "pending")
    # The primary, both technical contacts, the Administrator at her notification email; not the
    # Administrator who wants no such mail, not the Manage-access approver, not the requester.
    mails = settle(smtp, 4)
    assert sorted(m["To"] for m in mails) == sorted([PRIMARY, TECH, TOM, ADMIN_MAIL])
    for mail in mails:
        assert mail["Subject"] == f"Access request for site {SITE_A}"
        body = body_text(mail)
        assert f"Bob Baker asks for Full on Support cases at site {SITE_A}." in body
        assert "Opens our cases" in body
        assert f"http://localhost/sites/{h.a}/requests/{mine['id']}" in body
        assert "Bob Baker" in html_text(mail)


def test_a_support_managers_own_request_goes_to_the_others(h, smtp):
    h.become(TOM)
    assert h.post(h.url("my-access/request"), {"wanted": f"{SUPPORT}:2",
                                               "business_justification": "Covers for Tina"}).status_code == 303
    mails = settle(smtp, 3)
    assert sorted(m["To"] for m in mails) == sorted([PRIMARY, TECH, ADMIN_MAIL])
    [mine] = h.requests_of(TOM)
    before = h.state()
    response = h.post(h.review_url(mine["id"], "approve"), {})
    assert response.status_code == 422 and "You cannot decide your own request." in page_text(response)
    assert h.state() == before


def test_other_privilege_requests_still_go_to_the_approvers(h, smtp):
    h.become(CAROL)
    assert h.post(h.url("my-access/request"), {"wanted": f"{TOOL['documents']}:1",
                                               "business_justification": "Invoices"}).status_code == 303
    assert "Your request for Account-related documents is sent to the approvers of this site." in \
        page_text(h.client.get(h.url("my-access")))
    mails = settle(smtp, 2)
    assert sorted(m["To"] for m in mails) == sorted([PRIMARY, MANAGER_MAIL])


def test_support_requests_are_apart_from_the_requests_list_and_badge(h):
    h.become(CAROL)
    assert h.post(h.url("my-access/request"), {"wanted": f"{SUPPORT}:3",
                                               "business_justification": "Runs our support desk"}).status_code \
        == 303
    carol = h.requests_of(CAROL)[-1]["id"]
    for who in (PRIMARY, MANAGER):
        h.become(who)
        listed = h.client.get(h.url("requests"))
        assert sorted(request_list_ids(listed)) == sorted([h.ids["bob_documents"], h.ids["frank"]])
        assert "Alice Archer" not in page_text(listed) and "Carol Clark" not in page_text(listed)
        privileges = h.client.get(h.url("requests"), query_string={"kind": "privilege"})
        assert request_list_ids(privileges) == [h.ids["bob_documents"]]
        badge = h.client.htmx_get(h.url("requests/badge")).get_data(as_text=True)
        assert 'aria-label="2 pending requests">2</mark>' in badge, who
    # They are listed on the Support access page, pending first.
    h.become(TECH)
    rows = support_request_rows(h.client.get(h.url("support")))
    assert sorted((r["requester"], r["asked"], r["status"], r["id"]) for r in rows) == sorted([
        ("Alice Archer", "Full", "Pending", h.ids["alice_support"]),
        ("Carol Clark", "Administrator", "Pending", carol)])
    assert "Ben Other" not in page_text(h.client.get(h.url("support")))   # site B's


def test_support_managers_see_the_pending_support_requests_counted_in_the_navigation(h):
    h.become(TECH)
    markup = h.client.get(h.url("support")).get_data(as_text=True)
    assert 'aria-label="1 pending support request">1</mark>' in markup   # Alice's
    h.become(CAROL)
    h.post(h.url("my-access/request"), {"wanted": f"{SUPPORT}:3", "business_justification": "Runs our support desk"})
    h.become(ADMIN)
    assert 'aria-label="2 pending support requests">2</mark>' in h.client.get(h.url("support")).get_data(as_text=True)
    h.become(MANAGER)   # no Support access link, no count
    assert "pending support request" not in h.client.get(h.url("members")).get_data(as_text=True)


def test_the_review_page_warns_an_approver_whose_own_level_is_too_low(h):
    h.become(TOM)   # Basic; Alice asks for Full
    shown = page_text(h.client.get(h.review_url(h.ids["alice_support"])))
    assert "You hold Basic on Support cases: approving Full is above your own level" in shown
    h.become(TECH)  # Full
    assert "above your own level" not in page_text(h.client.get(h.review_url(h.ids["alice_support"])))


def test_the_technical_contact_approves_a_support_request(h, smtp):
    h.become(TECH)
    review = h.client.get(h.review_url(h.ids["alice_support"]))
    assert review.status_code == 200
    shown = page_text(review)
    for expected in ("Request from Alice Archer", "Asked for Support cases: Full",
                     "Business justification Follows every case of the plant", "Status Pending",
                     "Approving sets Support cases to Full."):
        assert expected in shown, expected
    assert f'<a href="/sites/{h.a}/support">Back to the list</a>' in review.get_data(as_text=True)
    response = h.post(h.review_url(h.ids["alice_support"], "approve"), {})
    assert response.status_code == 303 and response.location == h.url("support")
    page = h.client.get(response.location)
    assert "Approved: Alice Archer has what was asked for, and we mailed them." in page_text(page)
    [listed] = [r for r in support_request_rows(page) if r["id"] == h.ids["alice_support"]]
    assert listed["status"] == "Approved (Tina Tech)"
    assert h.memberships()[ALICE] == ("user", {"software": 1, "support": 2})
    assert h.request_row(h.ids["alice_support"])["status"] == "approved"
    assert h.request_row(h.ids["alice_support"])["decided_by"] == TECH
    # One mail: the decision, telling the new level (no second mail about the change).
    [mail] = settle(smtp, 1)
    assert mail["To"] == ALICE and mail["Subject"] == f"Your access request for site {SITE_A} is approved"
    assert "You now hold Full on Support cases." in body_text(mail)
    assert "You now hold Full on Support cases." in text(html_text(mail))
    # Audited: the decision and the change.
    [approved] = h.audit("request.approved")
    assert approved.actor_label == TECH and approved.target_id == h.ids["alice_support"]
    assert approved.before == {"status": "pending"}
    assert approved.after == {"status": "approved", "tool": "support", "level": "Full"}
    [changed] = h.audit("membership.changed")
    assert changed.actor_label == TECH and changed.target_label == ALICE
    assert changed.before["levels"]["support"] == 1 and changed.after["levels"]["support"] == 2
    assert changed.before["levels"]["software"] == changed.after["levels"]["software"] == 1
    alice = h.become(ALICE, h.new_client())
    mine = page_text(alice.get(h.url("my-access")))
    assert "Support cases Full" in mine and "Waiting for a decision" not in mine


@pytest.mark.parametrize("reason, extra", [("not_required", ""), ("other", "Basic covers your cases")])
def test_an_administrator_rejects_a_support_request(h, smtp, reason, extra):
    h.become(ADMIN)
    response = h.post(h.review_url(h.ids["alice_support"], "reject"), {"reason": reason, "text": extra})
    assert response.status_code == 303 and response.location == h.url("support")
    assert "Rejected; we mailed Alice Archer the reason." in page_text(h.client.get(h.url("support")))
    row = h.request_row(h.ids["alice_support"])
    assert (row["status"], row["decided_by"], row["reason"]) == ("rejected", ADMIN, reason)
    assert h.support(ALICE) == 1
    [mail] = settle(smtp, 1)
    assert mail["To"] == ALICE and mail["Subject"] == f"Your access request for site {SITE_A} is rejected"
    body = body_text(mail)
    assert f"Your request for site {SITE_A}, Acme Works, is rejected." in body and extra in body
    [event] = h.audit("request.rejected")
    assert event.actor_label == ADMIN and event.after == {"status": "rejected", "reason": reason, "text": extra}


def test_a_support_request_is_decided_once(h, smtp):
    h.become(TECH)
    assert h.post(h.review_url(h.ids["alice_support"], "approve"), {}).status_code == 303
    settle(smtp, 1)
    before = h.state()
    h.become(ADMIN)
    review = h.client.get(h.review_url(h.ids["alice_support"]))
    assert review.status_code == 200
    assert "This request was already decided by Tina Tech (Approved)." in page_text(review)
    assert f'/requests/{h.ids["alice_support"]}/approve"' not in review.get_data(as_text=True)
    for action, form in (("approve", {}), ("reject", {"reason": "not_required"})):
        response = h.post(h.review_url(h.ids["alice_support"], action), form)
        assert response.status_code == 409
        assert "This request was already decided by Tina Tech (Approved)." in page_text(response)
    assert h.state() == before
    settle(smtp, 1)


def test_a_technical_contact_holding_basic_cannot_approve_full(h, smtp):
    h.become(TOM)
    assert h.client.get(h.review_url(h.ids["alice_support"])).status_code == 200
    before = h.state()
    response = h.post(h.review_url(h.ids["alice_support"], "approve"), {})
    assert response.status_code == 422
    assert "You cannot grant Full on Support cases: it is above your own level." in page_text(response)
    assert "Request from Alice Archer" in page_text(response)
    assert h.state() == before
    assert h.request_row(h.ids["alice_support"])["status"] == "pending"
    settle(smtp, 0)
    # He may still reject it; and someone holding Full may approve it.
    h.become(TECH)
    assert h.post(h.review_url(h.ids["alice_support"], "approve"), {}).status_code == 303
    assert h.support(ALICE) == 2


SUPPORT_REQUEST_ROUTES = [
    ("GET", "", {}),
    ("POST", "approve", {}),
    ("POST", "reject", {"reason": "not_required"}),
]


@pytest.mark.parametrize("actor, status", [(MANAGER, 403), (BOB, 403), (CAROL, 403), (OPERATOR, 403),
                                           (ERIN, 404), (PRIMARY_B, 404)])
@pytest.mark.parametrize("method, action, form", SUPPORT_REQUEST_ROUTES, ids=["review", "approve", "reject"])
def test_only_support_managers_decide_support_requests(h, smtp, actor, status, method, action, form):
    h.become(actor)
    before = h.state()
    url = h.review_url(h.ids["alice_support"], action)
    response = h.send(method, url, form)
    assert response.status_code == status
    assert "Follows every case" not in page_text(response)
    assert h.state() == before
    settle(smtp, 0)


def test_the_deciders_rule_holds_in_the_domain_too(h):
    """Not only the view: approve_request and reject_request refuse a Manage-access approver."""
    from models.errors import RuleViolation
    from models.person import find_person

    before = h.state()
    with h.app.app_context():
        site = db.session.get(Site, h.a)
        support_request = db.session.get(AccessRequest, h.ids["alice_support"])
        manager = find_person(MANAGER)
        for decide in (lambda: requests.approve_request(site, manager, support_request, "user", {}),
                       lambda: requests.reject_request(site, manager, support_request, "not_required")):
            with pytest.raises(RuleViolation) as refused:
                decide()
            assert str(refused.value.message) == ("Support-level requests are decided by the primary contact, the "
                                                  "site technical contacts and support Administrators.")
        db.session.rollback()
    assert h.state() == before


@pytest.mark.parametrize("method, action, form", SUPPORT_REQUEST_ROUTES, ids=["review", "approve", "reject"])
def test_a_support_manager_does_not_decide_the_approvers_requests(h, method, action, form):
    """Tina decides support levels, not Bob's request for Documents (she has no Manage access)."""
    h.become(TECH)
    before = h.state()
    url = h.review_url(h.ids["bob_documents"], action)
    response = h.send(method, url, form)
    assert response.status_code == 403
    assert h.state() == before


@pytest.mark.parametrize("method, action, form", SUPPORT_REQUEST_ROUTES, ids=["review", "approve", "reject"])
def test_another_sites_support_request_is_404_and_untouched(h, method, action, form):
    h.become(TECH)
    before = h.state()
    url = h.review_url(h.ids["ben_support"], action)
    response = h.send(method, url, form)
    assert response.status_code == 404
    assert "Ben Other" not in page_text(response)
    # Through site B, where she is a plain user: 403.
    url = h.review_url(h.ids["ben_support"], action, site=h.b)
    assert (h.send(method, url, form)).status_code == 403
    assert h.state() == before


def test_the_primary_of_site_b_decides_site_bs_support_request(h, smtp):
    h.become(PRIMARY_B)
    assert h.post(h.review_url(h.ids["ben_support"], "approve", site=h.b), {}).status_code == 303
    assert h.support(BEN, site=h.b) == 2
    [mail] = settle(smtp, 1)
    assert mail["To"] == BEN and "You now hold Full on Support cases." in body_text(mail)


def test_approving_a_support_request_never_lowers_the_level(h):
    h.become(ADMIN)
    assert h.post(h.row_url(ALICE), {"level": "3"}).status_code == 303   # Administrator meanwhile
    h.become(PRIMARY)
    h.post(h.review_url(h.ids["alice_support"], "approve"), {})
    assert h.support(ALICE) == 3
