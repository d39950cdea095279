"""A decision on an access request is made once, also when two approvers decide at the same moment
(SPEC §5, issue 4).

A site has two approvers: its primary and a secondary with Manage access = Update. Each round a new
requester's self-nomination is pending; both approvers send their decision at the same moment (a
barrier) against the same SQLite file: one approves and one rejects, or both approve, or both reject.
Every round must end with exactly one decision (the winner's), exactly one mail to the requester,
one audit event, a membership only when approved, and the other approver told that the request was
"already decided by" the winner. With threads of one app (as a threaded server would be) and with
two spawned OS processes, each with its own app and engine (as two WSGI workers would be).
"""
from __future__ import annotations

import multiprocessing
import threading
import traceback
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from models import AccessRequest, AuditEvent, Membership, OutboxMail, Person, db
from tests.helpers.pages import page_text

pytestmark = pytest.mark.concurrency

THREAD_ROUNDS = 6
PROCESS_ROUNDS = 6          # per decision pair
PRIMARY = "primary@example.com"
MANAGER = "manager@example.com"   # a secondary with Manage access = Update: the second approver
ACTORS = (PRIMARY, MANAGER)
NAMES = {PRIMARY: "Pat Primary", MANAGER: "Mia Manager"}
STATUS = {"approve": "approved", "reject": "rejected"}
STATUS_LABEL = {"approved": "Approved", "rejected": "Rejected"}
DECISION_MAIL = {"approved": "request_approved", "rejected": "request_rejected"}
JOIN_TIMEOUT = 60
PAIRS = [("approve", "reject"), ("reject", "approve"), ("approve", "approve"), ("reject", "reject")]
PAIR_IDS = ["approve vs reject", "reject vs approve", "both approve", "both reject"]


def _prepare(world, app, rounds: int) -> dict:
    """A site with its two approvers, and one pending self-nomination per round (ids in round order)."""
    from models import access_request as requests
    from models.person import find_person

    world.person(PRIMARY, first_name="Pat", last_name="Primary")
    world.person(MANAGER, first_name="Mia", last_name="Manager")
    site_id = world.site(PRIMARY, number="RACE-1", name="Race Track")
    world.member(site_id, MANAGER, "secondary", {"manage_access": 2, "software": 1, "support": 1})
    requesters = [f"requester{number}@example.com" for number in range(rounds)]
    for email in requesters:
        world.person(email, first_name="Rita", last_name=f"Requester{email[9:-12]}")
    with app.app_context():
        request_ids = []
        for email in requesters:
            found = requests.submit_self_nomination(find_person(email), "RACE-1", "Example Racing Ltd",
                                                    {"first_name": "Rita", "email": email}, "Runs the pit wall")
            request_ids.append(found.id)
        db.session.commit()
    return {"site_id": site_id, "requesters": requesters, "request_ids": request_ids}


def _form(decision: str) -> dict[str, str]:
    if decision == "approve":
        return {"role": "user", "tool_1": "1"}
    return {"reason": "no_business_relationship"}


def _outcome(response) -> str:
    body = page_text(response)
    if response.status_code == 303:
        return "won"
    if response.status_code == 409:
        return f"lost: {body}"
    return f"error: {response.status_code} {body[:400]}"


def _judge(app, number, request_id, requester, outcomes: dict[str, str], decisions: dict[str, str],
           untold: list[str]) -> str:
    """Exactly one winner whose decision the database holds; one mail and one audit event; a
    membership only when approved. Returns the status decided; a loser not told "already decided by"
    the winner is added to `untold` (the test fails on it once every round is judged)."""
    kinds = sorted(outcome.split(":", 1)[0] for outcome in outcomes.values())
    assert kinds == ["lost", "won"], f"round {number}: {outcomes}"
    [winner] = [actor for actor, outcome in outcomes.items() if outcome == "won"]
    [loser] = [actor for actor in outcomes if actor != winner]
    status = STATUS[decisions[winner]]
    with app.app_context():
        access_request = db.session.get(AccessRequest, request_id)
        assert (access_request.status, access_request.decided_by.email) == (status, winner), f"round {number}"
        memberships = db.session.scalars(sa.select(Membership).join(Membership.person)
                                         .where(Person.email == requester)).all()
        assert len(memberships) == (1 if status == "approved" else 0), f"round {number}: {memberships}"
        if memberships:
            assert memberships[0].granted_by.email == winner
        mails = db.session.scalars(sa.select(OutboxMail).where(
            OutboxMail.recipient == requester,
            OutboxMail.template.in_(("request_approved", "request_rejected")))).all()
        assert [m.template for m in mails] == [DECISION_MAIL[status]], f"round {number}: {mails}"
        events = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.target_type == "access_request", AuditEvent.target_id == request_id,
            AuditEvent.action.in_(("request.approved", "request.rejected")))).all()
        assert [(e.action, e.actor_label) for e in events] == [(f"request.{status}", winner)], f"round {number}"
        db.session.rollback()
    told = f"This request was already decided by {NAMES[winner]} ({STATUS_LABEL[status]})."
    if told not in outcomes[loser]:
        untold.append(f"round {number} ({decisions[loser]} after {decisions[winner]}): {outcomes[loser][:300]}")
    return status


