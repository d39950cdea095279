"""The scheduler inside the service: delivers the outbox, sends the reminders and makes the daily backup,
so that nothing depends on cron.

Every app process may run a Scheduler (gunicorn starts one thread per worker, see gunicorn.conf.py;
`flask scheduler` runs one on its own), yet exactly one does the work: the one holding the lease, a row of
`scheduler_lease` taken and renewed with a conditional UPDATE. A holder that dies stops renewing and its
lease expires after SCHEDULER_LEASE_SECONDS, when another process takes over. Each job run is claimed
with a conditional UPDATE of its `scheduler_job` row as well, so even two holders (a lease that expired
during a long job) run a job once per interval, and each mail keeps its own claim in the outbox.

Settings (seconds): SCHEDULER_TICK_SECONDS (how often a scheduler wakes up), SCHEDULER_LEASE_SECONDS,
SCHEDULER_MAIL_SECONDS, SCHEDULER_WEBHOOK_SECONDS, SCHEDULER_REMINDERS_SECONDS, SCHEDULER_BACKUP_SECONDS, SCHEDULER_BACKUP_KEEP
(how many daily backups are kept) and SCHEDULER_ENABLED (whether gunicorn workers start one).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .backup import backup_database, is_sqlite, prune_backups
from .base import db, utcnow
from .contact import send_review_reminders
from .document import sweep_orphan_files
from .invitation import send_invitation_reminders
from .outbox import deliver_due
from .site import send_coverage_reminders
from .throttle import prune_events
from .webhook import deliver_due as deliver_webhooks_due

log = logging.getLogger(__name__)

LEASE = "scheduler"
MAIL, REMINDERS, BACKUP, SWEEP = "deliver-mail", "send-reminders", "backup", "sweep-documents"
WEBHOOKS = "deliver-webhooks"
JOBS = (MAIL, WEBHOOKS, REMINDERS, BACKUP, SWEEP)
DEFAULTS = {
    "SCHEDULER_ENABLED": True,
    "SCHEDULER_TICK_SECONDS": 5,
    "SCHEDULER_LEASE_SECONDS": 60,
    # A mail queued outside a request (a CLI command, a deferred retry) goes out within this long.
    "SCHEDULER_MAIL_SECONDS": 20,
    "SCHEDULER_REMINDERS_SECONDS": 3600,
    "SCHEDULER_BACKUP_SECONDS": 86400,
    "SCHEDULER_BACKUP_KEEP": 7,
    "SCHEDULER_SWEEP_SECONDS": 86400,
    # Webhook deliveries (models/webhook.py) that are due leave within this long.
    "SCHEDULER_WEBHOOK_SECONDS": 10,
}
INTERVAL_SETTINGS = {MAIL: "SCHEDULER_MAIL_SECONDS", REMINDERS: "SCHEDULER_REMINDERS_SECONDS",
                     BACKUP: "SCHEDULER_BACKUP_SECONDS", SWEEP: "SCHEDULER_SWEEP_SECONDS",
                     WEBHOOKS: "SCHEDULER_WEBHOOK_SECONDS"}


class SchedulerLease(db.Model):
    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(sa.String(128))
    expires_at: Mapped[datetime | None]


class SchedulerJob(db.Model):
    __tablename__ = "scheduler_job"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    last_run_at: Mapped[datetime | None]
    # The scheduler that ran it last (for operators, and to show that one scheduler does the work).
    last_holder: Mapped[str | None] = mapped_column(sa.String(128))


def new_holder_id() -> str:
    """Name this scheduler in the lease row: host, process and a random part (threads of one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _ensure_row(model, name: str) -> None:
    if db.session.get(model, name) is None:
        try:
            with db.session.begin_nested():
                db.session.add(model(name=name))
        except sa.exc.IntegrityError:
            pass  # another scheduler inserted it meanwhile


def take_lease(holder: str, seconds: float, now: datetime | None = None) -> bool:
    """Take or renew the scheduler lease for `holder` for `seconds`; return whether `holder` holds it.

    One conditional UPDATE decides: it succeeds only when the lease is free, expired or already ours,
    so of several schedulers at the same moment exactly one wins. Commits.
    """
    now = now or utcnow()
    _ensure_row(SchedulerLease, LEASE)
    won = db.session.execute(
        sa.update(SchedulerLease)
        .where(SchedulerLease.name == LEASE,
               sa.or_(SchedulerLease.holder == holder, SchedulerLease.holder.is_(None),
                      SchedulerLease.expires_at.is_(None), SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
    ).rowcount
    db.session.commit()
    return bool(won)


def release_lease(holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so that another scheduler need not wait for it to expire."""
    db.session.execute(sa.update(SchedulerLease).where(SchedulerLease.name == LEASE, SchedulerLease.holder == holder)
                       .values(holder=None, expires_at=None))
    db.session.commit()


def lease_holder(now: datetime | None = None) -> str | None:
    """Who holds an unexpired lease now, if anyone."""
    now = now or utcnow()
    row = db.session.get(SchedulerLease, LEASE)
    if row is None or row.holder is None or row.expires_at is None or row.expires_at < now:
        return None
    return row.holder


def claim_job_run(name: str, every_seconds: float, holder: str | None = None, now: datetime | None = None) -> bool:
    """Claim this interval's run of a job: true for exactly one caller once `every_seconds` have passed
    since the job's last run (a conditional UPDATE of its row). Commits."""
    now = now or utcnow()
    _ensure_row(SchedulerJob, name)
    won = db.session.execute(
        sa.update(SchedulerJob)
        .where(SchedulerJob.name == name,
               sa.or_(SchedulerJob.last_run_at.is_(None),
                      SchedulerJob.last_run_at <= now - timedelta(seconds=every_seconds)))
        .values(last_run_at=now, last_holder=holder)
    ).rowcount
    db.session.commit()
    return bool(won)


# --- the jobs -----------------------------------------------------------------------------------

def deliver_mail() -> dict[str, int]:
    """Deliver every outbox mail that is due, batch after batch while batches get sent."""
    totals = {"sent": 0, "deferred": 0, "failed": 0}
    while True:
        counts = deliver_due()
        for key, value in counts.items():
            totals[key] += value
        if counts["sent"] == 0:
            return totals


def deliver_webhooks() -> dict[str, int]:
    """Send every webhook delivery that is due, batch after batch while batches get delivered."""
    totals = {"delivered": 0, "deferred": 0, "failed": 0}
    while True:
        counts = deliver_webhooks_due()
        for key, value in counts.items():
            totals[key] += value
        if counts["delivered"] == 0:
            return totals


def send_reminders() -> dict[str, int]:
    """Mail the reminders that are due (invitations, contact reviews, coverage) and prune old abuse-limit
    events; twice sends nothing new. Commits."""
    # Abuse-limit events older than any window are only weight: the table must not grow forever.
    counts = {"invitations": send_invitation_reminders(), "reviews": send_review_reminders(),
              "coverage": send_coverage_reminders(), "pruned": prune_events()}
    db.session.commit()
    return counts


def daily_backup(keep: int) -> str | None:
    """Back up a SQLite instance into instance/backups/ and keep the newest `keep`; on PostgreSQL do
    nothing (pg_dump is the tool there). Returns the new backup's path."""
    if not is_sqlite():
        return None
    result = backup_database()
    prune_backups(keep)
    return result.path


class Scheduler:
    """A loop that, while it holds the lease, runs each job whose interval has passed."""

    def __init__(self, app, holder: str | None = None):
        self.app = app
        self.holder = holder or new_holder_id()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.runs: list[str] = []  # the jobs this scheduler ran, in order (for logs and tests)

    def setting(self, key: str):
        return self.app.config.get(key, DEFAULTS[key])

    def tick(self) -> list[str]:
        """One round: take or renew the lease; when held, run the jobs that are due. Returns the jobs run."""
        ran = []
        with self.app.app_context():
            try:
                lease_seconds = self.setting("SCHEDULER_LEASE_SECONDS")
                if not take_lease(self.holder, lease_seconds):
                    return ran
                for job in JOBS:
                    if self.stopping.is_set():
                        break
                    if not claim_job_run(job, self.setting(INTERVAL_SETTINGS[job]), self.holder):
                        continue
                    try:
                        self._run(job)
                    except Exception:
                        db.session.rollback()
                        log.exception("scheduled job %s failed; it runs again at its next interval", job)
                    ran.append(job)
                    take_lease(self.holder, lease_seconds)  # a long job must not let the lease lapse
            except sa.exc.SQLAlchemyError:
                # The database is away for a moment (locked, restarting): try again at the next tick.
                db.session.rollback()
                log.exception("scheduler %s could not reach the database", self.holder)
            finally:
                db.session.remove()
        self.runs.extend(ran)
        return ran

    def _run(self, job: str) -> None:
        if job == MAIL:
            counts = deliver_mail()
            if any(counts.values()):
                log.info("mail: sent %(sent)s, deferred %(deferred)s, failed for good %(failed)s", counts)
        elif job == WEBHOOKS:
            counts = deliver_webhooks()
            if any(counts.values()):
                log.info("webhooks: delivered %(delivered)s, deferred %(deferred)s, failed for good %(failed)s", counts)
        elif job == REMINDERS:
            log.info("reminders sent: %s", send_reminders())
        elif job == BACKUP:
            path = daily_backup(self.setting("SCHEDULER_BACKUP_KEEP"))
            if path:
                log.info("backup written to %s", path)
        elif job == SWEEP:
            removed = sweep_orphan_files()
            if removed:
                log.info("removed %d orphan document file(s)", len(removed))

    def run_forever(self) -> None:
        log.info("scheduler %s started", self.holder)
        while not self.stopping.is_set():
            self.tick()
            self.stopping.wait(self.setting("SCHEDULER_TICK_SECONDS"))

    def start(self) -> "Scheduler":
        """Run in a daemon thread (beside a gunicorn worker's requests, or in a test)."""
        self.thread = threading.Thread(target=self.run_forever, name="sitepass-scheduler", daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Finish the job at hand, stop, and hand the lease back."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)
        with self.app.app_context():
            try:
                release_lease(self.holder)
            except sa.exc.SQLAlchemyError:
                db.session.rollback()
            finally:
                db.session.remove()
