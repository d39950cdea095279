"""Access requests: self-nomination, and members asking for a higher level (SPEC §5, §7)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import db, utcnow

MEMBERSHIP, PRIVILEGE = "membership", "privilege"
PENDING, APPROVED, REJECTED, WITHDRAWN = "pending", "approved", "rejected", "withdrawn"
REJECTION_REASONS = ("unknown_requester", "not_required", "no_business_relationship", "other")


class AccessRequest(db.Model):
    __tablename__ = "access_request"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('membership', 'privilege')", name="kind"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn')", name="status"),
        sa.CheckConstraint(
            "rejection_reason IS NULL OR rejection_reason IN "
            "('unknown_requester', 'not_required', 'no_business_relationship', 'other')", name="rejection_reason"),
        sa.CheckConstraint("kind = 'membership' OR tool_id IS NOT NULL", name="privilege_names_tool"),
        # At most one pending self-nomination per person and site.
        sa.Index("uq_access_request_pending_membership", "site_id", "requester_id", unique=True,
                 sqlite_where=sa.text("status = 'pending' AND kind = 'membership'"),
                 postgresql_where=sa.text("status = 'pending' AND kind = 'membership'")),
        sa.Index("ix_access_request_site_status", "site_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    requester_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    tool_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tool.id", ondelete="CASCADE"))
    requested_rank: Mapped[int | None]
    company_name: Mapped[str] = mapped_column(sa.String(200), default="")
    # The requester's contact details as given (name, phone, job title …) for the approver's review.
    contact_details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    business_justification: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(32))
    rejection_text: Mapped[str | None] = mapped_column(sa.Text)

    requester: Mapped["Person"] = relationship(foreign_keys=[requester_id])  # noqa: F821
    decided_by: Mapped["Person | None"] = relationship(foreign_keys=[decided_by_id])  # noqa: F821

    def __repr__(self) -> str:
        return f"<AccessRequest {self.id} {self.kind} site={self.site_id} {self.status}>"
