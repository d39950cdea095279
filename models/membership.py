"""Membership of a person in a site: the role, and one privilege level per tool."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import db, utcnow

PRIMARY = "primary"
SECONDARY = "secondary"
USER = "user"
ROLES = (PRIMARY, SECONDARY, USER)
ROLE_LABELS = {PRIMARY: _l("Primary contact"), SECONDARY: _l("Secondary contact"), USER: _l("User")}
MAX_SECONDARIES = 4


class Membership(db.Model):
    __tablename__ = "membership"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "person_id"),
        sa.CheckConstraint("role IN ('primary', 'secondary', 'user')", name="role"),
        # The database itself refuses a second primary contact for a site.
        sa.Index("uq_membership_one_primary", "site_id", unique=True,
                 sqlite_where=sa.text("role = 'primary'"), postgresql_where=sa.text("role = 'primary'")),
        sa.Index("ix_membership_site_role", "site_id", "role"),
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
        """Return the rank this member holds on a tool; the primary holds the top of every tool."""
        if self.role == PRIMARY:
            return tool.top_rank
        for privilege in self.privileges:
            if privilege.tool_id == tool.id:
                return privilege.rank
        return 0


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
    """Return all memberships of a person with their sites, by site name."""
    from .site import Site

    return list(db.session.scalars(
        sa.select(Membership).join(Membership.site).where(Membership.person_id == person.id)
        .options(sa.orm.contains_eager(Membership.site)).order_by(Site.name, Site.id)
    ))


def primary_of(site_id: int) -> Membership | None:
    """Return the primary contact's membership of a site."""
    return db.session.scalar(
        sa.select(Membership).where(Membership.site_id == site_id, Membership.role == PRIMARY)
    )
