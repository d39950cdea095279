"""Site contact records and the contact types they hold (SPEC §6)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import db, utcnow

# The types a contact can hold, seeded by a migration. "Primary contact" is not among them:
# it follows the primary membership and changes only by transfer.
DEFAULT_CONTACT_TYPES = [
    ("technical", "Site technical contact"),
    ("administrative", "Administrative / proof-of-entitlement contact"),
    ("renewal", "Software subscription and support renewal contact"),
    ("media", "Media shipment contact"),
    ("billing", "Billing contact"),
]

contact_record_type = sa.Table(
    "contact_record_type", db.metadata,
    sa.Column("contact_record_id", sa.ForeignKey("contact_record.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("contact_type_id", sa.ForeignKey("contact_type.id", ondelete="CASCADE"), primary_key=True),
)


class ContactType(db.Model):
    __tablename__ = "contact_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<ContactType {self.key}>"


class ContactRecord(db.Model):
    """A site contact: a member, or a person or mailbox without portal access."""

    __tablename__ = "contact_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    phone: Mapped[str] = mapped_column(sa.String(32))  # E.164
    email: Mapped[str] = mapped_column(sa.String(254))
    address: Mapped[str] = mapped_column(sa.String(300))
    address_line2: Mapped[str] = mapped_column(sa.String(300), default="")
    city: Mapped[str] = mapped_column(sa.String(100))
    subdivision: Mapped[str] = mapped_column(sa.String(16))  # ISO 3166-2 code
    postal_code: Mapped[str] = mapped_column(sa.String(16))
    country: Mapped[str] = mapped_column(sa.String(2))  # ISO 3166-1 alpha-2
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    types: Mapped[list[ContactType]] = relationship(secondary=contact_record_type, order_by=ContactType.position)

    def __repr__(self) -> str:
        return f"<ContactRecord {self.id} site={self.site_id} {self.email}>"
