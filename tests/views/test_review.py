"""Access review (SPEC §8) through the client: the Access review page (who sees it, the list, its
search, filter and pages, the progress and the last review's summary), starting a review (the
primary only, one at a time, in the database too), confirming and revoking each line once, by its
own id (who may, whose line, the htmx row with its out-of-band regions, conflicts answered 409), the
member who loses access at once, members who join, leave or are given access again meanwhile,
finishing early and completing by itself, lines of another site's review, the audit trail, and two
reviewers deciding the same line at the same moment.

Every test gets a copy of one world built once for the module (see module_world_fixtures in
tests/helpers/module_world.py), as in tests/views/test_members.py."""
from __future__ import annotations

import json
import re
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models import AccessReview, AccessReviewItem, AuditEvent, Membership, OutboxMail, Person, Site, db
from models import membership as members
from models import review as reviews
from models.base import utcnow
from models.person import find_person
from tests.helpers.module_world import SessionHelper, module_world_fixtures
from tests.helpers.world import World
from tests.helpers.pages import page_text, page_tree, text
from tests.helpers.times import DAY_PATTERN, MINUTE_PATTERN, shown_day

SITE_A, SITE_B, SITE_C = "SA-1001", "SB-2002", "SC-3003"
PRIMARY = "primary@example.com"       # primary of site A
MANAGER = "manager@example.com"       # secondary of A, Manage access = Update: a reviewer
QUIET = "quiet@example.com"           # secondary of A, Manage access = Update: another reviewer
VIEWER = "viewer@example.com"         # secondary of A, Manage access = View: sees the review, decides nothing
ALICE = "alice@example.com"           # user of A
BOB = "bob@example.com"               # user of A
CAROL = "carol@example.com"           # user of A, no Manage access: does not see the review
ERIN = "erin@example.com"             # has an account, member of no site (joins A during a review)
OPERATOR = "operator@example.com"
PRIMARY_B = "primary.b@example.com"   # primary of site B
B_USER = "b.user@example.com"         # user of B
B_TWO = "b.two@example.com"           # user of B (leaves B during a review)
PRIMARY_C = "primary.c@example.com"   # primary of site C, which has CROWD users (two pages)
CROWD = 27

NAMES = {PRIMARY: ("Pat", "Primary"), MANAGER: ("Mia", "Manager"), QUIET: ("Quinn", "Quiet"),
         VIEWER: ("Vic", "Viewer"), ALICE: ("Alice", "Archer"), BOB: ("Bob", "Baker"), CAROL: ("Carol", "Cole"),
         ERIN: ("Erin", "Example"), PRIMARY_B: ("Bea", "Beta"), B_USER: ("Ben", "Other"), B_TWO: ("Tess", "Two"),
         PRIMARY_C: ("Cleo", "Crowd")}
SIGNED_IN = (PRIMARY, MANAGER, QUIET, VIEWER, ALICE, BOB, CAROL, OPERATOR, PRIMARY_B, B_TWO, PRIMARY_C)
# Everyone of site A whose membership a review of A holds (all but the primary).
REVIEWED_A = (MANAGER, QUIET, VIEWER, ALICE, BOB, CAROL)

ALREADY_RUNNING = "An access review is already in progress."
NOT_RUNNING = "No access review is in progress."
FINISHED = "This access review is finished."
PRIMARY_NOT_REVIEWED = "The primary contact's access is not reviewed; it changes only by transfer."


def crowd(number: int) -> str:
    return f"crowd{number:02d}@example.com"


# --- the world, built once ----------------------------------------------------------------------

def build_world(world: World, app) -> dict:
    for email, (first, last) in NAMES.items():
        world.person(email, first_name=first, last_name=last)
    world.operator(OPERATOR)
    site_a = world.site(PRIMARY, number=SITE_A, customer="Acme Corp", name="Acme Works")
    world.member(site_a, MANAGER, "secondary", {"manage_access": 2, "software": 1})
    world.member(site_a, QUIET, "secondary", {"manage_access": 2})
    world.member(site_a, VIEWER, "secondary", {"manage_access": 1})
    world.member(site_a, ALICE, "user", {"software": 1, "support": 1})
    world.member(site_a, BOB, "user", {"reporting": 1})
    world.member(site_a, CAROL, "user", {"software": 1})
    site_b = world.site(PRIMARY_B, number=SITE_B, customer="Beta Corp", name="Beta Plant")
    world.member(site_b, B_USER, "user", {"reporting": 1})
    world.member(site_b, B_TWO, "user", {"software": 1})
    site_c = world.site(PRIMARY_C, number=SITE_C, customer="Crowd Corp", name="Crowd Hall")
    for number in range(1, CROWD + 1):
        world.person(crowd(number), first_name=f"Member{number:02d}", last_name="Crowd")
        world.member(site_c, crowd(number), "user")
    with app.app_context():
        # Mail of the world is not what the tests look at.
        db.session.execute(sa.update(OutboxMail).values(status="sent", sent_at=utcnow()))
        db.session.commit()
        ids = {"site_a": site_a, "site_b": site_b, "site_c": site_c}
        for membership in db.session.scalars(sa.select(Membership)):
            ids[(membership.site_id, membership.person.email)] = membership.id
    return ids


