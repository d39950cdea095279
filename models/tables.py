"""The tables of the sites and their access, with the constants they hold and the plain lookups.

The layer every rule stands on: it imports only the base pieces, and nothing above it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import db, utcnow
from .roles import PRIMARY, ROLE_IN_SENTENCE, ROLE_LABELS, ROLES, SECONDARY, USER  # noqa: F401 (the tables' role names)

# --- customers and sites ------------------------------------------------------------------------

ORIGINATING = "originating"
ADDITIONAL = "additional"
SITE_KINDS = (ORIGINATING, ADDITIONAL)
SITE_KIND_LABELS = {ORIGINATING: _l("Originating site"), ADDITIONAL: _l("Additional site")}


class Customer(db.Model):
    __tablename__ = "customer"
    __table_args__ = (sa.Index("uq_customer_name_lower", sa.func.lower(sa.text("name")), unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sites: Mapped[list[Site]] = relationship(back_populates="customer", order_by="Site.site_number")

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name}>"


class Site(db.Model):
    __tablename__ = "site"
    __table_args__ = (sa.CheckConstraint("kind IN ('originating', 'additional')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customer.id", ondelete="RESTRICT"), index=True)
    site_number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16), default=ORIGINATING)
    coverage_ends_on: Mapped[date | None]
    contacts_reviewed_at: Mapped[datetime | None]
    # When the monthly review reminder last went out (keeps `send-reminders` from repeating itself).
    contacts_reminded_at: Mapped[datetime | None]
    # The last coverage reminder sent (days before the end) and the end date it was about.
    coverage_reminded_for: Mapped[date | None]
    coverage_reminded_days: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="sites")
    memberships: Mapped[list["Membership"]] = relationship(back_populates="site", passive_deletes=True)  # noqa: F821

    def __repr__(self) -> str:
        return f"<Site {self.site_number} {self.name}>"

    @property
    def kind_label(self) -> str:
        return str(SITE_KIND_LABELS[self.kind])


def lock_site(site_id: int) -> Site | None:
    """Load a site for a rule that counts its members, locking its row where the database can.

    On SQLite the whole database is already locked by BEGIN IMMEDIATE; on PostgreSQL this
    row lock serialises concurrent changes to one site's memberships.
    """
    return db.session.scalar(sa.select(Site).where(Site.id == site_id).with_for_update())


# --- memberships ------------------------------------------------------------------------------

MAX_SECONDARIES = 4
VIEW, UPDATE = 1, 2  # ranks of Manage access and Contact updates


class Membership(db.Model):
    __tablename__ = "membership"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "person_id"),
        sa.CheckConstraint("role IN ('primary', 'secondary', 'user')", name="role"),
        # The database itself refuses a second primary contact for a site.
        sa.Index("uq_membership_one_primary", "site_id", unique=True,
                 sqlite_where=sa.text("role = 'primary'"), postgresql_where=sa.text("role = 'primary'")),
        sa.Index("ix_membership_site_role", "site_id", "role"),
        sa.Index("ix_membership_site_sort_name", "site_id", "sort_name", "id", "search_text"),
        sa.Index("ix_membership_site_role_sort_name", "site_id", "role", "sort_name", "id"),
        sa.Index("ix_membership_site_sort_email", "site_id", "sort_email", "id"),
        sa.Index("ix_membership_site_granted", "site_id", "granted_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    # RESTRICT: deleting a person must never silently orphan a site they are primary of.
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="RESTRICT"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    business_justification: Mapped[str] = mapped_column(sa.Text, default="")
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_confirmed_at: Mapped[datetime | None]
    # Copies of the person's name and email for the User list, written by database triggers (migration
    # 0002) so that a site with 100,000 members is sorted and searched from one index. Never set here.
    sort_name: Mapped[str | None] = mapped_column(sa.String(500), server_default=sa.FetchedValue())
    sort_email: Mapped[str | None] = mapped_column(sa.String(254), server_default=sa.FetchedValue())
    search_text: Mapped[str | None] = mapped_column(sa.String(500), server_default=sa.FetchedValue())

    site: Mapped["Site"] = relationship(back_populates="memberships")  # noqa: F821
    person: Mapped["Person"] = relationship(foreign_keys=[person_id])  # noqa: F821
    granted_by: Mapped["Person | None"] = relationship(foreign_keys=[granted_by_id])  # noqa: F821
    privileges: Mapped[list[Privilege]] = relationship(cascade="all, delete-orphan", back_populates="membership")

    def __repr__(self) -> str:
        return f"<Membership site={self.site_id} person={self.person_id} {self.role}>"

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS[self.role])

    def level(self, tool) -> int:
        """Return the rank this member holds on a tool (rank_held)."""
        if self.role == PRIMARY:
            return tool.top_rank
        return rank_held(self.role, {privilege.tool_id: privilege.rank for privilege in self.privileges}, tool)


def rank_held(role: str, ranks: dict[int, int], tool) -> int:
    """Return the rank a member of this role holds on a tool, given their privileges (tool id → rank):
    the primary holds the top of every tool, everyone else what they were given, else the lowest."""
    return tool.top_rank if role == PRIMARY else ranks.get(tool.id, 0)


class Privilege(db.Model):
    __tablename__ = "privilege"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tool_id", "rank"], ["tool_level.tool_id", "tool_level.rank"]),
    )

    membership_id: Mapped[int] = mapped_column(sa.ForeignKey("membership.id", ondelete="CASCADE"), primary_key=True)
    tool_id: Mapped[int] = mapped_column(sa.ForeignKey("tool.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int]

    membership: Mapped[Membership] = relationship(back_populates="privileges")

    def __repr__(self) -> str:
        return f"<Privilege m={self.membership_id} tool={self.tool_id} rank={self.rank}>"


def membership_of(person, site_id: int) -> Membership | None:
    """Return the person's membership in a site, read fresh from the database."""
    if person is None or not getattr(person, "id", None):
        return None
    return db.session.scalar(
        sa.select(Membership).where(Membership.site_id == site_id, Membership.person_id == person.id)
    )


