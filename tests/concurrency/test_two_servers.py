"""Two app servers on one PostgreSQL (README: "Several app servers on one PostgreSQL").

Two separate gunicorn instances (each with its own workers, engines and scheduler threads, started by
gunicorn.conf.py exactly as `make run` and the systemd unit start them) serve one database. The races
of tests/concurrency/test_request_races.py and test_concurrency.py are run with one racer on each server:
two approvers deciding one access request, the 4th and 5th secondary added at once, and an offer of
the primary role accepted on both servers at once (and accepted on one while cancelled on the other).
The invariants hold, every mail is delivered by the servers' scheduler (nobody runs deliver-mail) and
exactly once, and a single scheduler did all scheduled work.

PostgreSQL only (SQLite is one machine's file): run by .ci/run's PostgreSQL half, skipped otherwise.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa

from models import Membership, OutboxMail, Person, PrimaryTransfer, db
from tests.helpers.apps import make_test_app
from tests.helpers.databases import POSTGRES_URL, close_database
from tests.helpers.pages import csrf_token, text
from tests.helpers.servers import free_port
from tests.helpers.world import PASSWORD, World

pytestmark = [pytest.mark.two_servers,
              pytest.mark.skipif(not POSTGRES_URL, reason="two app servers share a PostgreSQL database; "
                                                          "set SITEPASS_TEST_DATABASE_URL (.ci/run does)")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUNDS = 6
TIMEOUT = 60


# --- two gunicorn instances -----------------------------------------------------------------------

class Server:
    """One app server: gunicorn with gunicorn.conf.py (2 sync workers, each with its scheduler thread)."""

    def __init__(self, name, database_uri, smtp_port, base_url, port, log_dir):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), WORKERS="2",
                   SITEPASS_SQLALCHEMY_DATABASE_URI=database_uri, SITEPASS_SECRET_KEY="two-servers-secret",
                   SITEPASS_BASE_URL=base_url, SITEPASS_MAIL_SERVER="127.0.0.1", SITEPASS_MAIL_PORT=str(smtp_port),
                   SITEPASS_MAIL_DEFAULT_SENDER="Sitepass <sitepass@example.com>",
                   # Every mail is left to the scheduler, so that its delivery shows the scheduler at work.
                   SITEPASS_MAIL_DELIVER_AFTER_COMMIT="false",
                   SITEPASS_SCHEDULER_TICK_SECONDS="0.2", SITEPASS_SCHEDULER_MAIL_SECONDS="0.5",
                   SITEPASS_SCHEDULER_REMINDERS_SECONDS="1", SITEPASS_SCHEDULER_LEASE_SECONDS="30",
                   # Files of their own: the scheduler's sweep must never touch the checkout's instance/.
                   SITEPASS_DOCUMENTS_DIR=os.path.join(log_dir, "documents"),
                   SITEPASS_BACKUP_DIR=os.path.join(log_dir, "backups"))
        self.log = open(os.path.join(log_dir, f"{name}.log"), "w+")
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
                                        cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not answer /healthz:\n{self.output()}")

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


class Browser:
    """A person's browser: one cookie jar for both servers (their host name is the same), no redirects
    followed, the session's CSRF token sent with every form."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), self._NoRedirect)
        self.token = None

    def request(self, url, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, data=body, timeout=TIMEOUT) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def csrf(self, server):
        status, page = self.request(server.url + "/sign-in")
        if status != 200:
            status, page = self.request(server.url + "/")
        assert 'X-CSRFToken' in page, f"no CSRF token from {server.name} ({status})"
        return csrf_token(page)

    def sign_in(self, server, email):
        status, _page = self.request(server.url + "/sign-in", {"email": email, "password": PASSWORD,
                                                              "csrf_token": self.csrf(server)})
        assert status == 303, f"sign-in of {email} on {server.name}: {status}"
        self.token = self.csrf(server)
        return self

    def post(self, url, data=None):
        return self.request(url, {**(data or {}), "csrf_token": self.token})