class Helper(SessionHelper):
    def mid(self, email, site=None) -> int:
        """The membership id of a person on a site (A by default), as the world built it."""
        return self.ids[(site or self.a, email)]

    def url(self, path="", site=None) -> str:
        return f"/sites/{site or self.a}/review{path}"

    def line(self, email, site=None) -> int:
        """The id of a person's line in the site's latest review (A by default), which must exist."""
        def read():
            found = reviews.review_line(reviews.last_review(site or self.a), find_person(email).id)
            assert found is not None, f"{email} has no line in the latest review"
            return found.id
        return self.read(read)

    def line_row(self, email, site=None) -> str:
        """The id of the list's row of a member with a line in the latest review."""
        return f"review-line-{self.line(email, site)}"

    def member_row(self, email, site=None) -> str:
        """The id of the list's row of a member without a line, by the membership the world built."""
        return f"review-member-{self.mid(email, site)}"

    def line_url(self, line_id, site=None) -> str:
        return self.url(f"/lines/{line_id}", site)

    def decide_url(self, email, site=None, url_site=None) -> str:
        """The URL deciding a person's line of the latest review of `site`, under `url_site`'s review."""
        return self.line_url(self.line(email, site), url_site or site)

    def forge_line(self, email, site=None) -> int:
        """Insert a line for a person into the site's review in progress directly, as no rule does."""
        def forge():
            line = AccessReviewItem(review_id=reviews.open_review(site or self.a).id, person_id=find_person(email).id)
            db.session.add(line)
            db.session.commit()
            return line.id
        return self.read(forge)

    def start(self, email=PRIMARY, site=None):
        self.become(email)
        return self.post(self.url(site=site))

    def started(self, site=None):
        """Start a review as the site's primary, which must work."""
        primary = {self.a: PRIMARY, self.b: PRIMARY_B, self.ids["site_c"]: PRIMARY_C}[site or self.a]
        response = self.start(primary, site)
        assert response.status_code == 303, page_text(response)[:300]
        return response

    def decide(self, actor, target, decision, htmx=False, site=None, client=None):
        if client is None:
            self.become(actor)
        return self.post(self.decide_url(target, site), {"decision": decision}, htmx=htmx, client=client)

    def page(self, actor=PRIMARY, site=None, **args):
        self.become(actor)
        query = "&".join(f"{key}={value}" for key, value in args.items())
        return self.client.get(self.url(site=site) + (f"?{query}" if query else ""))

    def reviews(self, site=None) -> list[dict]:
        return self.read(lambda: [
            dict(id=r.id, started_by=r.started_by.email if r.started_by else None, completed=r.completed_at is not None)
            for r in db.session.scalars(sa.select(AccessReview).where(AccessReview.site_id == (site or self.a))
                                        .order_by(AccessReview.id))])

    def lines(self, site=None) -> dict[str, tuple[str | None, str | None]]:
        """email → (decision, decided by) of the lines of the site's latest review."""
        def read():
            review = reviews.last_review(site or self.a)
            if review is None:
                return {}
            return {i.person.email: (i.decision, i.decided_by.email if i.decided_by else None)
                    for i in db.session.scalars(sa.select(AccessReviewItem)
                                                .where(AccessReviewItem.review_id == review.id))}
        return self.read(read)

    def progress(self, site=None) -> dict | None:
        def read():
            review = reviews.last_review(site or self.a)
            return reviews.review_progress(review) if review else None
        return self.read(read)

    def membership(self, email, site=None) -> dict | None:
        def read():
            found = db.session.scalar(sa.select(Membership).join(Membership.person).where(
                Person.email == email, Membership.site_id == (site or self.a)))
            return None if found is None else dict(id=found.id, role=found.role,
                                                   last_confirmed_at=found.last_confirmed_at)
        return self.read(read)

    def actions(self, site=None) -> list[tuple[str, str, str]]:
        """(action, actor, target) of the site's review and removal events, in order."""
        return [(e.action, e.actor_label, e.target_label) for e in self.audit(site=site)
                if e.action.startswith("review.") or e.action in ("membership.removed", "membership.left")]

    def state(self):
        """Everything a refused step must leave as it was, read in one go."""
        return self.read(lambda: (
            {(r.id, r.site_id, r.started_by_id, r.started_at, r.completed_at)
             for r in db.session.scalars(sa.select(AccessReview))},
            {(i.id, i.review_id, i.person_id, i.decision, i.decided_by_id, i.decided_at)
             for i in db.session.scalars(sa.select(AccessReviewItem))},
            {(m.id, m.site_id, m.person_id, m.role, m.last_confirmed_at)
             for m in db.session.scalars(sa.select(Membership))},
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
        ))

    def add_member(self, email, by=PRIMARY, site=None):
        """Give an existing person access through the rules (as Add new user does)."""
        def add():
            site_row = db.session.get(Site, site or self.a)
            membership = members.add_member(site_row, find_person(by), email, "user", "Joins the team", {})
            db.session.commit()
            return membership.id
        return self.read(add)


module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, SIGNED_IN, Helper)


# --- reading pages ------------------------------------------------------------------------------

PROGRESS = re.compile(r"(\d+) of (\d+) members reviewed \((\d+) confirmed, (\d+) revoked\); (\d+) to review\.")


def progress_of(response) -> tuple[int, ...] | None:
    """(decided, total, confirmed, revoked, to review) as the progress sentence says them."""
    match = PROGRESS.search(page_text(response))
    return tuple(int(n) for n in match.groups()) if match else None


def meter(response) -> tuple[int, int] | None:
    found = page_tree(response).find("progress", id="review-meter")
    return (int(found.get("value")), int(found.get("max"))) if found else None


def rows(response) -> dict[str, list[str]]:
    """row id ("review-line-<line id>" or "review-member-<membership id>") → the words of each cell of
    the review list's rows."""
    found = {}
    for row in page_tree(response).find_all("tr", id=lambda value: value.startswith("review-")):
        assert re.fullmatch(r"review-(line|member)-\d+", row.get("id")), row.get("id")
        found[row.get("id")] = row.cells()
    return found


def emails_listed(response) -> set[str]:
    return {cells[1] for cells in rows(response).values()}


def row_markup(response, row_id) -> str:
    found = page_tree(response).find("tr", id=row_id)
    assert found, f"no row {row_id}"
    return found.outer_html


def page_error(response) -> str | None:
    """The words of the error above the list (page_error), if the page shows one."""
    found = page_tree(response).find("p", class_="form-errors", role="alert")
    return found.text if found else None


def oob_progress(response) -> str:
    """The words of the progress section an htmx answer swaps out of band."""
    found = page_tree(response).find("section", id="review-progress", hx_swap_oob="true")
    assert found, "no out-of-band progress"
    return found.text


def progress_section(response) -> str:
    """The words of the page's progress section (with the primary's button to start or finish)."""
    found = page_tree(response).find("section", id="review-progress")
    assert found, "no progress section"
    return found.text


def assert_fragment(response):
    body = response.get_data(as_text=True)
    assert "<html" not in body and "<!doctype" not in body.lower(), "htmx got a whole page"
    assert "HX-Request" in response.headers.get("Vary", "")


def swaps(config_page, status: int) -> bool:
    """Whether htmx, configured by the page's htmx-config meta, swaps a response with this status."""
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']+)'>",
                                  config_page.get_data(as_text=True)).group(1))
    for rule in config.get("responseHandling", []):
        if re.fullmatch(rule["code"], str(status)):
            return bool(rule.get("swap"))
    return False


# === the page ====================================================================================