def memberships_of(person) -> list[Membership]:
    """Return all memberships of a person with their sites and privileges, by site name (one statement)."""
    return list(db.session.scalars(
        sa.select(Membership).join(Membership.site).where(Membership.person_id == person.id)
        .options(sa.orm.contains_eager(Membership.site), sa.orm.joinedload(Membership.privileges))
        .order_by(Site.name, Site.id)
    ).unique())


def primary_of(site_id: int) -> Membership | None:
    """Return the primary contact's membership of a site."""
    return db.session.scalar(
        sa.select(Membership).where(Membership.site_id == site_id, Membership.role == PRIMARY)
    )


def like_pattern(query: str) -> str:
    """Return the LIKE pattern (escape "\\") that finds `query` anywhere in a lower-cased text."""
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def levels_of(membership: Membership, tools) -> dict[int, int]:
    """Return tool id → rank held, for every tool of the catalog (Membership.level, the privileges read once)."""
    ranks = {privilege.tool_id: privilege.rank for privilege in membership.privileges} \
        if membership.role != PRIMARY else {}
    return {tool.id: rank_held(membership.role, ranks, tool) for tool in tools}


# --- contacts ---------------------------------------------------------------------------------

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
    # Holding the type gives rights on the site (today: the site technical contact manages support
    # levels, SPEC §7); see check_rights_types.
    carries_rights: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

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
    # District, neighbourhood, suburb… where the country's addresses name one (Google's "city_area").
    city_area: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    # State, province, prefecture… as Google's address data names it ("country_area": "CA", "東京都");
    # rows saved before migration 0013 may hold an ISO 3166-2 code, still understood.
    subdivision: Mapped[str] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(16))
    sorting_code: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")  # e.g. CEDEX
    country: Mapped[str] = mapped_column(sa.String(2))  # ISO 3166-1 alpha-2
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    types: Mapped[list[ContactType]] = relationship(secondary=contact_record_type, order_by=ContactType.position)

    def __repr__(self) -> str:
        return f"<ContactRecord {self.id} site={self.site_id} {self.email}>"



