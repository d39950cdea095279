"""Abuse limits counted in the database: every process and every restart sees the same counts.

An event is one thing a limit counts (a mail sent to an address, a failed sign-in from a client,
a self-nomination attempt). A limit is a number of events within a window for one key.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import db, utcnow

# Events older than this count towards no limit any more and are pruned.
HORIZON = timedelta(days=2)


class ThrottleEvent(db.Model):
    __tablename__ = "throttle_event"
    __table_args__ = (sa.Index("ix_throttle_event_kind_key_created", "kind", "key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    # An email address (lower case) or a client address; long enough for any of them.
    key: Mapped[str] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<ThrottleEvent {self.kind} {self.key} {self.created_at:%Y-%m-%d %H:%M:%S}>"


Limit = tuple[int, timedelta]  # at most this many events within this window


# Built once: the API counts one key's requests on every request (models.api.take_request).
_COUNT = (sa.select(sa.func.count()).select_from(ThrottleEvent)
          .where(ThrottleEvent.kind == sa.bindparam("kind"), ThrottleEvent.key == sa.bindparam("key"),
                 ThrottleEvent.created_at > sa.bindparam("since")))


# The same, counting no further than a limit: the cost of a check stays bounded by the limit, however
# many events a busy key has within the window.
_COUNT_UP_TO = sa.select(sa.func.count()).select_from(
    sa.select(sa.literal(1)).where(ThrottleEvent.kind == sa.bindparam("kind"), ThrottleEvent.key == sa.bindparam("key"),
                                   ThrottleEvent.created_at > sa.bindparam("since"))
    .limit(sa.bindparam("most")).subquery())


def count_events(kind: str, key: str, window: timedelta, most: int | None = None) -> int:
    """Return how many events of this kind were noted for a key within the window — no more than
    `most` when given (enough to tell whether a limit of `most` is reached)."""
    values = {"kind": kind, "key": _key(key), "since": utcnow() - window}
    if most is None:
        return db.session.connection().execute(_COUNT, values).scalar() or 0
    return db.session.connection().execute(_COUNT_UP_TO, {**values, "most": most}).scalar() or 0


def within_limits(kind: str, key: str, limits: list[Limit]) -> bool:
    """Tell whether one more event for this key stays within every limit (nothing is noted)."""
    return all(count_events(kind, key, window, most) < most for most, window in limits)


def note_event(kind: str, key: str) -> None:
    """Count one event for a key (in the caller's transaction), and forget this key's expired ones."""
    key = _key(key)
    now = utcnow()
    db.session.execute(sa.delete(ThrottleEvent).where(
        ThrottleEvent.kind == kind, ThrottleEvent.key == key, ThrottleEvent.created_at < now - HORIZON))
    db.session.add(ThrottleEvent(kind=kind, key=key, created_at=now))


def take(kind: str, key: str, limits: list[Limit]) -> bool:
    """Note one event for a key when it stays within every limit; tell whether it did.

    Called inside a write transaction (BEGIN IMMEDIATE on SQLite, or after a row lock), the count
    and the insert cannot be split by a concurrent caller.
    """
    if not within_limits(kind, key, limits):
        return False
    note_event(kind, key)
    return True


def prune_events() -> int:
    """Delete every event older than the horizon; return how many (for the scheduled sweep)."""
    return db.session.execute(
        sa.delete(ThrottleEvent).where(ThrottleEvent.created_at < utcnow() - HORIZON)).rowcount or 0


def _key(key: str | None) -> str:
    # Client addresses may be missing (tests, CLI); an empty key is still one shared bucket.
    return (key or "").strip().lower()[:320]