def test_page_lists_every_member_but_the_primary_before_any_review(h):
    response = h.page(PRIMARY)
    assert response.status_code == 200
    words = page_text(response)
    assert "Access review" in words and "This site has not been reviewed yet." in words
    assert "Start access review" in words and "Finish review" not in words
    assert "Start access review" in progress_section(response)
    assert progress_of(response) is None and meter(response) is None
    listed = rows(response)
    # No review, no lines: every row is a member's.
    assert set(listed) == {h.member_row(email) for email in REVIEWED_A}
    assert h.member_row(PRIMARY) not in listed and PRIMARY not in emails_listed(response)
    name, email, role, last_confirmed, in_review = listed[h.member_row(ALICE)]
    assert (name, email, role, last_confirmed, in_review) == ("Alice Archer", ALICE, "User", "Never", "—")
    assert listed[h.member_row(MANAGER)][2] == "Secondary contact"
    assert "6 members" in words
    assert 'name="decision"' not in response.get_data(as_text=True)  # nothing to decide without a review


@pytest.mark.parametrize("actor, status, offers_start", [
    (PRIMARY, 200, True), (MANAGER, 200, False), (VIEWER, 200, False), (OPERATOR, 200, False),
    (CAROL, 403, False), (ALICE, 403, False), (PRIMARY_B, 404, False),
], ids=["primary", "manage update", "manage view", "operator", "no manage access", "user", "other site"])
def test_who_sees_the_page(h, actor, status, offers_start):
    response = h.page(actor)
    assert response.status_code == status
    assert ("Start access review" in page_text(response)) is offers_start
    if status == 404:
        assert "Acme" not in page_text(response)


def test_navigation_links_the_page_for_those_who_see_it(h):
    link = f'href="{h.url()}"'
    for actor, shown in ((PRIMARY, True), (VIEWER, True), (CAROL, False)):
        h.become(actor)
        assert (link in h.client.get(f"/sites/{h.a}/").get_data(as_text=True)) is shown, actor


# === starting ====================================================================================

def test_primary_starts_a_review_of_every_member_but_the_primary_in_one_statement(h):
    inserts = []

    def count(_conn, _cursor, statement, _parameters, _context, executemany):
        if re.match(r"\s*INSERT INTO access_review_item\b", statement, re.I):
            inserts.append((statement, executemany))

    with h.app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = h.start(PRIMARY)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 303 and response.location == h.url()
    [review] = h.reviews()
    assert review["started_by"] == PRIMARY and not review["completed"]
    assert h.lines() == {email: (None, None) for email in REVIEWED_A}
    assert len(inserts) == 1 and not inserts[0][1], inserts
    [started] = h.audit("review.started")
    assert (started.actor_label, started.target_type, started.target_id) == (PRIMARY, "access_review", review["id"])
    assert started.after == {"members": 6}

    page = h.client.get(response.location)
    words = page_text(page)
    assert "The access review has started: confirm or revoke each member below." in words
    assert "Review started by Pat Primary on" in words
    assert progress_of(page) == (0, 6, 0, 0, 6) and meter(page) == (0, 6)
    assert "0 of 6 members reviewed (0 confirmed, 0 revoked); 6 to review." in words
    assert "Finish review" in words and "Start access review" not in words
    assert "Finish review" in progress_section(page)  # swapped with the progress
    listed = rows(page)
    assert set(listed) == {h.line_row(email) for email in REVIEWED_A}
    assert {cells[4] for cells in listed.values()} == {"To review"}
    # The primary decides every line but none of her own (hers is not listed at all).
    assert page.get_data(as_text=True).count('name="decision" value="confirmed"') == 6
    # Each row's buttons post to its own line and swap its own row.
    for email in REVIEWED_A:
        markup, url = row_markup(page, h.line_row(email)), h.decide_url(email)
        assert f'action="{url}"' in markup and markup.count(f'hx-post="{url}"') == 2, email
        assert markup.count(f'hx-target="#{h.line_row(email)}"') == 2, email


@pytest.mark.parametrize("actor, status", [(MANAGER, 403), (VIEWER, 403), (OPERATOR, 403), (CAROL, 403),
                                           (PRIMARY_B, 404)],
                         ids=["manage update", "manage view", "operator", "no manage access", "other site"])
def test_only_the_primary_starts_a_review(h, actor, status):
    before = h.state()
    assert h.start(actor).status_code == status
    assert h.state() == before
    assert h.reviews() == []


def test_a_second_review_is_refused_while_one_runs(h):
    h.started()
    before = h.state()
    response = h.start(PRIMARY)
    assert response.status_code == 409
    assert ALREADY_RUNNING in page_text(response)
    assert progress_of(response) == (0, 6, 0, 0, 6)
    assert h.state() == before
    assert len(h.reviews()) == 1 and len(h.audit("review.started")) == 1


def test_a_review_starts_only_with_the_csrf_token(h):
    h.become(PRIMARY)
    before = h.state()
    response = h.client.post(h.url())
    assert response.status_code == 400
    assert h.state() == before


# === deciding ====================================================================================

def test_confirm_records_when_and_by_whom_and_redirects_with_a_flash(h):
    h.started()
    [review] = h.reviews()
    before = utcnow()
    response = h.decide(MANAGER, ALICE, "confirmed")
    assert response.status_code == 303 and response.location == h.url()
    assert h.lines()[ALICE] == ("confirmed", MANAGER)
    confirmed_at = h.membership(ALICE)["last_confirmed_at"]
    assert confirmed_at is not None and before <= confirmed_at <= utcnow()
    assert h.membership(ALICE)["role"] == "user"
    [event] = h.audit("review.confirmed")
    assert (event.actor_label, event.target_type, event.target_label) == (MANAGER, "person", ALICE)
    assert event.after == {"review": review["id"]}
    assert h.audit("membership.removed") == []

    page = h.client.get(response.location)
    assert "Alice Archer is confirmed." in page_text(page)
    assert progress_of(page) == (1, 6, 1, 0, 5) and meter(page) == (1, 6)
    cells = rows(page)[h.line_row(ALICE)]
    assert cells[3] == shown_day(confirmed_at)
    assert cells[4] == "Confirmed (Mia Manager)"
    assert 'name="decision"' not in row_markup(page, h.line_row(ALICE))  # decided: no more buttons
    assert h.progress() == dict(to_review=5, confirmed=1, revoked=0, total=6, decided=1, percent=17)