def _delivered_decisions(smtp, requesters, statuses) -> None:
    """Each requester got exactly one decision mail over SMTP, saying the decision that won."""
    for email, status in zip(requesters, statuses):
        decisions = [m for m in smtp.sink.to(email) if "access request for site" in m["Subject"]]
        assert [m["Subject"] for m in decisions] == \
            [f"Your access request for site RACE-1 is {status}"], email


# --- threads of one app ---------------------------------------------------------------------------

def _signed_in_clients(app):
    from tests.helpers.client import Auth, Client

    app.test_client_class = Client
    clients = {}
    for actor in ACTORS:
        client = app.test_client()
        Auth(client).sign_in(actor)
        clients[actor] = (client, client.csrf_token())
    return clients


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_two_threads_deciding_the_same_request(app, world, smtp, pair):
    setup = _prepare(world, app, THREAD_ROUNDS)
    site_id = setup["site_id"]
    clients = _signed_in_clients(app)
    statuses, untold = [], []
    for number, (request_id, requester) in enumerate(zip(setup["request_ids"], setup["requesters"])):
        # Who sends which decision alternates between rounds.
        decisions = dict(zip(ACTORS, pair if number % 2 == 0 else tuple(reversed(pair))))
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def race(actor):
            client, token = clients[actor]
            decision = decisions[actor]
            try:
                barrier.wait(timeout=JOIN_TIMEOUT)
                response = client.post(f"/sites/{site_id}/requests/{request_id}/{decision}",
                                       data={"csrf_token": token, **_form(decision)})
                outcomes[actor] = _outcome(response)
            except Exception as exc:
                outcomes[actor] = f"error: {type(exc).__name__}: {exc}"

        threads = [threading.Thread(target=race, args=(actor,)) for actor in ACTORS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=JOIN_TIMEOUT)
        statuses.append(_judge(app, number, request_id, requester, outcomes, decisions, untold))
    # The mails really went out, once each: every row of the outbox (the primary's welcome, the
    # approvers' notices of the requests, one decision per request) and nothing more.
    with app.app_context():
        queued = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail))
        db.session.rollback()
    assert queued == 1 + 2 * THREAD_ROUNDS + THREAD_ROUNDS
    smtp.wait_for(queued)
    for thread in threading.enumerate():
        if thread.name == "sitepass-mail":
            thread.join(timeout=15)
    assert len(smtp.messages) == queued
    assert len({m["Message-ID"] for m in smtp.messages}) == queued
    _delivered_decisions(smtp, setup["requesters"], statuses)
    assert not untold, "the other approver was not told who decided:\n" + "\n".join(untold)


# --- separate processes ---------------------------------------------------------------------------

