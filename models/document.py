"""Account documents uploaded to a site (SPEC §8) and access reviews of its memberships."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import db, utcnow

DOCUMENT_TYPES = ("proof_of_entitlement", "invoice", "agreement", "renewal_quote")


class Document(db.Model):
    __tablename__ = "document"
    __table_args__ = (
        sa.CheckConstraint("doc_type IN ('proof_of_entitlement', 'invoice', 'agreement', 'renewal_quote')",
                           name="doc_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    doc_type: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.String(255))  # the uploaded name, shown, never used as a path
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)  # random, under instance/
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.doc_type} site={self.site_id}>"


class AccessReview(db.Model):
    __tablename__ = "access_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<AccessReview {self.id} site={self.site_id}>"


class AccessReviewItem(db.Model):
    """One member's line in a review: confirmed or revoked, by whom and when."""

    __tablename__ = "access_review_item"
    __table_args__ = (
        sa.UniqueConstraint("review_id", "person_id"),
        sa.CheckConstraint("decision IS NULL OR decision IN ('confirmed', 'revoked')", name="decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("access_review.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"))
    decision: Mapped[str | None] = mapped_column(sa.String(16))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
