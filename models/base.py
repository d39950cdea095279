"""The database handle, the one clock, and the SQLite settings every connection gets."""
from __future__ import annotations

import contextvars
import logging
from datetime import datetime, timezone

import pytz
import sqlalchemy as sa
from flask import has_request_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger(__name__)

# Constraint names are deterministic so that Alembic can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Return the current time as naive UTC, the only form stored (SQLite drops time zones)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def commit_keeping_loaded() -> None:
    """Commit the session's transaction without expiring the objects it loaded: a request that answers
    with what it just changed renders from them (and from fresh reads) instead of reading the signed-in
    person, the site and their membership again in a new transaction. Only for what this request read
    in the transaction it commits: nothing else can have changed them before the answer is rendered
    that it would not show a moment later anyway."""
    session = db.session()
    before, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = before


# The time zones a person may choose: the IANA names in everyday use, as Babel (through pytz) knows them.
TIME_ZONES = frozenset(pytz.common_timezones)


# Whether transactions opened in this context will write. Requests with safe methods clear it so
# that readers do not queue behind writers; everything else (POSTs, CLI commands) begins IMMEDIATE.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)


def configure_sqlite(engine: sa.Engine) -> None:
    """Give every SQLite connection WAL, full sync, a busy timeout, foreign keys and BEGIN IMMEDIATE.

    pysqlite's default transaction handling issues BEGIN only before the first write, so a
    "count the secondaries, then insert" rule reads outside any transaction and concurrent writers
    silently break it. Taking the write lock at BEGIN makes such rules hold.
    """

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal" and engine.url.database not in (None, "", ":memory:"):
            raise RuntimeError(f"SQLite refused WAL journal mode (got {mode!r})")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "commit")
    def on_commit(connection):
        # A request commits its change once; whatever it reads afterwards (rendering the answer)
        # must not take the write lock again and keep other writers waiting.
        if has_request_context():
            write_intent.set(False)

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
