"""At most 4 secondary contacts, also when two requests race (SPEC §2, issue 3).

A site has 3 secondaries; two requests that would each add one start at the same moment (a barrier)
against the same SQLite file. Every round must end with exactly 4 secondaries and one clear
refusal. Each test runs ROUNDS rounds, putting the site back to 3 secondaries in between: with
separate OS processes (spawned, each with its own app and engine, as two WSGI workers would be), and
with threads of one app (as a threaded server would be).
"""
from __future__ import annotations

import multiprocessing
import re
import threading
import traceback
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from models import Membership, Person, db
from tests.helpers.pages import form_token, page_text, text

pytestmark = pytest.mark.concurrency

ROUNDS = 10
PRIMARY = "primary@example.com"
MANAGER = "manager@example.com"   # a secondary with Manage access = Update: the second administrator
ACTORS = (PRIMARY, MANAGER)
CAP = re.compile(r"(already has|at most) 4 secondary contacts")
JOIN_TIMEOUT = 60


def _prepare(world, app, candidates_as_users: bool = False, rounds: int = ROUNDS) -> dict:
    """A site with its primary and 3 secondaries (one of them the manager), and two candidates a round:
    people with an account, or users of the site when `candidates_as_users`."""
    site_id = world.site(PRIMARY)
    world.member(site_id, MANAGER, "secondary", {"manage_access": 2})
    world.member(site_id, "second@example.com", "secondary")
    world.member(site_id, "third@example.com", "secondary")
    candidates = [[f"candidate{r}.{w}@example.com" for w in range(2)] for r in range(rounds)]
    for pair in candidates:
        for email in pair:
            if candidates_as_users:
                world.member(site_id, email, "user")
            else:
                world.person(email)
    return {"site_id": site_id, "candidates": candidates}


def _secondaries(app, site_id) -> list[str]:
    with app.app_context():
        emails = list(db.session.scalars(sa.select(Person.email).join(Membership, Membership.person_id == Person.id)
                                         .where(Membership.site_id == site_id, Membership.role == "secondary")))
        db.session.rollback()
    return sorted(emails)


def _membership(app, site_id, email):
    with app.app_context():
        found = db.session.scalar(sa.select(Membership).join(Membership.person)
                                  .where(Membership.site_id == site_id, Person.email == email))
        result = (found.id, found.role) if found else None
        db.session.rollback()
    return result


def _back_to_three(app, site_id, email, candidates_as_users):
    """Undo the round's winner: remove the added member, or make the promoted one a user again."""
    with app.app_context():
        membership_id = db.session.scalar(sa.select(Membership.id).join(Membership.person)
                                          .where(Membership.site_id == site_id, Person.email == email))
        if candidates_as_users:
            db.session.execute(sa.update(Membership).where(Membership.id == membership_id).values(role="user"))
        else:
            db.session.execute(sa.delete(Membership).where(Membership.id == membership_id))
        db.session.commit()


def _judge(app, site_id, number, outcomes: dict[str, str], pair, as_users) -> str:
    """Exactly one added and one refused with the cap message; 4 secondaries; the loser unchanged.
    Returns the winner's email."""
    kinds = sorted(outcome.split(":", 1)[0] for outcome in outcomes.values())
    assert kinds == ["added", "refused"], f"round {number}: {outcomes}"
    [refusal] = [o for o in outcomes.values() if o.startswith("refused")]
    assert CAP.search(refusal), f"round {number}: the refusal does not say why: {refusal[:300]}"
    secondaries = _secondaries(app, site_id)
    assert len(secondaries) == 4, f"round {number}: {len(secondaries)} secondaries: {secondaries}"
    [winner] = [email for email, outcome in outcomes.items() if outcome.startswith("added")]
    [loser] = [email for email in pair if email != winner]
    assert winner in secondaries
    loser_state = _membership(app, site_id, loser)
    expected = "user" if as_users[pair.index(loser)] else None
    assert (loser_state[1] if loser_state else None) == expected, f"round {number}: {loser} was changed"
    return winner


# --- separate processes ---------------------------------------------------------------------------

def _process_worker(uri, smtp_port, site_id, actor_email, tasks, barrier, results):
    """One 'server worker': its own app and engine on the shared database file. Each task is
    (email, mode): through models.membership.add_member ("model"), or a POST of the Add new user
    form through a signed-in test client ("http")."""
    try:
        from models import RuleViolation, Site
        from models.membership import add_member
        from models.person import find_person
        from tests.helpers.apps import make_test_app
        from tests.helpers.client import Auth, Client

        app = make_test_app(uri, SimpleNamespace(port=smtp_port), MAIL_DELIVER_AFTER_COMMIT=False)
        app.test_client_class = Client
        client = app.test_client()
        Auth(client).sign_in(actor_email)
        token = client.csrf_token()
    except Exception:
        results.put(("__error__", traceback.format_exc()))
        barrier.abort()
        return
    for email, mode in tasks:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
        except threading.BrokenBarrierError:
            return
        try:
            if mode == "http":
                response = client.post(f"/sites/{site_id}/members", data={
                    "csrf_token": token, "email": email, "role": "secondary",
                    "business_justification": "Second administrator racing the first"})
                body = response.get_data(as_text=True)
                outcome = "added" if response.status_code == 303 else \
                    f"refused: {response.status_code} " + text(body)
                if response.status_code not in (303, 422):
                    outcome = f"error: {response.status_code}"
            else:
                with app.app_context():
                    try:
                        site = db.session.get(Site, site_id)
                        add_member(site, find_person(actor_email), email, "secondary",
                                   "Second administrator racing the first", {})
                        db.session.commit()
                        outcome = "added"
                    except RuleViolation as violation:
                        db.session.rollback()
                        outcome = f"refused: {violation.message}"
        except Exception as exc:  # e.g. "database is locked": a failure of the test, reported as such
            outcome = f"error: {type(exc).__name__}: {exc}"
        results.put((email, outcome))
    with app.app_context():
        db.engine.dispose()