def test_confirm_with_htmx_answers_the_row_and_updates_progress_and_status_out_of_band(h):
    h.started()
    response = h.decide(PRIMARY, ALICE, "confirmed", htmx=True)
    assert response.status_code == 200
    assert_fragment(response)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="{h.line_row(ALICE)}"')
    assert rows(response)[h.line_row(ALICE)][4] == "Confirmed (Pat Primary)"
    assert 'name="decision"' not in row_markup(response, h.line_row(ALICE))
    assert re.search(r'<section id="review-progress"[^>]*hx-swap-oob="true"', body)
    assert progress_of(response) == (1, 6, 1, 0, 5) and meter(response) == (1, 6)
    # The review runs on: the primary's out-of-band progress keeps its Finish button.
    assert "Finish review" in oob_progress(response) and "Start access review" not in oob_progress(response)
    status = re.search(r'<p id="review-status"[^>]*hx-swap-oob="true">(.*?)</p>', body, re.S)
    assert status and text(status.group(1)) == "Alice Archer is confirmed."
    assert h.lines()[ALICE] == ("confirmed", PRIMARY)
    assert h.membership(ALICE)["last_confirmed_at"] is not None


def test_revoke_removes_the_member_who_loses_access_at_their_next_request(h):
    h.started()
    alice = h.new_client(ALICE)  # Alice's session stays open throughout
    assert alice.get(f"/sites/{h.a}/").status_code == 200
    assert alice.get(f"/sites/{h.a}/my-access").status_code == 200

    response = h.decide(PRIMARY, ALICE, "revoked", htmx=True)
    assert response.status_code == 200
    assert_fragment(response)
    # What is left of the row: Alice, revoked by Pat Primary, nothing more to decide.
    cells = rows(response)[h.line_row(ALICE)]
    assert cells[:2] == ["Alice Archer", ALICE] and cells[4] == "Revoked (Pat Primary)"
    assert 'name="decision"' not in row_markup(response, h.line_row(ALICE))
    assert progress_of(response) == (1, 6, 0, 1, 5)
    assert "Alice Archer no longer has access to this site." in page_text(response)

    assert h.membership(ALICE) is None
    assert h.lines()[ALICE] == ("revoked", PRIMARY)
    assert h.actions() == [("review.started", PRIMARY, ""), ("review.revoked", PRIMARY, ALICE),
                           ("membership.removed", PRIMARY, ALICE)]
    [removed] = h.audit("membership.removed")
    assert removed.before["role"] == "user"

    assert alice.get(f"/sites/{h.a}/").status_code == 404
    assert alice.get(f"/sites/{h.a}/my-access").status_code == 404
    assert alice.get(h.url()).status_code == 404

    page = h.page(PRIMARY)
    assert h.line_row(ALICE) not in rows(page) and ALICE not in emails_listed(page)
    revoked = page_text(page).split("Revoked in this review", 1)[1]
    assert f"Alice Archer ({ALICE}) — revoked by Pat Primary on" in revoked
    assert progress_of(page) == (1, 6, 0, 1, 5)


def test_revoke_without_htmx_redirects_with_a_flash(h):
    h.started()
    response = h.decide(MANAGER, BOB, "revoked")
    assert response.status_code == 303 and response.location == h.url()
    assert h.membership(BOB) is None
    page = h.client.get(response.location)
    assert "Bob Baker no longer has access to this site." in page_text(page)
    assert progress_of(page) == (1, 6, 0, 1, 5)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("second", ["confirmed", "revoked"])
def test_a_line_is_decided_once(h, htmx, second):
    h.started()
    assert h.decide(MANAGER, BOB, "confirmed").status_code == 303
    before = h.state()
    response = h.decide(QUIET, BOB, second, htmx=htmx)
    assert response.status_code == 409
    assert "Mia Manager already decided this one (Confirmed)." in page_text(response)
    if htmx:
        assert_fragment(response)
        assert rows(response)[h.line_row(BOB)][0].startswith("Bob Baker")
    else:
        assert page_error(response) == "Mia Manager already decided this one (Confirmed)."
    assert h.state() == before
    assert h.lines()[BOB] == ("confirmed", MANAGER) and h.membership(BOB) is not None
    assert len(h.audit("review.confirmed")) == 1 and h.audit("review.revoked") == []


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_revoked_line_tells_the_next_reviewer_who_revoked_it(h, htmx):
    h.started()
    assert h.decide(PRIMARY, ALICE, "revoked").status_code == 303
    before = h.state()
    response = h.decide(MANAGER, ALICE, "confirmed", htmx=htmx)
    assert h.state() == before
    assert response.status_code == 409
    assert "Pat Primary already decided this one (Revoked)." in page_text(response)
    if not htmx:
        assert page_error(response) == "Pat Primary already decided this one (Revoked)."


def test_an_htmx_reviewer_who_lost_is_shown_who_decided(h):
    h.started()
    assert h.decide(MANAGER, BOB, "confirmed").status_code == 303
    page = h.page(QUIET)
    response = h.decide(QUIET, BOB, "confirmed", htmx=True)
    assert response.status_code == 409
    assert_fragment(response)
    assert "Mia Manager already decided this one (Confirmed)." in page_text(response)
    # The message is in the row htmx swaps in, and htmx (as the page configures it) swaps a 409.
    row = row_markup(response, h.line_row(BOB))
    assert 'aria-invalid="true"' in row and "Mia Manager already decided this one (Confirmed)." in text(row)
    assert swaps(page, 409) and swaps(page, 422) and not swaps(page, 403)
    # Status and progress come along; a secondary gets no button to start or finish.
    status = re.search(r'<p id="review-status"[^>]*hx-swap-oob="true">(.*?)</p>', response.get_data(as_text=True), re.S)
    assert status and text(status.group(1)) == "Mia Manager already decided this one (Confirmed)."
    assert progress_of(response) == (1, 6, 1, 0, 5)
    assert "Finish review" not in oob_progress(response) and "Start access review" not in oob_progress(response)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_nobody_decides_their_own_line(h, htmx):
    h.started()
    page = h.page(MANAGER)
    assert 'name="decision"' not in row_markup(page, h.line_row(MANAGER))
    assert 'name="decision"' in row_markup(page, h.line_row(QUIET))
    before = h.state()
    response = h.decide(MANAGER, MANAGER, "confirmed", htmx=htmx)
    assert response.status_code == 422
    assert "You cannot review your own access." in page_text(response)
    assert h.state() == before
    assert h.lines()[MANAGER] == (None, None)


