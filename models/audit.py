"""The audit log: append-only events with who, what, where from, before and after."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.orm import Mapped, mapped_column

from .base import db, utcnow


class AuditEvent(db.Model):
    """One change. Rows are never updated or deleted (database triggers refuse it)."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_site_time", "site_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id"))
    # Kept as written at the time: the actor's email may change later.
    actor_label: Mapped[str] = mapped_column(sa.String(254), default="")
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("site.id"))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    target_type: Mapped[str] = mapped_column(sa.String(32), default="")
    target_id: Mapped[int | None]
    target_label: Mapped[str] = mapped_column(sa.String(254), default="")
    before: Mapped[Any | None] = mapped_column(sa.JSON)
    after: Mapped[Any | None] = mapped_column(sa.JSON)
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} site={self.site_id}>"


def _describe(target) -> tuple[str, int | None, str]:
    if target is None:
        return "", None, ""
    if isinstance(target, tuple):
        return target
    label = getattr(target, "email", None) or getattr(target, "site_number", None) or getattr(target, "name", "")
    return type(target).__name__.lower(), getattr(target, "id", None), str(label)


def record(actor, action: str, *, site=None, target=None, before: Any = None, after: Any = None) -> AuditEvent:
    """Append an audit event to the current transaction (the caller commits); its address is current_address()."""
    target_type, target_id, target_label = _describe(target)
    event = AuditEvent(actor_id=getattr(actor, "id", None), actor_label=getattr(actor, "email", "") or "",
                       site_id=getattr(site, "id", site), action=action, target_type=target_type,
                       target_id=target_id, target_label=target_label, before=before, after=after,
                       remote_addr=current_address())
    db.session.add(event)
    return event


def current_address() -> str | None:
    """The address the actor's request comes from: the one place it is read.

    None outside a request (commands, the scheduler). Read by record() for the audit log and by
    the per-client throttles in models/person.py; no domain function takes an address argument.
    """
    return request.remote_addr if has_request_context() else None