def test_two_processes_adding_the_4th_and_5th_secondary(app, world, smtp, database_uri):
    """ROUNDS rounds through add_member, then ROUNDS rounds through POST /members, in the same two
    processes (spawning costs more than the rounds)."""
    setup = _prepare(world, app, rounds=2 * ROUNDS)
    modes = ["model"] * ROUNDS + ["http"] * ROUNDS
    site_id = setup["site_id"]
    assert len(_secondaries(app, site_id)) == 3
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)   # the two workers and this test, which resets the site between rounds
    results = context.Queue()
    workers = [context.Process(target=_process_worker, daemon=True, args=(
        database_uri, smtp.port, site_id, actor, [(pair[w], mode) for pair, mode in zip(setup["candidates"], modes)],
        barrier, results))
        for w, actor in enumerate(ACTORS)]
    for worker in workers:
        worker.start()
    added = []
    try:
        for number in range(2 * ROUNDS):
            try:
                barrier.wait(timeout=JOIN_TIMEOUT)   # the first round also waits for both apps to start
            except threading.BrokenBarrierError:
                errors = [results.get(timeout=5) for _ in range(results.qsize() or 1)]
                pytest.fail(f"a worker failed to start: {errors}")
            outcomes = dict(results.get(timeout=JOIN_TIMEOUT) for _ in range(2))
            winner = _judge(app, site_id, number, outcomes, setup["candidates"][number], (False, False))
            added.append(winner)
            _back_to_three(app, site_id, winner, candidates_as_users=False)
    finally:
        barrier.abort()
        for worker in workers:
            worker.join(timeout=JOIN_TIMEOUT)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
    assert len(added) == 2 * ROUNDS


# --- threads of one app ---------------------------------------------------------------------------

def _signed_in_clients(app):
    from tests.helpers.client import Auth, Client

    app.test_client_class = Client
    clients = []
    for actor in ACTORS:
        client = app.test_client()
        Auth(client).sign_in(actor)
        clients.append((client, client.csrf_token()))
    return clients