@pytest.mark.parametrize("actor", [MANAGER, PRIMARY], ids=["by a secondary", "by the primary"])
def test_the_primary_is_not_reviewed(h, actor):
    """The primary has no line: nothing to decide, no row, not counted."""
    h.started()
    assert PRIMARY not in h.lines()
    primary_id = h.read(lambda: find_person(PRIMARY).id)
    assert h.read(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(AccessReviewItem)
                                           .where(AccessReviewItem.person_id == primary_id))) == 0
    page = h.page(actor)
    assert PRIMARY not in emails_listed(page) and h.member_row(PRIMARY) not in rows(page)
    assert progress_of(page) == (0, 6, 0, 0, 6) and h.progress()["total"] == 6
    assert page.get_data(as_text=True).count('name="decision" value="confirmed"') == (6 if actor == PRIMARY else 5)
    assert h.membership(PRIMARY)["role"] == "primary"


@pytest.mark.parametrize("actor, message", [
    (MANAGER, PRIMARY_NOT_REVIEWED),
    (PRIMARY, "You cannot review your own access."),
], ids=["by a secondary", "by the primary"])
@pytest.mark.parametrize("decision", ["confirmed", "revoked"])
def test_a_forged_line_of_the_primary_is_refused(h, actor, message, decision):
    """Were a line of the primary's in the review (no rule puts one there), deciding it is refused."""
    h.started()
    line = h.forge_line(PRIMARY)
    before = h.state()
    h.become(actor)
    response = h.post(h.line_url(line), {"decision": decision}, htmx=True)
    assert response.status_code == 422
    assert message in page_text(response)
    assert h.state() == before
    assert h.membership(PRIMARY)["role"] == "primary"


def test_a_refusal_without_htmx_shows_its_message_on_the_page(h):
    """A refused decision answered with the whole page says why, next to the row (or above the list)."""
    h.started()
    response = h.decide(MANAGER, MANAGER, "confirmed")
    assert response.status_code == 422
    assert 'aria-invalid="true"' in row_markup(response, h.line_row(MANAGER))
    assert "You cannot review your own access." in text(row_markup(response, h.line_row(MANAGER)))
    assert page_error(response) == "You cannot review your own access."


def test_a_refusal_on_the_primarys_line_without_htmx_says_why(h):
    """The primary's (forged) line has no row in the list: the page says why above it."""
    h.started()
    line = h.forge_line(PRIMARY)
    h.become(MANAGER)
    response = h.post(h.line_url(line), {"decision": "confirmed"})
    assert response.status_code == 422
    assert PRIMARY_NOT_REVIEWED in page_text(response)
    assert page_error(response) == PRIMARY_NOT_REVIEWED


@pytest.mark.parametrize("actor, status", [(VIEWER, 403), (CAROL, 403), (ALICE, 403), (OPERATOR, 403),
                                           (PRIMARY_B, 404)],
                         ids=["manage view", "no manage access", "user", "operator", "other site"])
def test_only_reviewers_decide(h, actor, status):
    h.started()
    page = h.page(VIEWER)
    assert 'name="decision"' not in page.get_data(as_text=True) and "Finish review" not in page_text(page)
    before = h.state()
    for decision in ("confirmed", "revoked"):
        assert h.decide(actor, BOB, decision, htmx=True).status_code == status
    assert h.state() == before


@pytest.mark.parametrize("decision", ["", "approve", "CONFIRMED"])
def test_an_unknown_decision_is_refused(h, decision):
    h.started()
    before = h.state()
    response = h.decide(MANAGER, BOB, decision, htmx=True)
    assert response.status_code == 422
    assert "Choose Confirm or Revoke." in page_text(response)
    assert h.state() == before


@pytest.mark.parametrize("decision", ["", "approve"])
def test_an_unknown_decision_is_refused_before_any_conflict(h, decision):
    """The decision is checked first: on a decided line, and on a line of a finished review, it is
    still a bad form (422), not a conflict."""
    h.started()
    assert h.decide(MANAGER, ALICE, "confirmed").status_code == 303
    before = h.state()
    response = h.decide(QUIET, ALICE, decision, htmx=True)
    assert response.status_code == 422 and "Choose Confirm or Revoke." in page_text(response)
    h.become(PRIMARY)
    assert h.post(h.url("/finish")).status_code == 303
    before = h.state()
    for htmx in (False, True):
        response = h.decide(QUIET, BOB, decision, htmx=htmx)
        assert response.status_code == 422 and "Choose Confirm or Revoke." in page_text(response)
    assert h.state() == before


def test_no_review_running_is_a_conflict(h):
    # Before any review there are no lines at all (any line id is not found), and nothing to finish.
    before = h.state()
    assert h.lines() == {} and not before[1]
    for htmx in (False, True):
        h.become(MANAGER)
        assert h.post(h.line_url(1), {"decision": "confirmed"}, htmx=htmx).status_code == 404
    h.become(PRIMARY)
    response = h.post(h.url("/finish"))
    assert response.status_code == 409 and NOT_RUNNING in page_text(response)
    assert page_error(response) == NOT_RUNNING
    assert h.state() == before
    # Once the review is over, every line belongs to a finished review: deciding one is a conflict.
    h.started()
    assert h.decide(MANAGER, ALICE, "confirmed").status_code == 303
    h.become(PRIMARY)
    assert h.post(h.url("/finish")).status_code == 303
    before = h.state()
    for decision in ("confirmed", "revoked"):
        for htmx in (False, True):
            response = h.decide(MANAGER, BOB, decision, htmx=htmx)
            assert response.status_code == 409
            assert FINISHED in page_text(response)
            response = h.decide(MANAGER, ALICE, decision, htmx=htmx)
            assert response.status_code == 409
            assert "Mia Manager already decided this one (Confirmed)." in page_text(response)
    h.become(PRIMARY)
    response = h.post(h.url("/finish"))
    assert response.status_code == 409 and NOT_RUNNING in page_text(response)
    assert h.state() == before


def test_a_member_who_joined_after_the_start_is_not_in_the_review(h):
    h.started()
    erin = h.add_member(ERIN)
    page = h.page(PRIMARY)
    assert rows(page)[f"review-member-{erin}"][4] == "Joined after it started"
    assert 'name="decision"' not in row_markup(page, f"review-member-{erin}")
    assert progress_of(page) == (0, 6, 0, 0, 6)  # the total is the review's, not the site's
    assert ERIN not in h.lines()  # no line: no URL to decide her
    # A line of hers forged into the review is refused all the same.
    line = h.forge_line(ERIN)
    before = h.state()
    for htmx in (False, True):
        response = h.post(h.line_url(line), {"decision": "confirmed"}, htmx=htmx)
        assert response.status_code == 409
        assert "Erin Example was given access after this review started." in page_text(response)
    assert h.state() == before
    assert progress_of(h.page(PRIMARY)) == (0, 6, 0, 0, 6)


