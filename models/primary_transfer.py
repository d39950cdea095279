"""Two-party transfer of the primary role: an offer the nominee accepts within 48 hours (SPEC §2)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import db, utcnow


class PrimaryTransfer(db.Model):
    __tablename__ = "primary_transfer"
    __table_args__ = (
        # One open offer per site; accepting, cancelling or lapsing closes it.
        sa.Index("uq_primary_transfer_open", "site_id", unique=True,
                 sqlite_where=sa.text("accepted_at IS NULL AND cancelled_at IS NULL"),
                 postgresql_where=sa.text("accepted_at IS NULL AND cancelled_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    from_person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"))
    to_person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<PrimaryTransfer site={self.site_id} {self.from_person_id}->{self.to_person_id}>"
