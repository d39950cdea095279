"""The service's health as a monitor sees it: the database answers, its schema is at the migrations'
head, and how long the oldest mail has waited in the outbox."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from .base import db, utcnow
from .outbox import PENDING, SENDING, OutboxMail

log = logging.getLogger(__name__)


def migration_heads(app) -> set[str]:
    """The head revisions of the app's migration scripts (read from disk once per app)."""
    heads = app.extensions.get("sitepass_migration_heads")
    if heads is None:
        heads = set(ScriptDirectory(app.extensions["migrate"].directory).get_heads())
        app.extensions["sitepass_migration_heads"] = heads
    return heads


def service_health(app) -> dict:
    """Return {"status": "ok"|"unavailable", "database": "ok"|"unavailable", "migrations": "current"|
    "behind"|"unknown", "oldest_undelivered_mail_seconds": int|None}; only reads, and ends its transaction.

    "ok" needs both: a database that answers and the alembic head applied (a server started on a
    database not yet upgraded would fail on the first request that touches a new table).
    """
    report = {"status": "unavailable", "database": "unavailable", "migrations": "unknown",
              "oldest_undelivered_mail_seconds": None}
    try:
        applied = set(db.session.scalars(sa.text("SELECT version_num FROM alembic_version")))
        report["database"] = "ok"
        report["migrations"] = "current" if applied == migration_heads(app) else "behind"
        oldest = db.session.scalar(sa.select(sa.func.min(OutboxMail.created_at))
                                   .where(OutboxMail.status.in_((PENDING, SENDING))))
        if oldest is not None:
            report["oldest_undelivered_mail_seconds"] = max(0, int((utcnow() - oldest).total_seconds()))
    except sa.exc.SQLAlchemyError as error:
        log.warning("health check: %s", error.__class__.__name__ + ": " + str(error).splitlines()[0])
    finally:
        db.session.rollback()
    if report["database"] == "ok" and report["migrations"] == "current":
        report["status"] = "ok"
    return report