@pytest.mark.parametrize("first", ["removed", "revoked"])
def test_a_member_given_access_again_during_the_review_is_not_in_it(h, first):
    """Bob loses his access while the review runs (removed, or revoked in it) and is given access
    again: his new membership is not part of the review, and his old line decides nothing more."""
    h.started()
    old_line = h.line(BOB)
    if first == "removed":
        h.become(MANAGER)
        assert h.post(f"/sites/{h.a}/members/{h.mid(BOB)}/remove").status_code == 303
    else:
        assert h.decide(MANAGER, BOB, "revoked").status_code == 303
    assert h.membership(BOB) is None
    bob = h.add_member(BOB)
    assert h.line(BOB) == old_line
    page = h.page(PRIMARY)
    listed = rows(page)
    assert listed[f"review-member-{bob}"][4] == "Joined after it started"
    assert f"review-line-{old_line}" not in listed
    assert 'name="decision"' not in row_markup(page, f"review-member-{bob}")
    assert set(rows(h.page(PRIMARY, show="not_in_review"))) == {f"review-member-{bob}"}
    assert f"review-member-{bob}" not in rows(h.page(PRIMARY, show="to_review"))
    expected = (0, 5, 0, 0, 5) if first == "removed" else (1, 6, 0, 1, 5)
    assert progress_of(page) == expected
    message = ("Bob Baker was given access after this review started." if first == "removed"
               else "Mia Manager already decided this one (Revoked).")
    before = h.state()
    for actor in (MANAGER, PRIMARY):
        for decision in ("confirmed", "revoked"):
            for htmx in (False, True):
                h.become(actor)
                response = h.post(h.line_url(old_line), {"decision": decision}, htmx=htmx)
                assert response.status_code == 409, (actor, decision, htmx)
                assert message in page_text(response)
                if htmx:
                    assert_fragment(response)
                    assert 'name="decision"' not in row_markup(response, f"review-line-{old_line}")
                else:
                    assert page_error(response) == message
    assert h.state() == before
    assert h.membership(BOB)["id"] == bob and progress_of(h.page(PRIMARY)) == expected


def test_members_who_leave_or_are_removed_drop_out_of_the_total(h):
    h.started()
    h.become(CAROL)
    assert h.post(f"/sites/{h.a}/leave").status_code == 303
    h.become(MANAGER)
    assert h.post(f"/sites/{h.a}/members/{h.mid(BOB)}/remove").status_code == 303
    assert h.membership(CAROL) is None and h.membership(BOB) is None
    page = h.page(PRIMARY)
    assert progress_of(page) == (0, 4, 0, 0, 4) and meter(page) == (0, 4)
    assert {CAROL, BOB}.isdisjoint(emails_listed(page))
    # Their lines stay, undecided; deciding them is a conflict.
    before = h.state()
    for email, name in ((CAROL, "Carol Cole"), (BOB, "Bob Baker")):
        for htmx in (False, True):
            response = h.decide(MANAGER, email, "confirmed", htmx=htmx)
            assert response.status_code == 409
            assert f"{name} is no longer a member of this site." in page_text(response)
    assert h.state() == before
    assert h.decide(MANAGER, ALICE, "confirmed").status_code == 303
    assert progress_of(h.page(PRIMARY)) == (1, 4, 1, 0, 3)


@pytest.mark.parametrize("how", ["removed", "leaves"])
def test_a_review_left_with_nothing_to_review_completes(h, how):
    site_b = h.b
    h.started(site_b)
    assert h.decide(PRIMARY_B, B_USER, "confirmed", site=site_b).status_code == 303
    if how == "removed":
        h.become(PRIMARY_B)
        assert h.post(f"/sites/{site_b}/members/{h.mid(B_TWO, site_b)}/remove").status_code == 303
    else:
        h.become(B_TWO)
        assert h.post(f"/sites/{site_b}/leave").status_code == 303
    assert h.membership(B_TWO, site_b) is None
    assert h.progress(site_b) == dict(to_review=0, confirmed=1, revoked=0, total=1, decided=1, percent=100)
    assert h.reviews(site_b)[0]["completed"]
    [completed] = h.audit("review.completed", site_b)
    assert completed.actor_label == (PRIMARY_B if how == "removed" else B_TWO)
    assert completed.after == {"total": 1, "confirmed": 1, "revoked": 0, "to_review": 0}
    words = page_text(h.page(PRIMARY_B, site=site_b))
    assert "1 confirmed, 0 revoked, 0 not decided." in words
    assert "Start access review" in words and "Finish review" not in words
    # Nothing blocks the next review.
    h.started(site_b)
    assert [r["completed"] for r in h.reviews(site_b)] == [True, False]


# === list: search, filter, pages =================================================================

def test_search_and_filter_the_list(h):
    h.started()
    assert h.decide(MANAGER, ALICE, "confirmed").status_code == 303
    erin = h.add_member(ERIN)
    erin = f"review-member-{erin}"
    everyone = {h.line_row(email) for email in REVIEWED_A} | {erin}
    cases = {
        (("q", "baker"),): {h.line_row(BOB)},
        (("q", "MIA"),): {h.line_row(MANAGER)},
        (("q", "example.com"), ("show", "confirmed")): {h.line_row(ALICE)},
        (("show", "to_review"),): everyone - {h.line_row(ALICE), erin},
        (("show", "confirmed"),): {h.line_row(ALICE)},
        (("show", "not_in_review"),): {erin},
        (("show", "nonsense"),): everyone,
        (("q", "nobody-here"),): set(),
    }
    for args, expected in cases.items():
        response = h.page(PRIMARY, **dict(args))
        assert response.status_code == 200
        assert set(rows(response)) == expected, args
    empty = h.page(PRIMARY, q="nobody-here")
    assert "No members match." in page_text(empty) and "0 members" in page_text(empty)
    # Active search: htmx gets the list alone.
    fragment = h.get(h.url() + "?q=baker&show=to_review", htmx=True)
    assert_fragment(fragment)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="review-list">')
    assert set(rows(fragment)) == {h.line_row(BOB)}


