"""The primary role (SPEC §2, issue 5) through the client: Transfer primary role (only the primary
offers; the nominee is mailed and accepts within 48 hours; nothing changes until then; the primary can
cancel; on acceptance the old primary becomes a secondary contact, or a user where four exist; both
are mailed), exactly one primary at every moment (also inside hand_over, against the database's
partial unique index), Leave site, and the operator's orphaned-site recovery. Every change is
audited. Every test gets a copy of one world built once for the module."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models import AuditEvent, Invitation, Membership, OutboxMail, Person, PrimaryTransfer, Site, db
from models import primary_transfer as transfers
from models.base import utcnow
from models.membership import membership_of
from models.person import find_person
from tests.helpers.module_world import SessionHelper, module_world_fixtures
from tests.helpers.world import PASSWORD, World
from tests.helpers.mail import link_in
from tests.helpers.pages import field_error, page_text, text

PAT = "pat@example.com"            # primary of site A
SAM = "sam@example.com"            # secondary, Manage access = Update (can do a lot, but not transfer)
SUE = "sue@example.com"            # secondary, no privileges
UMA = "uma@example.com"            # user
ULF = "ulf@example.com"            # user
VAL = "val@example.com"            # user
BEA = "bea@example.com"            # primary of site B
BEN = "ben@example.com"            # user of site B
OUTSIDER = "outsider@example.com"  # has an account, member of no site
OPERATOR = "operator@example.com"
NAMES = {PAT: ("Pat", "Primary"), SAM: ("Sam", "Second"), SUE: ("Sue", "Second"), UMA: ("Uma", "User"),
         ULF: ("Ulf", "User"), VAL: ("Val", "User"), BEA: ("Bea", "Beta"), BEN: ("Ben", "Beta"),
         OUTSIDER: ("Otto", "Outsider")}
SIGNED_IN = (PAT, SAM, SUE, UMA, ULF, BEA, OUTSIDER, OPERATOR)
JUSTIFICATION = "Pat left the company in March; confirmed by the customer's CFO."


def build_world(world: World, app) -> dict:
    for email, (first, last) in NAMES.items():
        world.person(email, first_name=first, last_name=last)
    world.operator(OPERATOR)
    site_a = world.site(PAT, customer="Acme Corp", name="Acme Works")
    world.member(site_a, SAM, "secondary", {"manage_access": 2, "contact_updates": 2, "reporting": 1})
    world.member(site_a, SUE, "secondary")
    world.member(site_a, UMA, "user", {"reporting": 1})
    world.member(site_a, ULF, "user")
    world.member(site_a, VAL, "user")
    site_b = world.site(BEA, customer="Beta Corp", name="Beta Plant")
    world.member(site_b, BEN, "user")
    with app.app_context():
        db.session.execute(sa.update(OutboxMail).values(status="sent", sent_at=utcnow()))
        db.session.commit()
        ids = {"site_a": site_a, "site_b": site_b}
        for membership in db.session.scalars(sa.select(Membership)):
            ids[membership.person.email] = membership.id
    return ids


class Helper(SessionHelper):
    def __init__(self, app, client, ids, cookies):
        super().__init__(app, client, ids, cookies)
        # A connection of its own, outside every request's transaction: what everyone else sees.
        self.observer = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)

    def close(self):
        self.observer.dispose()

    def primaries(self, site=None) -> list[str]:
        """The emails holding the primary role of a site, as another connection sees them."""
        with self.observer.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT person.email FROM membership JOIN person ON person.id = membership.person_id "
                "WHERE membership.site_id = :site AND membership.role = 'primary'"), {"site": site or self.a})
            return list(rows.scalars())

    def assert_one_primary(self, email, site=None):
        assert self.primaries(site) == [email]

    def roles(self, site=None) -> dict[str, str]:
        with self.app.app_context():
            result = {m.person.email: m.role for m in db.session.scalars(
                sa.select(Membership).where(Membership.site_id == (site or self.a)))}
            db.session.rollback()
        return result

    def privileges(self, email, site=None) -> int:
        with self.app.app_context():
            membership = db.session.scalar(sa.select(Membership).join(Membership.person).where(
                Person.email == email, Membership.site_id == (site or self.a)))
            count = len(membership.privileges)
            db.session.rollback()
        return count

    def set_role(self, email, role):
        with self.app.app_context():
            db.session.get(Membership, self.ids[email]).role = role
            db.session.commit()

    def audit(self, action=None, since=0) -> list[AuditEvent]:
        with self.app.app_context():
            statement = sa.select(AuditEvent).where(AuditEvent.id > since).order_by(AuditEvent.id)
            if action:
                statement = statement.where(AuditEvent.action == action)
            events = db.session.scalars(statement).all()
            db.session.expunge_all()
        return list(events)

    def last_audit_id(self) -> int:
        with self.app.app_context():
            return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0

    def outbox(self, template=None) -> list[OutboxMail]:
        with self.app.app_context():
            statement = sa.select(OutboxMail).where(OutboxMail.id > self.outbox_start).order_by(OutboxMail.id) \
                if template is None else \
                sa.select(OutboxMail).where(OutboxMail.template == template).order_by(OutboxMail.id)
            rows = db.session.scalars(statement).all()
            db.session.expunge_all()
        return list(rows)

    def transfers(self) -> list[PrimaryTransfer]:
        with self.app.app_context():
            rows = db.session.scalars(sa.select(PrimaryTransfer).order_by(PrimaryTransfer.id)).all()
            db.session.expunge_all()
        return list(rows)

    def state(self):
        with self.app.app_context():
            result = (
                {(m.site_id, m.person_id, m.role, tuple(sorted((p.tool_id, p.rank) for p in m.privileges)))
                 for m in db.session.scalars(sa.select(Membership))},
                {(t.id, t.accepted_at, t.cancelled_at, t.expires_at)
                 for t in db.session.scalars(sa.select(PrimaryTransfer))},
                {(i.id, i.email, i.role, i.status()) for i in db.session.scalars(sa.select(Invitation))},
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)),
            )
            db.session.rollback()
        return result

    def offer(self, nominee=UMA):
        self.become(PAT)
        response = self.post(f"/sites/{self.a}/primary", {"nominee": str(self.ids[nominee])})
        assert response.status_code == 303, response.status_code
        [row] = self.outbox("primary_transfer_offer")[-1:]
        return row

    def offer_path(self, row: OutboxMail) -> str:
        match = re.search(r"http://localhost(/primary-offers/\S+)", row.text_body)
        assert match, row.text_body
        return match.group(1)

    def accept(self, email=UMA):
        """Follow the mailed link as the nominee and press Accept."""
        client = self.become(email, self.new_client())
        [row] = [m for m in self.outbox("primary_transfer_offer") if m.recipient == email][-1:]
        landing = client.get(self.offer_path(row))
        assert landing.status_code == 302
        return self.post(landing.location, client=client), landing.location, client

    def move_expiry(self, delta):
        with self.app.app_context():
            for transfer in db.session.scalars(sa.select(PrimaryTransfer)):
                transfer.expires_at = utcnow() + delta
            db.session.commit()


module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, SIGNED_IN, Helper)


# --- only the primary offers --------------------------------------------------------------------

@pytest.mark.parametrize("who, status", [
    (SAM, 403), (SUE, 403), (UMA, 403), (OPERATOR, 403), (BEA, 404), (OUTSIDER, 404),
])
def test_only_the_primary_can_offer_or_cancel_the_primary_role(h, who, status):
    h.become(who)
    before = h.state()
    assert h.client.get(f"/sites/{h.a}/primary").status_code == status
    assert h.post(f"/sites/{h.a}/primary", {"nominee": str(h.ids[UMA])}).status_code == status
    assert h.post(f"/sites/{h.a}/primary", {"nominee": str(h.ids[who])} if who in h.ids else {}).status_code \
        == status
    assert h.post(f"/sites/{h.a}/primary/cancel").status_code == status
    assert h.state() == before
    h.assert_one_primary(PAT)


def test_the_primary_sees_every_other_member_as_a_possible_nominee(h):
    h.become(PAT)
    response = h.client.get(f"/sites/{h.a}/primary")
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert "<h1>Transfer primary role</h1>" in markup and "must accept within 48 hours" in text(markup)
    offered = set(re.findall(r'<option value="(\d+)"', markup))
    assert offered == {str(h.ids[e]) for e in (SAM, SUE, UMA, ULF, VAL)}
    assert "Uma User &lt;uma@example.com&gt; · User" in markup


def test_the_start_page_of_the_primary_points_to_the_transfer(h):
    h.become(PAT)
    page = h.client.get(f"/sites/{h.a}/").get_data(as_text=True)
    assert f'href="/sites/{h.a}/primary"' in page and "Transfer primary role" in page
    assert "transfer the primary role first" in text(page)
    assert "Leave site" not in page


# --- the offer ----------------------------------------------------------------------------------

def test_an_offer_mails_the_nominee_and_changes_nothing_else(h, smtp):
    roles = h.roles()
    row = h.offer(UMA)
    assert row.recipient == UMA
    assert "Pat Primary offers you the primary contact role" in row.text_body
    assert "48 hours" in row.text_body
    [transfer] = h.transfers()
    assert abs(transfer.expires_at - transfer.created_at - timedelta(hours=48)) < timedelta(seconds=5)
    assert transfer.accepted_at is None and transfer.cancelled_at is None
    assert h.roles() == roles, "nothing changes until the nominee accepts"
    h.assert_one_primary(PAT)
    [event] = h.audit("primary.offered")
    assert event.actor_label == PAT and event.target_label == UMA and event.site_id == h.a
    page = h.client.get(f"/sites/{h.a}/primary")
    assert "Offered to Uma User until" in page_text(page) and "Cancel the offer" in page_text(page)
    # The real mail arrives, and its link leads the signed-in nominee to the offer.
    [message] = smtp.wait_for(1)
    assert message["To"] == UMA and "primary contact role" in message["Subject"]
    link = link_in(message, "/primary-offers/").removeprefix("http://localhost")
    nominee = h.become(UMA, h.new_client())
    landing = nominee.get(link)
    assert landing.status_code == 302
    assert landing.location == f"/sites/{h.a}/primary/offers/{transfer.id}"
    offer_page = nominee.get(landing.location)
    assert offer_page.status_code == 200 and "Accept" in page_text(offer_page)
    assert "You are offered the primary contact role of site" in page_text(offer_page)


def test_the_nominee_sees_the_offer_on_their_start_page(h):
    h.offer(UMA)
    [transfer] = h.transfers()
    nominee = h.become(UMA, h.new_client())
    page = nominee.get(f"/sites/{h.a}/").get_data(as_text=True)
    assert "Pat Primary offers you the primary contact role of this site" in text(page)
    assert f'href="/sites/{h.a}/primary/offers/{transfer.id}"' in page
    other = h.become(SUE, h.new_client())
    assert "offers you the primary contact role" not in text(other.get(f"/sites/{h.a}/").get_data(as_text=True))


def test_the_mailed_link_asks_a_signed_out_nominee_to_sign_in_first(h):
    row = h.offer(UMA)
    path = h.offer_path(row)
    response = h.new_client().get(path)
    assert response.status_code == 302 and response.location.startswith("/sign-in")
    assert h.new_client().get("/primary-offers/not-a-token").status_code == 302  # sign in first, too
    signed_in = h.become(UMA, h.new_client())
    assert signed_in.get("/primary-offers/not-a-token").status_code == 404


@pytest.mark.parametrize("who", [SAM, PAT, BEA, OUTSIDER])
def test_someone_else_cannot_accept_the_offer(h, who):
    h.offer(UMA)
    [transfer] = h.transfers()
    before = h.state()
    client = h.become(who, h.new_client())
    url = f"/sites/{h.a}/primary/offers/{transfer.id}"
    assert client.get(url).status_code == 403
    assert h.post(url, client=client).status_code == 409
    assert h.state() == before
    h.assert_one_primary(PAT)


@pytest.mark.parametrize("nominee, status, message", [
    ("pat", 422, "Choose another member of this site."),
    ("bea", 404, None),            # a membership of another site
    ("", 422, "This field is required."),
    ("abc", 422, "Choose another member of this site."),
    ("999999", 422, "Choose another member of this site."),
])
def test_a_nominee_must_be_another_member_of_the_site(h, nominee, status, message):
    h.become(PAT)
    before = h.state()
    value = str(h.ids[{"pat": PAT, "bea": BEA}[nominee]]) if nominee in ("pat", "bea") else nominee
    response = h.post(f"/sites/{h.a}/primary", {"nominee": value})
    assert response.status_code == status
    if message:
        assert message in field_error(response.get_data(as_text=True), "nominee")
    assert h.state() == before


def test_a_second_offer_waits_for_the_first_to_be_cancelled(h):
    h.offer(UMA)
    before = h.state()
    response = h.post(f"/sites/{h.a}/primary", {"nominee": str(h.ids[SUE])})
    # The page shows the open offer; a forged second offer is refused.
    assert response.status_code == 422
    assert h.state() == before
    assert len(h.transfers()) == 1


# --- cancel and lapse ---------------------------------------------------------------------------

def test_the_primary_can_cancel_and_the_link_stops_working(h):
    row = h.offer(UMA)
    response = h.post(f"/sites/{h.a}/primary/cancel")
    assert response.status_code == 303
    assert "The offer is cancelled." in page_text(h.client.get(response.location))
    [transfer] = h.transfers()
    assert transfer.cancelled_at is not None and transfer.accepted_at is None
    [event] = h.audit("primary.offer_cancelled")
    assert event.actor_label == PAT and (event.target_type, event.target_id) == ("person", transfer.to_person_id)
    nominee = h.become(UMA, h.new_client())
    landing = nominee.get(h.offer_path(row))
    assert nominee.get(landing.location).status_code == 410
    before = h.state()
    assert h.post(landing.location, client=nominee).status_code == 409
    assert h.state() == before
    h.assert_one_primary(PAT)
    assert "offers you the primary contact role" not in page_text(nominee.get(f"/sites/{h.a}/"))
    assert h.post(f"/sites/{h.a}/primary/cancel").status_code == 303  # nothing left to cancel: a message
    assert len(h.audit("primary.offer_cancelled")) == 1


def test_the_offer_lapses_after_48_hours(h):
    row = h.offer(UMA)
    h.move_expiry(timedelta(seconds=30))
    nominee = h.become(UMA, h.new_client())
    landing = nominee.get(h.offer_path(row)).location
    assert nominee.get(landing).status_code == 200, "still open just before it lapses"
    h.move_expiry(-timedelta(seconds=1))
    assert nominee.get(landing).status_code == 410
    before = h.state()
    refused = h.post(landing, client=nominee)
    assert refused.status_code == 409 and "lapsed" in page_text(refused)
    assert h.state() == before
    h.assert_one_primary(PAT)
    assert "offers you the primary contact role" not in page_text(nominee.get(f"/sites/{h.a}/"))
    # The primary sees no open offer any more and may offer again.
    h.become(PAT)
    assert "Offered to" not in page_text(h.client.get(f"/sites/{h.a}/primary"))
    h.offer(SUE)
    assert len(h.transfers()) == 2


# --- acceptance ---------------------------------------------------------------------------------

@pytest.mark.parametrize("nominee, promote, old_role", [
    (UMA, [], "secondary"),                 # two secondaries: Pat makes three
    (SAM, [], "secondary"),                 # the nominee leaves the secondaries
    (UMA, [ULF], "secondary"),              # three secondaries: Pat makes four
    (UMA, [ULF, VAL], "user"),              # four secondaries: no room, Pat becomes a user
    (SAM, [ULF, VAL], "secondary"),         # four, but the nominee is one of them: room for Pat
])
def test_on_acceptance_the_nominee_is_primary_and_the_old_primary_steps_down(h, smtp, nominee, promote, old_role):
    for email in promote:
        h.set_role(email, "secondary")
    h.offer(nominee)
    h.assert_one_primary(PAT)
    smtp.wait_for(1)
    response, offer_url, client = h.accept(nominee)
    assert response.status_code == 303 and response.location == f"/sites/{h.a}/"
    h.assert_one_primary(nominee)
    roles = h.roles()
    assert roles[PAT] == old_role and roles[nominee] == "primary"
    assert sum(role == "secondary" for role in roles.values()) <= 4
    assert h.privileges(nominee) == 0, "the primary holds everything implicitly"
    page = client.get(response.location)
    assert "Your role on this site: Primary contact" in page_text(page)
    assert "You are now the primary contact of this site." in page_text(page)
    [transfer] = h.transfers()
    assert transfer.accepted_at is not None
    [event] = h.audit("primary.transferred")
    assert event.actor_label == nominee and event.before == {"primary": PAT}
    assert event.after == {"primary": nominee, "old_primary_role": old_role}
    mails = h.outbox("primary_transferred")
    assert sorted(m.recipient for m in mails) == sorted([PAT, nominee])
    name = " ".join(NAMES[nominee])
    label = {"secondary": "secondary contact", "user": "user"}[old_role]
    for mail in mails:
        assert f"{name} is now the primary contact of site" in mail.text_body
        assert f"Pat Primary is now {label}." in mail.text_body
    arrived = {m["To"] for m in smtp.wait_for(3)[1:]}
    assert arrived == {PAT, nominee}
    # The offer is spent.
    assert client.get(offer_url).status_code == 410
    assert h.post(offer_url, client=client).status_code == 409
    h.assert_one_primary(nominee)


def test_after_the_transfer_the_new_primary_has_the_primarys_pages_and_the_old_one_not(h):
    h.offer(UMA)
    h.accept(UMA)
    uma = h.become(UMA, h.new_client())
    assert uma.get(f"/sites/{h.a}/primary").status_code == 200
    assert uma.get(f"/sites/{h.a}/members").status_code == 200
    pat = h.become(PAT, h.new_client())
    assert pat.get(f"/sites/{h.a}/primary").status_code == 403
    assert pat.get(f"/sites/{h.a}/members").status_code == 403, "a new secondary starts with no privilege"


def test_the_old_primary_can_leave_after_the_transfer(h):
    h.offer(SAM)
    h.accept(SAM)
    h.become(PAT)
    response = h.post(f"/sites/{h.a}/leave")
    assert response.status_code == 303 and response.location == "/"
    assert PAT not in h.roles()
    h.assert_one_primary(SAM)
    assert h.client.get(f"/sites/{h.a}/").status_code == 404


# --- one primary at every moment ----------------------------------------------------------------

def test_the_database_refuses_a_second_primary(h):
    with h.app.app_context():
        membership = db.session.get(Membership, h.ids[SUE])
        membership.role = "primary"
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
    h.assert_one_primary(PAT)


def _watch_flushes(h, site_id):
    """Record, after every flush of the session, the site's primaries inside the transaction and
    as another connection sees them."""
    seen = []

    def after_flush(session, _context):
        inside = session.connection().execute(sa.select(sa.func.count()).select_from(Membership).where(
            Membership.site_id == site_id, Membership.role == "primary")).scalar()
        seen.append((inside, len(h.primaries(site_id))))

    return seen, after_flush


@pytest.mark.parametrize("nominee", [UMA, SAM])
def test_hand_over_never_flushes_two_primaries(h, nominee):
    with h.app.app_context():
        site = db.session.get(Site, h.a)
        old = membership_of(find_person(PAT), h.a)
        new = membership_of(find_person(nominee), h.a)
        seen, listener = _watch_flushes(h, h.a)
        sa.event.listen(db.session, "after_flush", listener)
        try:
            transfers.hand_over(site, old, new)
            db.session.commit()
        finally:
            sa.event.remove(db.session, "after_flush", listener)
    assert seen, "hand_over flushed its changes"
    assert all(inside <= 1 for inside, _outside in seen), f"two primaries inside the transaction: {seen}"
    assert all(outside == 1 for _inside, outside in seen), f"others saw a site without one primary: {seen}"
    h.assert_one_primary(nominee)


def test_hand_over_in_the_other_order_would_be_refused_by_the_index(h):
    """The guard is real: promoting before demoting is what the partial unique index refuses."""
    with h.app.app_context():
        new = membership_of(find_person(UMA), h.a)
        new.role = "primary"
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
    h.assert_one_primary(PAT)


def test_the_count_of_primaries_is_one_after_every_step_of_a_transfer(h):
    counts = [h.primaries()]
    row = h.offer(SUE)
    counts.append(h.primaries())
    nominee = h.become(SUE, h.new_client())
    landing = nominee.get(h.offer_path(row)).location
    nominee.get(landing)
    counts.append(h.primaries())
    h.post(landing, client=nominee)
    counts.append(h.primaries())
    h.become(PAT)
    h.post(f"/sites/{h.a}/leave")
    counts.append(h.primaries())
    assert counts == [[PAT], [PAT], [PAT], [SUE], [SUE]]
    assert h.primaries(h.b) == [BEA], "another site is untouched"


# --- leaving ------------------------------------------------------------------------------------

def test_the_primary_cannot_leave_and_is_told_to_transfer_first(h):
    h.become(PAT)
    before = h.state()
    response = h.post(f"/sites/{h.a}/leave")
    assert response.status_code == 303 and response.location == f"/sites/{h.a}/"
    page = page_text(h.client.get(response.location))
    assert "You are the primary contact: transfer the primary role before you leave." in page
    assert h.state() == before
    h.assert_one_primary(PAT)


@pytest.mark.parametrize("who", [SAM, SUE, UMA])
def test_other_members_can_leave_and_then_the_site_is_not_found(h, who):
    client = h.become(who)
    start = client.get(f"/sites/{h.a}/").get_data(as_text=True)
    assert "Leave site" in start
    response = h.post(f"/sites/{h.a}/leave")
    assert response.status_code == 303 and response.location == "/"
    assert who not in h.roles()
    h.assert_one_primary(PAT)
    assert "You left Acme Works." in page_text(client.get("/", follow_redirects=True))
    for path in ("/", "/contacts", "/my-access"):
        assert client.get(f"/sites/{h.a}{path}").status_code == 404, path
    assert h.post(f"/sites/{h.a}/leave").status_code == 404
    [event] = h.audit("membership.left")
    assert event.actor_label == who and event.target_label == who and event.site_id == h.a
    assert event.before["role"] == {SAM: "secondary", SUE: "secondary", UMA: "user"}[who]


def test_leaving_with_htmx_redirects_the_browser(h):
    h.become(UMA)
    response = h.post(f"/sites/{h.a}/leave", htmx=True)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/"
    assert UMA not in h.roles()


def test_a_stranger_cannot_leave_a_site(h):
    h.become(OUTSIDER)
    before = h.state()
    assert h.post(f"/sites/{h.a}/leave").status_code == 404
    h.become(BEA)
    assert h.post(f"/sites/{h.a}/leave").status_code == 404
    assert h.state() == before


# --- orphaned-site recovery by an operator ------------------------------------------------------

def recover(h, **form):
    h.become(OPERATOR)
    return h.post(f"/operator/sites/{h.a}/primary", {"membership_id": "", "email": "",
                                                     "justification": JUSTIFICATION, **form})


@pytest.mark.parametrize("member, promote, old_role", [
    (SUE, [], "secondary"),
    (UMA, [], "secondary"),
    (UMA, [ULF, VAL], "user"),
])
def test_the_operator_makes_a_member_primary_with_a_justification(h, member, promote, old_role):
    for email in promote:
        h.set_role(email, "secondary")
    response = recover(h, membership_id=str(h.ids[member]))
    assert response.status_code == 303 and response.location == f"/operator/sites/{h.a}"
    page = page_text(h.client.get(response.location))
    assert f"{' '.join(NAMES[member])} is now the primary contact." in page
    h.assert_one_primary(member)
    assert h.roles()[PAT] == old_role
    [event] = h.audit("primary.recovered")
    assert event.actor_label == OPERATOR and event.site_id == h.a and event.target_label == member
    assert event.before == {"primary": PAT}
    assert event.after == {"primary": member, "justification": JUSTIFICATION, "old_primary_role": old_role}
    mails = h.outbox("primary_transferred")
    assert sorted(m.recipient for m in mails) == sorted([PAT, member]), "old and new primary are mailed"


@pytest.mark.parametrize("form, field_id, message", [
    ({"justification": ""}, "justification", "This field is required."),
    ({"justification": "   "}, "justification", None),
    ({}, "email", "Choose a member or give an email address."),
])
def test_recovery_needs_a_justification_and_a_new_primary(h, form, field_id, message):
    before = h.state()
    fields = {"membership_id": str(h.ids[SUE])} if field_id == "justification" else {}
    response = recover(h, **{**fields, **form})
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), field_id)
    if message:
        assert message in error
    assert h.state() == before
    h.assert_one_primary(PAT)


def test_recovery_refuses_the_current_primary_and_members_of_other_sites(h):
    before = h.state()
    response = recover(h, membership_id=str(h.ids[PAT]))
    assert response.status_code == 422
    assert "already the primary contact" in page_text(response)
    assert recover(h, membership_id=str(h.ids[BEN])).status_code == 404
    assert h.state() == before


@pytest.mark.parametrize("who, status", [(PAT, 403), (SAM, 403), (UMA, 403), (OUTSIDER, 403)])
def test_only_an_operator_recovers_a_site(h, who, status):
    before = h.state()
    h.become(who)
    response = h.post(f"/operator/sites/{h.a}/primary", {"membership_id": str(h.ids[who]) if who in h.ids else "",
                                                         "justification": JUSTIFICATION})
    assert response.status_code == status
    assert h.state() == before


def test_recovery_by_email_invites_and_acceptance_replaces_the_old_primary(h, smtp):
    response = recover(h, email="new.boss@example.com")
    assert response.status_code == 303
    assert "new.boss@example.com is invited to become primary contact." in page_text(h.client.get(response.location))
    h.assert_one_primary(PAT)  # until the invitation is accepted
    with h.app.app_context():
        invitation = db.session.scalar(sa.select(Invitation).where(Invitation.email == "new.boss@example.com"))
        assert (invitation.role, invitation.status(), invitation.site_id) == ("primary", "open", h.a)
    [event] = h.audit("primary.recovery_invited")
    assert event.actor_label == OPERATOR and event.before == {"primary": PAT}
    assert event.after == {"invited": "new.boss@example.com", "justification": JUSTIFICATION}
    [message] = smtp.wait_for(1)
    assert message["To"] == "new.boss@example.com"
    link = link_in(message, "/invitations/").removeprefix("http://localhost")
    marker = h.last_audit_id()
    accepted = h.new_client().submit(link, {"first_name": "Nora", "last_name": "Boss", "password": PASSWORD,
                                            "confirm": PASSWORD})
    assert accepted.status_code == 303 and accepted.location == f"/sites/{h.a}/"
    h.assert_one_primary("new.boss@example.com")
    assert h.roles()[PAT] == "secondary"
    mails = h.outbox("primary_transferred")
    assert sorted(m.recipient for m in mails) == sorted([PAT, "new.boss@example.com"])
    assert all("Nora Boss is now the primary contact of site" in m.text_body for m in mails)
    # The change of primacy at acceptance is audited: who is primary now, and what the old primary became.
    events = h.audit(since=marker)
    assert any(PAT in json.dumps([e.before, e.after, e.target_label]) and "secondary" in json.dumps(e.after)
               for e in events), [(e.action, e.before, e.after) for e in events]


def test_recovery_by_email_of_an_account_outside_the_site(h):
    recover(h, email=OUTSIDER)
    [row] = h.outbox("invitation")
    link = re.search(r"http://localhost(/invitations/\S+)", row.text_body).group(1)
    client = h.become(OUTSIDER, h.new_client())
    accepted = h.post(link, client=client)
    assert accepted.status_code == 303
    h.assert_one_primary(OUTSIDER)
    assert h.roles()[PAT] == "secondary"


def test_recovery_by_email_of_someone_already_a_member_makes_them_primary(h):
    # The operator types the email of a member instead of choosing them from the list: the result must be
    # the same (or a clear refusal at once), never an invitation its addressee cannot accept.
    response = recover(h, email=SUE)
    if response.status_code == 422:
        assert "email" in response.get_data(as_text=True)
        h.assert_one_primary(PAT)
        return
    assert response.status_code == 303
    if h.primaries() == [SUE]:
        return
    [row] = h.outbox("invitation")
    link = re.search(r"http://localhost(/invitations/\S+)", row.text_body).group(1)
    client = h.become(SUE, h.new_client())
    accepted = h.post(link, client=client)
    assert accepted.status_code == 303, page_text(accepted)
    h.assert_one_primary(SUE)


def test_the_operator_site_page_offers_recovery(h):
    h.become(OPERATOR)
    markup = h.client.get(f"/operator/sites/{h.a}").get_data(as_text=True)
    assert "Name a new primary contact" in markup and "Pat Primary &lt;pat@example.com&gt;" in markup
    options = set(re.findall(r'<option value="(\d+)"', markup))
    assert options == {str(h.ids[e]) for e in (SAM, SUE, UMA, ULF, VAL)}
