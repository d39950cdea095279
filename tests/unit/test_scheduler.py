"""The scheduler's rules on one database: a lease has one holder and expires when it is not renewed,
each job interval is claimed once, and mail goes out within a minute by default. The schedulers
running as threads and processes are in tests/concurrency/test_scheduler_processes.py."""
from __future__ import annotations

from datetime import timedelta

from models import utcnow
from models.scheduler import REMINDERS, claim_job_run, lease_holder, release_lease, take_lease


def test_a_queued_mail_goes_out_within_a_minute_by_default(app):
    assert app.config["SCHEDULER_MAIL_SECONDS"] + app.config["SCHEDULER_TICK_SECONDS"] <= 60
    assert app.config["SCHEDULER_LEASE_SECONDS"] <= 120  # a crashed holder is replaced within two minutes
    assert app.config["SCHEDULER_REMINDERS_SECONDS"] == 3600 and app.config["SCHEDULER_BACKUP_SECONDS"] == 86400


def test_the_lease_goes_to_one_holder_and_expires_when_it_stops_renewing(app):
    now = utcnow()
    with app.app_context():
        assert take_lease("server-a", 60, now=now)
        assert not take_lease("server-b", 60, now=now + timedelta(seconds=1))
        assert take_lease("server-a", 60, now=now + timedelta(seconds=30))  # renewed by its holder
        assert lease_holder(now=now + timedelta(seconds=31)) == "server-a"
        # server-a crashed: it renews no more, and after its 60 seconds server-b takes over.
        assert not take_lease("server-b", 60, now=now + timedelta(seconds=89))
        assert take_lease("server-b", 60, now=now + timedelta(seconds=91))
        assert not take_lease("server-a", 60, now=now + timedelta(seconds=92))
        release_lease("server-b")  # a clean stop hands it on at once
        assert take_lease("server-a", 60, now=now + timedelta(seconds=93))


def test_each_job_interval_is_claimed_once(app):
    now = utcnow()
    with app.app_context():
        assert claim_job_run(REMINDERS, 3600, now=now)
        assert not claim_job_run(REMINDERS, 3600, now=now)
        assert not claim_job_run(REMINDERS, 3600, now=now + timedelta(minutes=59))
        assert claim_job_run(REMINDERS, 3600, now=now + timedelta(minutes=60))