def test_the_list_has_pages_of_25(h):
    site_c = h.ids["site_c"]
    first = h.page(PRIMARY_C, site=site_c)
    assert len(rows(first)) == 25
    words = page_text(first)
    assert f"{CROWD} members" in words and "Page 1 of 2" in words and "Previous" not in words
    assert f'href="{h.url(site=site_c)}?page=2"' in first.get_data(as_text=True)
    second = h.page(PRIMARY_C, site=site_c, page=2)
    assert len(rows(second)) == CROWD - 25 and "Page 2 of 2" in page_text(second)
    assert set(rows(first)).isdisjoint(rows(second))
    assert set(rows(first)) | set(rows(second)) == {h.member_row(crowd(n), site_c) for n in range(1, CROWD + 1)}
    # In name order: the last two of the crowd are on page 2.
    assert set(rows(second)) == {h.member_row(crowd(CROWD - 1), site_c), h.member_row(crowd(CROWD), site_c)}
    # Search and filter stay in the page links; a review of 27 counts them all.
    h.started(site_c)
    filtered = h.page(PRIMARY_C, site=site_c, q="crowd", show="to_review")
    assert len(rows(filtered)) == 25 and progress_of(filtered) == (0, CROWD, 0, 0, CROWD)
    assert (f'href="{h.url(site=site_c)}?page=2&amp;q=crowd&amp;show=to_review"'
            in filtered.get_data(as_text=True))
    # In the review the same members are on page 1, now by their lines.
    started = h.page(PRIMARY_C, site=site_c)
    assert emails_listed(started) == emails_listed(first)
    assert set(rows(started)) == {h.line_row(email, site_c) for email in emails_listed(first)}
    for garbled in ("0", "-3", "x"):
        assert set(rows(h.page(PRIMARY_C, site=site_c, page=garbled))) == set(rows(started)), garbled


# === finishing and completing ====================================================================

def test_the_primary_finishes_a_review_early(h):
    h.started()
    assert h.decide(MANAGER, ALICE, "confirmed").status_code == 303
    assert h.decide(MANAGER, BOB, "revoked").status_code == 303
    before = h.state()
    for actor in (MANAGER, VIEWER, OPERATOR):
        h.become(actor)
        assert h.post(h.url("/finish")).status_code == 403, actor
    assert h.state() == before

    h.become(PRIMARY)
    response = h.post(h.url("/finish"))
    assert response.status_code == 303 and response.location == h.url()
    [review] = h.reviews()
    assert review["completed"]
    # The undecided stay as they were, unconfirmed.
    lines = h.lines()
    assert {email for email, (decision, _by) in lines.items() if decision is None} == {MANAGER, QUIET, VIEWER, CAROL}
    for email in (MANAGER, QUIET, VIEWER, CAROL):
        assert h.membership(email)["last_confirmed_at"] is None, email
    [completed] = h.audit("review.completed")
    assert completed.actor_label == PRIMARY
    assert completed.after == {"total": 6, "confirmed": 1, "revoked": 1, "to_review": 4}

    page = h.client.get(response.location)
    words = page_text(page)
    assert "The access review is finished." in words
    assert re.search(rf"The last review, started on {DAY_PATTERN}, finished on {MINUTE_PATTERN} UTC: "
                     r"1 confirmed, 1 revoked, 4 not decided\.", words), words
    assert "Start access review" in words and "Finish review" not in words and meter(page) is None
    assert f"Bob Baker ({BOB}) — revoked by Mia Manager" in words.split("Revoked in this review", 1)[1]
    assert {cells[4] for cells in rows(page).values()} == {"—"}
    # Decisions are over; a new review can start.
    before = h.state()
    response = h.decide(MANAGER, QUIET, "confirmed", htmx=True)
    assert response.status_code == 409 and FINISHED in page_text(response)
    assert h.state() == before
    h.started()
    assert [r["completed"] for r in h.reviews()] == [True, False]


def test_the_last_decision_completes_the_review(h):
    site_b = h.b
    h.started(site_b)
    first = h.decide(PRIMARY_B, B_USER, "confirmed", htmx=True, site=site_b)
    assert first.status_code == 200 and progress_of(first) == (1, 2, 1, 0, 1)
    assert "Finish review" in oob_progress(first) and "Start access review" not in oob_progress(first)
    assert h.reviews(site_b)[0]["completed"] is False and h.audit("review.completed", site_b) == []

    last = h.decide(PRIMARY_B, B_TWO, "revoked", htmx=True, site=site_b)
    assert last.status_code == 200
    assert rows(last)[h.line_row(B_TWO, site_b)][4] == "Revoked (Bea Beta)"
    # Every member decided: the out-of-band progress is the finished review's summary, with the
    # primary's button to start the next one and no Finish button.
    assert h.progress(site_b) == dict(to_review=0, confirmed=1, revoked=1, total=2, decided=2, percent=100)
    progress = oob_progress(last)
    assert re.search(rf"The last review, started on {DAY_PATTERN}, finished on {MINUTE_PATTERN} UTC: "
                     r"1 confirmed, 1 revoked, 0 not decided\.", progress), progress
    assert "Start access review" in progress and "Finish review" not in progress
    assert progress_of(last) is None and meter(last) is None
    [review] = h.reviews(site_b)
    assert review["completed"]
    assert h.actions(site_b) == [
        ("review.started", PRIMARY_B, ""), ("review.confirmed", PRIMARY_B, B_USER),
        ("review.revoked", PRIMARY_B, B_TWO), ("membership.removed", PRIMARY_B, B_TWO),
        ("review.completed", PRIMARY_B, "")]
    [completed] = h.audit("review.completed", site_b)
    assert completed.after == {"total": 2, "confirmed": 1, "revoked": 1, "to_review": 0}
    assert completed.target_id == review["id"]

    page = h.page(PRIMARY_B, site=site_b)
    words = page_text(page)
    assert "Start access review" in words and "Finish review" not in words
    assert "1 confirmed, 1 revoked, 0 not decided." in words
    assert f"Tess Two ({B_TWO}) — revoked by Bea Beta" in words
    assert rows(page)[h.member_row(B_USER, site_b)][3] != "Never"
    # Started again: the one member left is in it, to review, last confirmed kept.
    h.started(site_b)
    assert [r["completed"] for r in h.reviews(site_b)] == [True, False]
    assert h.lines(site_b) == {B_USER: (None, None)}
    again = h.page(PRIMARY_B, site=site_b)
    assert progress_of(again) == (0, 1, 0, 0, 1)
    assert rows(again)[h.line_row(B_USER, site_b)][4] == "To review"
    assert "Revoked in this review" not in page_text(again)


# === other sites =================================================================================