def _process_worker(uri, smtp_port, site_id, actor_email, tasks, barrier, results):
    """One 'server worker': its own app and engine on the shared database file. Each task is
    (round, request_id, decision, mode): a POST through a signed-in test client ("http"), or a call
    of models.access_request.approve_request / reject_request ("model")."""
    try:
        from models import RuleViolation, Site
        from models import access_request as requests
        from models.person import find_person
        from models.tool import catalog
        from tests.helpers.apps import make_test_app
        from tests.helpers.client import Auth, Client

        app = make_test_app(uri, SimpleNamespace(port=smtp_port), MAIL_DELIVER_AFTER_COMMIT=False)
        app.test_client_class = Client
        client = app.test_client()
        Auth(client).sign_in(actor_email)
        token = client.csrf_token()
    except Exception:
        results.put(("__error__", None, traceback.format_exc()))
        barrier.abort()
        return
    for number, request_id, decision, mode in tasks:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
        except threading.BrokenBarrierError:
            return
        try:
            if mode == "http":
                response = client.post(f"/sites/{site_id}/requests/{request_id}/{decision}",
                                       data={"csrf_token": token, **_form(decision)})
                outcome = _outcome(response)
            else:
                with app.app_context():
                    try:
                        site = db.session.get(Site, site_id)
                        actor = find_person(actor_email)
                        access_request = db.session.get(AccessRequest, request_id)
                        if decision == "approve":
                            tools = {tool.key: tool.id for tool in catalog()}
                            requests.approve_request(site, actor, access_request, "user",
                                                     {tools["software"]: 1})
                        else:
                            requests.reject_request(site, actor, access_request, "no_business_relationship")
                        db.session.commit()
                        outcome = "won"
                    except RuleViolation as violation:
                        db.session.rollback()
                        outcome = f"lost: {violation.message}"
        except Exception as exc:  # e.g. "database is locked": a failure of the test, reported as such
            outcome = f"error: {type(exc).__name__}: {exc}"
        results.put((actor_email, number, outcome))
    with app.app_context():
        db.engine.dispose()


def _run_processes(app, database_uri, smtp, setup, plan):
    """Run the plan [(decision of PRIMARY, decision of MANAGER, mode)] in two spawned processes and
    return {round: {actor: outcome}}."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = []
    for index, actor in enumerate(ACTORS):
        tasks = [(number, request_id, decisions[index], mode)
                 for number, (request_id, (*decisions, mode)) in enumerate(zip(setup["request_ids"], plan))]
        workers.append(context.Process(target=_process_worker, daemon=True, args=(
            database_uri, smtp.port, setup["site_id"], actor, tasks, barrier, results)))
    for worker in workers:
        worker.start()
    outcomes: dict[int, dict[str, str]] = {}
    try:
        for _ in range(2 * len(plan)):
            actor, number, outcome = results.get(timeout=JOIN_TIMEOUT)
            if actor == "__error__":
                pytest.fail(f"a worker failed to start: {outcome}")
            outcomes.setdefault(number, {})[actor] = outcome
    finally:
        barrier.abort()
        for worker in workers:
            worker.join(timeout=JOIN_TIMEOUT)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
    return outcomes


def _judge_all(app, setup, plan, outcomes) -> tuple[list[str], list[str]]:
    statuses, untold = [], []
    for number, (request_id, requester, (first, second, _mode)) in enumerate(
            zip(setup["request_ids"], setup["requesters"], plan)):
        statuses.append(_judge(app, number, request_id, requester, outcomes[number],
                               {PRIMARY: first, MANAGER: second}, untold))
    return statuses, untold


def _deliver(app):
    from models.outbox import deliver_due

    with app.app_context():
        deliver_due(limit=1000)
        db.session.remove()


def test_two_processes_deciding_the_same_request_over_http(app, world, smtp, database_uri):
    """Approve against reject and approve against approve, PROCESS_ROUNDS rounds each, through the
    approve and reject routes; then the outbox is delivered and each requester has exactly one mail."""
    plan = [(*PAIRS[number % 3], "http") for number in range(3 * PROCESS_ROUNDS)]
    app.config["MAIL_DELIVER_AFTER_COMMIT"] = False
    setup = _prepare(world, app, len(plan))
    outcomes = _run_processes(app, database_uri, smtp, setup, plan)
    statuses, untold = _judge_all(app, setup, plan, outcomes)
    _deliver(app)
    _delivered_decisions(smtp, setup["requesters"], statuses)
    assert not untold, "the other approver was not told who decided:\n" + "\n".join(untold)


def test_two_processes_deciding_the_same_request_through_the_model(app, world, smtp, database_uri):
    """The same race through models.access_request: the losing call raises a RuleViolation that says
    who already decided (whatever else the approval would have checked)."""
    plan = [(*PAIRS[number % 3], "model") for number in range(3 * PROCESS_ROUNDS)]
    app.config["MAIL_DELIVER_AFTER_COMMIT"] = False
    setup = _prepare(world, app, len(plan))
    outcomes = _run_processes(app, database_uri, smtp, setup, plan)
    statuses, untold = _judge_all(app, setup, plan, outcomes)
    _deliver(app)
    _delivered_decisions(smtp, setup["requesters"], statuses)
    assert not untold, "the other approver was not told who decided:\n" + "\n".join(untold)