def race(calls):
    """Run the calls at the same moment, one thread each; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait(timeout=TIMEOUT)
        try:
            results[index] = call()
        except Exception as exc:  # reported as the outcome, so that the assertion shows it
            results[index] = (0, f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    return results


@pytest.fixture
def setup_app(database_uri, smtp):
    """The test's own app on the servers' database, to build the world and read the outcome."""
    app = make_test_app(database_uri, smtp, MAIL_DELIVER_AFTER_COMMIT=False)
    yield app
    close_database(app)


@pytest.fixture
def servers(database_uri, smtp, tmp_path):
    """Start two gunicorn instances on the test's database (after the test has built its world)."""
    started = []

    def start():
        ports = (free_port(), free_port())
        for name, port in zip(("server-1", "server-2"), ports):
            started.append(Server(name, database_uri, smtp.port, f"http://127.0.0.1:{ports[0]}", port, tmp_path))
        for server in started:
            server.wait_ready()
        return started

    yield start
    for server in started:
        server.stop()


def outbox_settled(app, smtp, timeout=TIMEOUT):
    """Wait until the servers' scheduler delivered every queued mail; return the messages received,
    having checked that each outbox mail arrived exactly once (by its Message-ID)."""
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            rows = db.session.execute(sa.select(OutboxMail.message_id, OutboxMail.status)).all()
            db.session.rollback()
        if rows and all(status == "sent" for _id, status in rows):
            break
        assert time.monotonic() < deadline, f"outbox not delivered: {sorted(set(s for _i, s in rows))}"
        time.sleep(0.1)
    smtp.wait_for(len(rows), timeout=10)
    time.sleep(1.0)  # time for a duplicate to show up
    received = [m["Message-ID"] for m in smtp.messages]
    assert sorted(received) == sorted(message_id for message_id, _status in rows), "a mail missing or sent twice"
    return list(smtp.messages)


def one_scheduler_did_the_work(app):
    """The lease and every job's last run name the same holder, a worker of one of the servers."""
    from models.scheduler import SchedulerJob, SchedulerLease

    seen = set()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # reminders run every second: watch a few runs
        with app.app_context():
            seen.update(db.session.scalars(sa.select(SchedulerLease.holder)))
            seen.update(db.session.scalars(sa.select(SchedulerJob.last_holder)
                                           .where(SchedulerJob.name.in_(("deliver-mail", "send-reminders")))))
            db.session.rollback()
        time.sleep(0.2)
    seen.discard(None)
    assert len(seen) == 1, f"more than one scheduler worked: {seen}"
    [holder] = seen
    assert int(holder.split(":")[1]) != os.getpid(), "the test process is no scheduler"


# --- the races ------------------------------------------------------------------------------------

def test_two_approvers_on_two_servers_decide_an_access_request_once(setup_app, smtp, servers):
    from tests.concurrency import test_request_races as races

    app = setup_app
    setup = races._prepare(World(app), app, 3 * ROUNDS)
    one, two = servers()
    primary = Browser().sign_in(one, races.PRIMARY)
    manager = Browser().sign_in(two, races.MANAGER)
    site_id, statuses, untold = setup["site_id"], [], []
    for number, (request_id, requester) in enumerate(zip(setup["request_ids"], setup["requesters"])):
        decisions = dict(zip(races.ACTORS, races.PAIRS[number % 3]))

        def decide(browser, server, actor):
            return lambda: browser.post(f"{server.url}/sites/{site_id}/requests/{request_id}/{decisions[actor]}",
                                        races._form(decisions[actor]))

        results = race([decide(primary, one, races.PRIMARY), decide(manager, two, races.MANAGER)])
        outcomes = {}
        for actor, (status, body) in zip(races.ACTORS, results):
            outcomes[actor] = ("won" if status == 303 else
                               f"lost: {text(body)}" if status == 409 else f"error: {status} {text(body)[:400]}")
        statuses.append(races._judge(app, number, request_id, requester, outcomes, decisions, untold))
    assert not untold, "the other approver was not told who decided:\n" + "\n".join(untold)
    outbox_settled(app, smtp)
    races._delivered_decisions(smtp, setup["requesters"], statuses)
    one_scheduler_did_the_work(app)


