"""The scheduler inside the service, running: mail goes out with no command run by hand (also when a
CLI process queued it, also after the relay was down), of two schedulers on one database exactly one
does the work (a lease), each mail sent once, and orphan document files are swept daily."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from models import OutboxMail, db
from models.scheduler import BACKUP, MAIL, REMINDERS, SWEEP, Scheduler
from tests.helpers.apps import make_test_app
from tests.helpers.databases import close_database
from tests.helpers.mail import link_in

pytestmark = pytest.mark.concurrency

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fast(tmp_path, **overrides):
    """Scheduler settings for a test: wake up every 0.1 s, deliver every 0.2 s, back up into tmp_path."""
    config = {"SCHEDULER_TICK_SECONDS": 0.1, "SCHEDULER_MAIL_SECONDS": 0.2, "SCHEDULER_LEASE_SECONDS": 30,
              "BACKUP_DIR": str(tmp_path / "backups")}
    config.update(overrides)
    return config


def wait_until(condition, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def outbox(app):
    with app.app_context():
        rows = db.session.execute(sa.select(OutboxMail.recipient, OutboxMail.status, OutboxMail.attempts)
                                  .order_by(OutboxMail.id)).all()
        db.session.remove()
        return rows


def create_site(app, number, email):
    result = app.test_cli_runner().invoke(args=["create-site", "--customer", "Acme Corp", "--site-number", number,
                                                "--name", f"Plant {number}", "--primary-email", email])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def schedulers():
    started = []
    yield started
    for scheduler in started:
        scheduler.stop()
    for scheduler in started:
        close_database(scheduler.app)


def test_mail_queued_while_the_relay_is_down_arrives_when_it_is_back(database_uri, smtp, tmp_path, schedulers):
    app = make_test_app(database_uri, smtp, MAIL_RETRY_SECONDS=0.5, **fast(tmp_path))
    schedulers.append(Scheduler(app).start())
    smtp.stop()
    create_site(app, "3001", "new.primary@example.com")
    # The delivery right after the commit and the scheduler's both meet a closed port: deferred, kept.
    wait_until(lambda: outbox(app)[0][2] >= 1, what="a failed delivery attempt")
    recipient, status, _attempts = outbox(app)[0]
    assert (recipient, status) in {("new.primary@example.com", "pending"), ("new.primary@example.com", "sending")}
    assert smtp.messages == []

    smtp.start()
    message = smtp.wait_for(1, timeout=20)[0]  # nobody runs deliver-mail: the scheduler retries on its backoff
    assert message["To"] == "new.primary@example.com"
    assert "3001" in message["Subject"]
    link = link_in(message, "/invitations/").removeprefix("http://localhost")
    assert app.test_client().get(link).status_code == 200
    wait_until(lambda: outbox(app)[0][1] == "sent", what="the mail marked sent")
    time.sleep(0.5)
    assert len(smtp.messages) == 1


def test_mail_queued_by_a_cli_process_arrives(database_uri, smtp, tmp_path, schedulers):
    # The CLI runs as its own process and ends at once: nothing of it is left to deliver the mail.
    env = dict(os.environ, SITEPASS_SQLALCHEMY_DATABASE_URI=database_uri, SITEPASS_MAIL_SERVER="127.0.0.1",
               SITEPASS_MAIL_PORT=str(smtp.port), SITEPASS_MAIL_DELIVER_AFTER_COMMIT="false",
               SITEPASS_SECRET_KEY="test-secret-key", SITEPASS_BASE_URL="http://localhost")
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "create-site", "--customer", "Acme Corp",
                           "--site-number", "3002", "--name", "Plant", "--primary-email", "cli.primary@example.com"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    app = make_test_app(database_uri, smtp, **fast(tmp_path))
    assert [row[1] for row in outbox(app)] == ["pending"]

    schedulers.append(Scheduler(app).start())
    message = smtp.wait_for(1, timeout=15)[0]
    assert message["To"] == "cli.primary@example.com"
    link = link_in(message, "/invitations/").removeprefix("http://localhost")
    assert app.test_client().get(link).status_code == 200


def test_two_schedulers_at_once_send_each_mail_once(database_uri, smtp, tmp_path, schedulers):
    queueing = make_test_app(database_uri, smtp, MAIL_DELIVER_AFTER_COMMIT=False)
    count = 12
    for n in range(count):
        create_site(queueing, str(4000 + n), f"primary{n}@example.com")
    close_database(queueing)

    # Two apps with engines of their own, as two processes (or servers) on one database would have.
    first = Scheduler(make_test_app(database_uri, smtp, **fast(tmp_path)))
    second = Scheduler(make_test_app(database_uri, smtp, **fast(tmp_path)))
    schedulers.extend([first, second])
    first.start(), second.start()

    smtp.wait_for(count, timeout=20)
    time.sleep(1.0)  # time for a duplicate to show up, had anything been sent twice
    assert sorted(m["To"] for m in smtp.messages) == sorted(f"primary{n}@example.com" for n in range(count))
    assert len({m["Message-ID"] for m in smtp.messages}) == count
    # One of them held the lease and did every job; the other never ran one.
    workers = [s for s in (first, second) if s.runs]
    assert len(workers) == 1
    assert {MAIL, REMINDERS, BACKUP} <= set(workers[0].runs)
    assert workers[0].runs.count(BACKUP) == 1  # a day has not passed


def test_the_scheduler_sweeps_orphan_document_files_daily(database_uri, smtp, tmp_path):
    # An upload that died between writing its file and committing leaves a file nobody names; the
    # scheduler removes it once it is an hour old, with no cron.
    folder = tmp_path / "documents"
    folder.mkdir()
    old, fresh = folder / ("a" * 64), folder / ("b" * 64)
    for file in (old, fresh):
        file.write_bytes(b"left by a crash")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    app = make_test_app(database_uri, smtp, DOCUMENTS_DIR=str(folder), **fast(tmp_path))
    scheduler = Scheduler(app)
    assert SWEEP in scheduler.tick()
    assert not old.exists() and fresh.exists()
    assert SWEEP not in scheduler.tick()  # once a day
    scheduler.stop()
    close_database(app)