def _request(path, site_id, email, membership_id, token, client):
    """The request one administrator makes to get `email` (membership_id when a member) made a secondary."""
    if path == "add":
        return client.post(f"/sites/{site_id}/members", data={
            "csrf_token": token, "email": email, "role": "secondary", "business_justification": "Race"})
    if path == "promote":
        return client.post(f"/sites/{site_id}/members/{membership_id}", data={"csrf_token": token,
                                                                              "role": "secondary"})
    if path == "promote-htmx":
        return client.post(f"/sites/{site_id}/members/{membership_id}", data={"role": "secondary"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert path == "bulk"
    return client.post(f"/sites/{site_id}/members/bulk", data={
        "csrf_token": token, "action": "save", "selected": str(membership_id),
        f"bulk_role_{membership_id}": "secondary"})


def _outcome(response, htmx=False) -> str:
    body = page_text(response)
    if response.status_code == 303 or (htmx and response.status_code == 200):
        return "added"
    if response.status_code == 422:
        return f"refused: {body}"
    return f"error: {response.status_code} {body[:300]}"


@pytest.mark.parametrize("paths", [
    ("add", "add"),
    ("promote", "promote-htmx"),
    ("bulk", "bulk"),
    ("add", "promote"),
], ids=["two adds", "two inline promotions", "two bulk promotions", "an add and a promotion"])
def test_two_threads_making_the_4th_and_5th_secondary(app, world, paths):
    app.config["MAIL_DELIVER_AFTER_COMMIT"] = False
    as_users = [path != "add" for path in paths]
    setup = _prepare(world, app, candidates_as_users=any(as_users))
    site_id = setup["site_id"]
    if any(as_users) and not all(as_users):
        # An add and a promotion: the add's candidate must not be a member yet.
        for pair in setup["candidates"]:
            _back_to_three(app, site_id, pair[0], candidates_as_users=False)
    clients = _signed_in_clients(app)
    for number, pair in enumerate(setup["candidates"]):
        ids = [(_membership(app, site_id, email) or (None, None))[0] for email in pair]
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def race(index):
            client, token = clients[index]
            try:
                barrier.wait(timeout=JOIN_TIMEOUT)
                response = _request(paths[index], site_id, pair[index], ids[index], token, client)
                outcomes[pair[index]] = _outcome(response, htmx=paths[index].endswith("htmx"))
            except Exception as exc:
                outcomes[pair[index]] = f"error: {type(exc).__name__}: {exc}"

        threads = [threading.Thread(target=race, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=JOIN_TIMEOUT)
        winner = _judge(app, site_id, number, outcomes, pair, as_users)
        _back_to_three(app, site_id, winner, candidates_as_users=as_users[pair.index(winner)])


# --- two invitees accepting at once (issue 10: the cap reserves seats; acceptance re-checks) --------

def _accept_worker(uri, smtp_port, invitee_email, tokens, barrier, results):
    """One 'server worker' accepting an invitation per round as the signed-in invitee, through the form."""
    try:
        from tests.helpers.apps import make_test_app
        from tests.helpers.client import Auth, Client

        app = make_test_app(uri, SimpleNamespace(port=smtp_port), MAIL_DELIVER_AFTER_COMMIT=False)
        app.test_client_class = Client
        client = app.test_client()
        Auth(client).sign_in(invitee_email)
        csrf = client.csrf_token()
    except Exception:
        results.put(("__error__", traceback.format_exc()))
        barrier.abort()
        return
    for token in tokens:
        try:
            # The invitation page as the invitee opens it; its form's token (a winner's session was renewed).
            page = client.get(f"/invitations/{token}").get_data(as_text=True)
            csrf = form_token(page)
        except Exception:
            results.put((invitee_email, "error: " + traceback.format_exc()))
            barrier.abort()
            return
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
        except threading.BrokenBarrierError:
            return
        try:
            response = client.post(f"/invitations/{token}", data={"csrf_token": csrf})
            body = page_text(response)
            outcome = "added" if response.status_code == 303 else \
                f"refused: {response.status_code} {body}" if response.status_code == 409 else \
                f"error: {response.status_code} {body[:300]}"
        except Exception as exc:
            outcome = f"error: {type(exc).__name__}: {exc}"
        results.put((invitee_email, outcome))
    with app.app_context():
        db.engine.dispose()


def test_two_invitees_accepting_the_last_seat_at_once(app, world, smtp, database_uri):
    """A site with 3 secondaries and two pending secondary invitations made before invitations kept seats
    (invite() below the seat rule): both invitees accept at the same moment, each in its own process.
    Every round exactly one becomes the 4th secondary and the other is told the site is full."""
    from models import Invitation, Site
    from models.invitation import invite
    from models.person import find_person

    setup = _prepare(world, app, rounds=0)
    site_id = setup["site_id"]
    invitees = ("ivy@example.com", "ian@example.com")
    for email in invitees:
        world.person(email)
    tokens = {email: [] for email in invitees}
    with app.app_context():
        site, primary = db.session.get(Site, site_id), find_person(PRIMARY)
        for _round in range(ROUNDS):
            for email in invitees:
                invitation, raw = invite(site, email, "secondary", primary, justification="Race")
                # Each round's invitation stays open until its round: invite() would revoke the earlier ones.
                db.session.flush()
                tokens[email].append((invitation.id, raw))
            db.session.execute(sa.update(Invitation).where(Invitation.id.in_(
                [i for pairs in tokens.values() for i, _raw in pairs])).values(revoked_at=None))
        db.session.commit()
    assert len(_secondaries(app, site_id)) == 3
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    results = context.Queue()
    workers = [context.Process(target=_accept_worker, daemon=True, args=(
        database_uri, smtp.port, email, [raw for _id, raw in tokens[email]], barrier, results))
        for email in invitees]
    for worker in workers:
        worker.start()
    winners = []
    try:
        for number in range(ROUNDS):
            try:
                barrier.wait(timeout=JOIN_TIMEOUT)
            except threading.BrokenBarrierError:
                errors = [results.get(timeout=5) for _ in range(results.qsize() or 1)]
                pytest.fail(f"a worker failed to start: {errors}")
            outcomes = dict(results.get(timeout=JOIN_TIMEOUT) for _ in range(2))
            kinds = sorted(outcome.split(":", 1)[0] for outcome in outcomes.values())
            assert kinds == ["added", "refused"], f"round {number}: {outcomes}"
            [refusal] = [o for o in outcomes.values() if o.startswith("refused")]
            assert CAP.search(refusal), f"round {number}: the refusal does not say why: {refusal[:300]}"
            secondaries = _secondaries(app, site_id)
            [winner] = [email for email, outcome in outcomes.items() if outcome.startswith("added")]
            [loser] = [email for email in invitees if email != winner]
            assert len(secondaries) == 4 and winner in secondaries, f"round {number}: {secondaries}"
            assert _membership(app, site_id, loser) is None, f"round {number}: {loser} was added"
            winners.append(winner)
            _back_to_three(app, site_id, winner, candidates_as_users=False)
    finally:
        barrier.abort()
        for worker in workers:
            worker.join(timeout=JOIN_TIMEOUT)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
    assert len(winners) == ROUNDS