def test_the_4th_and_5th_secondary_added_on_two_servers_at_once(setup_app, smtp, servers):
    from tests.concurrency import test_concurrency as cap

    app = setup_app
    setup = cap._prepare(World(app), app, rounds=ROUNDS)
    site_id = setup["site_id"]
    assert len(cap._secondaries(app, site_id)) == 3
    one, two = servers()
    primary = Browser().sign_in(one, cap.PRIMARY)
    manager = Browser().sign_in(two, cap.MANAGER)
    for number, pair in enumerate(setup["candidates"]):
        def add(browser, server, email):
            return lambda: browser.post(f"{server.url}/sites/{site_id}/members", {
                "email": email, "role": "secondary", "business_justification": "Racing on two servers"})

        results = race([add(primary, one, pair[0]), add(manager, two, pair[1])])
        outcomes = {}
        for email, (status, body) in zip(pair, results):
            outcomes[email] = ("added" if status == 303 else
                               f"refused: {text(body)}" if status == 422 else f"error: {status} {text(body)[:300]}")
        winner = cap._judge(app, site_id, number, outcomes, pair, (False, False))
        cap._back_to_three(app, site_id, winner, candidates_as_users=False)
    outbox_settled(app, smtp)
    one_scheduler_did_the_work(app)


def _primaries(app, site_id):
    with app.app_context():
        emails = sorted(db.session.scalars(sa.select(Person.email).join(Membership, Membership.person_id == Person.id)
                                           .where(Membership.site_id == site_id, Membership.role == "primary")))
        db.session.rollback()
    return emails


def test_an_offer_of_the_primary_role_accepted_on_two_servers_at_once(setup_app, smtp, servers):
    """Each round a site's primary offers the role to a secondary; the nominee accepts on both servers
    at the same moment (a double click through a load balancer), or accepts on one while the primary
    cancels on the other. Always exactly one primary, and one outcome."""
    from models import Site
    from models import primary_transfer as transfers
    from models.membership import membership_of
    from models.person import find_person

    app = setup_app
    world = World(app)
    rounds = []
    for number in range(ROUNDS):
        primary, nominee = f"primary{number}@example.com", f"nominee{number}@example.com"
        site_id = world.site(primary, number=f"TR-{number}")
        world.member(site_id, nominee, "secondary")
        with app.app_context():
            site = db.session.get(Site, site_id)
            offer = transfers.offer_transfer(site, find_person(primary),
                                             membership_of(find_person(nominee), site_id))
            db.session.commit()
            rounds.append((site_id, offer.id, primary, nominee))
    one, two = servers()
    for number, (site_id, offer_id, primary, nominee) in enumerate(rounds):
        accept_url = f"/sites/{site_id}/primary/offers/{offer_id}"
        nominee_browser = Browser().sign_in(one, nominee)
        if number % 2 == 0:
            calls = [lambda: nominee_browser.post(one.url + accept_url), lambda: nominee_browser.post(two.url + accept_url)]
        else:
            primary_browser = Browser().sign_in(two, primary)
            calls = [lambda: nominee_browser.post(one.url + accept_url),
                     lambda: primary_browser.post(f"{two.url}/sites/{site_id}/primary/cancel")]
        (first, first_body), (second, second_body) = race(calls)
        assert first in (303, 409) and second in (303, 409), \
            f"round {number}: {first} {text(first_body)[:300]} / {second} {text(second_body)[:300]}"
        with app.app_context():
            offer = db.session.get(PrimaryTransfer, offer_id)
            accepted, cancelled = offer.accepted_at is not None, offer.cancelled_at is not None
            db.session.rollback()
        assert accepted != cancelled, f"round {number}: accepted {accepted}, cancelled {cancelled}"
        primaries = _primaries(app, site_id)
        assert primaries == [nominee if accepted else primary], f"round {number}: primaries {primaries}"
        if number % 2 == 0:
            assert sorted((first, second)) == [303, 409], f"round {number}: both accepted?"
            assert accepted
        with app.app_context():
            events = db.session.scalar(sa.select(sa.func.count()).select_from(
                sa.table("audit_event", sa.column("site_id"), sa.column("action")))
                .where(sa.column("site_id") == site_id, sa.column("action") == "primary.transferred"))
            db.session.rollback()
        assert events == (1 if accepted else 0), f"round {number}: {events} transfer events"
    messages = outbox_settled(app, smtp)
    transferred = [m for m in messages if "primary contact of site" in m["Subject"] and "changed" in m["Subject"]]
    accepted_sites = [site for number, (site, *_rest) in enumerate(rounds) if _primaries(app, site)[0].startswith("nominee")]
    assert len(transferred) == 2 * len(accepted_sites)  # the new and the old primary, once each
    one_scheduler_did_the_work(app)