# --- invitations ------------------------------------------------------------------------------

# What a link can find; the accept page explains each.
OPEN, EXPIRED, REVOKED, ACCEPTED = "open", "expired", "revoked", "accepted"
STATE_LABELS = {OPEN: _l("Invited"), EXPIRED: _l("Invitation expired"), REVOKED: _l("Revoked"),
                ACCEPTED: _l("Accepted")}


class Invitation(db.Model):
    __tablename__ = "invitation"
    __table_args__ = (sa.CheckConstraint("role IN ('primary', 'secondary', 'user')", name="role"),
                      sa.Index("ix_invitation_site_email", "site_id", "email"))

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.String(16))
    business_justification: Mapped[str] = mapped_column(sa.Text, default="")
    # Tool id → rank to grant on acceptance (ranks are checked again then).
    levels: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The reminder mail carries a second link (only hashes are kept, so the first cannot be repeated).
    reminder_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    site: Mapped["Site"] = relationship()  # noqa: F821
    invited_by: Mapped["Person | None"] = relationship(foreign_keys=[invited_by_id])  # noqa: F821

    def __repr__(self) -> str:
        return f"<Invitation {self.id} {self.email} site={self.site_id} {self.status()}>"

    def status(self, now: datetime | None = None) -> str:
        if self.accepted_at is not None:
            return ACCEPTED
        if self.revoked_at is not None:
            return REVOKED
        if (now or utcnow()) >= self.expires_at:
            return EXPIRED
        return OPEN


# --- access requests ----------------------------------------------------------------------------

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
    site: Mapped["Site"] = relationship()  # noqa: F821
    tool: Mapped["Tool | None"] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<AccessRequest {self.id} {self.kind} site={self.site_id} {self.status}>"


# --- primary transfers --------------------------------------------------------------------------

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

    site: Mapped["Site"] = relationship()  # noqa: F821
    to_person: Mapped["Person"] = relationship(foreign_keys=[to_person_id])  # noqa: F821
    from_person: Mapped["Person"] = relationship(foreign_keys=[from_person_id])  # noqa: F821

    def __repr__(self) -> str:
        return f"<PrimaryTransfer site={self.site_id} {self.from_person_id}->{self.to_person_id}>"


# --- access reviews -----------------------------------------------------------------------------


class AccessReview(db.Model):
    __tablename__ = "access_review"
    __table_args__ = (
        # One review in progress per site at a time (migration 0006).
        sa.Index("uq_access_review_open", "site_id", unique=True,
                 sqlite_where=sa.text("completed_at IS NULL"), postgresql_where=sa.text("completed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    started_by: Mapped["Person | None"] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<AccessReview {self.id} site={self.site_id}>"


class AccessReviewItem(db.Model):
    """One member's line in a review: confirmed or revoked, by whom and when."""

    __tablename__ = "access_review_item"
    __table_args__ = (
        sa.UniqueConstraint("review_id", "person_id"),
        sa.CheckConstraint("decision IS NULL OR decision IN ('confirmed', 'revoked')", name="decision"),
        sa.Index("ix_access_review_item_review_decision", "review_id", "decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("access_review.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"))
    decision: Mapped[str | None] = mapped_column(sa.String(16))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]

    person: Mapped["Person"] = relationship(foreign_keys=[person_id])  # noqa: F821
    decided_by: Mapped["Person | None"] = relationship(foreign_keys=[decided_by_id])  # noqa: F821
    review: Mapped[AccessReview] = relationship()

    def __repr__(self) -> str:
        return f"<AccessReviewItem review={self.review_id} person={self.person_id} {self.decision}>"

    @property
    def site_id(self) -> int:
        """The site of the line's review (so that a line from the URL is checked like any site object)."""
        return self.review.site_id