def test_a_line_of_another_sites_review_is_not_found(h):
    h.started()
    h.started(h.b)
    before = h.state()
    for htmx in (False, True):
        for decision in ("confirmed", "revoked"):
            # B's line in a URL of A, by A's primary (who reviews A, not B).
            h.become(PRIMARY)
            response = h.post(h.decide_url(B_USER, site=h.b, url_site=h.a), {"decision": decision}, htmx=htmx)
            assert response.status_code == 404
            # A's line in a URL of B, by B's primary (who reviews B, not A).
            h.become(PRIMARY_B)
            response = h.post(h.decide_url(ALICE, site=h.a, url_site=h.b), {"decision": decision}, htmx=htmx)
            assert response.status_code == 404
    assert h.state() == before
    assert h.membership(B_USER, h.b) is not None and h.lines(h.b)[B_USER] == (None, None)
    assert h.membership(ALICE) is not None and h.lines()[ALICE] == (None, None)


def test_a_member_of_another_site_gets_not_found_everywhere_in_its_review(h):
    h.started()
    before = h.state()
    h.become(PRIMARY_B)
    assert h.client.get(h.url()).status_code == 404
    assert h.get(h.url() + "?q=a", htmx=True).status_code == 404
    assert h.post(h.url()).status_code == 404
    assert h.post(h.url("/finish")).status_code == 404
    assert h.post(h.decide_url(ALICE), {"decision": "revoked"}).status_code == 404
    assert h.post(h.line_url(999999), {"decision": "revoked"}).status_code == 404
    assert h.state() == before


# === the database ================================================================================

def test_one_review_in_progress_per_site_in_the_database(h):
    with h.app.app_context():
        db.session.add(AccessReview(site_id=h.a, started_at=utcnow()))
        db.session.commit()
        db.session.add(AccessReview(site_id=h.a, started_at=utcnow()))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        # Finished reviews are many; another site has its own.
        db.session.add_all([AccessReview(site_id=h.a, started_at=utcnow(), completed_at=utcnow()),
                            AccessReview(site_id=h.a, started_at=utcnow(), completed_at=utcnow()),
                            AccessReview(site_id=h.b, started_at=utcnow())])
        db.session.commit()
        open_reviews = db.session.scalars(sa.select(AccessReview.site_id).where(AccessReview.completed_at.is_(None)))
        assert sorted(open_reviews) == sorted([h.a, h.b])
        index = {i["name"]: i for i in sa.inspect(db.session.connection()).get_indexes("access_review")}["uq_access_review_open"]
        assert index["unique"] and index["column_names"] == ["site_id"]
        db.session.rollback()


# === two reviewers at the same moment ============================================================

ROUNDS = [(ALICE, "confirmed", "confirmed"), (BOB, "confirmed", "revoked"), (CAROL, "revoked", "confirmed"),
          (VIEWER, "revoked", "revoked")]


def test_two_reviewers_deciding_the_same_line_at_once(h):
    """Each round the manager and the quiet reviewer send a decision on one line at the same moment,
    each from their own session: one wins (303), the other gets a conflict (409 naming the winner,
    also when the winner revoked the membership: the line stays); one decision, one audit event."""
    h.started()
    clients = {actor: h.new_client(actor) for actor in (MANAGER, QUIET)}
    names = {MANAGER: "Mia Manager", QUIET: "Quinn Quiet"}
    for target, manager_decision, quiet_decision in ROUNDS:
        decisions = {MANAGER: manager_decision, QUIET: quiet_decision}
        barrier = threading.Barrier(2)
        outcomes: dict[str, tuple[int, str]] = {}

        def race(actor):
            try:
                barrier.wait(timeout=30)
                response = h.decide(actor, target, decisions[actor], client=clients[actor])
                outcomes[actor] = (response.status_code, page_text(response))
            except Exception as exc:  # reported as the outcome, so that the assertion shows it
                outcomes[actor] = (0, f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=race, args=(actor,)) for actor in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        winners = [actor for actor, (status, _words) in outcomes.items() if status == 303]
        assert len(winners) == 1, (target, outcomes)
        [winner] = winners
        [loser] = [actor for actor in clients if actor != winner]
        won = decisions[winner]
        status, words = outcomes[loser]
        label = {"confirmed": "Confirmed", "revoked": "Revoked"}[won]
        assert status == 409 and f"{names[winner]} already decided this one ({label})." in words, outcomes
        assert h.lines()[target] == (won, winner)
        assert (h.membership(target) is None) == (won == "revoked")
        events = [(e.action, e.actor_label) for e in h.audit() if e.target_label == target]
        expected = [(f"review.{won}", winner)] + ([("membership.removed", winner)] if won == "revoked" else [])
        assert events == expected, (target, events)
    assert h.progress()["decided"] == len(ROUNDS)


# === the primary role changing hands during a review ==============================================

def test_a_review_completes_after_the_primary_role_changed_hands(h):
    from models.membership import membership_of
    from models.primary_transfer import accept_transfer, offer_transfer

    h.started()

    def transfer():
        offer = offer_transfer(db.session.get(Site, h.a), find_person(PRIMARY),
                               membership_of(find_person(MANAGER), h.a))
        accept_transfer(offer, find_person(MANAGER))
        db.session.commit()
    h.read(transfer)
    assert h.membership(MANAGER)["role"] == "primary" and h.membership(PRIMARY)["role"] == "secondary"
    page = h.page(MANAGER)
    listed = rows(page)
    offered = [row_id for row_id, cells in listed.items() if cells[4] == "To review"]
    # The new primary drops out of the review; the former primary, now a secondary, is part of it.
    assert {listed[row_id][1] for row_id in offered} == {PRIMARY, QUIET, VIEWER, ALICE, BOB, CAROL}
    # What the progress says is left to review is what the list offers to decide.
    assert progress_of(page)[4] == len(offered)
    for email in (PRIMARY, QUIET, VIEWER, ALICE, BOB, CAROL):
        assert h.decide(MANAGER, email, "confirmed").status_code == 303, email
    # Every member the list offered is decided: the review ends by itself.
    assert h.progress()["to_review"] == 0
    assert h.reviews()[0]["completed"]


def test_a_decision_without_htmx_comes_back_to_the_same_search_and_filter(h):
    h.started()
    page = h.page(PRIMARY, show="to_review", q="alice")
    action = re.search(rf'<form method="post" action="([^"]*/review/lines/{h.line(ALICE)}[^"]*)"',
                       page.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert "show=to_review" in action and "q=alice" in action
    response = h.post(action, {"decision": "confirmed"})
    assert response.status_code == 303
    location = response.location
    assert "show=to_review" in location and "q=alice" in location and "/review/lines/" not in location
