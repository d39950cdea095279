"""The tool catalog (data, not code): tools, their ordered levels, and the tables of per-site access
profiles (their commands are in models.profile)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import db
from .roles import SECONDARY

# Keys of the tools whose meaning the code relies on; names and the rest of the catalog are data.
MANAGE_ACCESS = "manage_access"
CONTACT_UPDATES = "contact_updates"
REPORTING = "reporting"
DOCUMENTS = "documents"
SUPPORT = "support"

# The default catalog of SPEC §3, seeded by a migration: (key, name, secondary_only, levels).
DEFAULT_CATALOG: list[tuple[str, str, bool, list[str]]] = [
    ("software", "Software and services (purchase and download)", False,
     ["None", "Downloads only", "Downloads and media",
      "Downloads, media, quotes, product catalogs and license renewals"]),
    (REPORTING, "Reporting", False, ["None", "View"]),
    ("entitlements", "Entitlements: inventory and deployments", False, ["None", "View", "Update"]),
    ("allocation", "Entitlement allocation", False, ["None", "View", "Update"]),
    (MANAGE_ACCESS, "Manage access", True, ["None", "View", "Update"]),
    (CONTACT_UPDATES, "Contact updates", True, ["None", "View", "Update"]),
    (DOCUMENTS, "Account-related documents", False, ["None", "View"]),
    (SUPPORT, "Support cases", False, ["No access", "Basic", "Full", "Administrator"]),
]

# The three default profiles of every new site (after Amazon's roles): tool key → level rank.
# Tools left out get their lowest level.
DEFAULT_PROFILES: list[tuple[str, dict[str, int]]] = [
    ("Full access", {"software": 3, REPORTING: 1, "entitlements": 2, "allocation": 2, MANAGE_ACCESS: 2,
                     CONTACT_UPDATES: 2, DOCUMENTS: 1, SUPPORT: 2}),
    ("Reporting access", {REPORTING: 1, "entitlements": 1, "allocation": 1, DOCUMENTS: 1, SUPPORT: 1}),
    ("Basic access", {"software": 1, SUPPORT: 1}),
]


class Tool(db.Model):
    __tablename__ = "tool"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(default=0)
    # Levels above the lowest may be held by secondary contacts only (the primary holds the top).
    secondary_only: Mapped[bool] = mapped_column(default=False)

    levels: Mapped[list[ToolLevel]] = relationship(order_by="ToolLevel.rank", cascade="all, delete-orphan",
                                                   back_populates="tool")

    def __repr__(self) -> str:
        return f"<Tool {self.key}>"

    @property
    def top_rank(self) -> int:
        return len(self.levels) - 1

    def level_name(self, rank: int) -> str:
        return self.levels[rank].name

    def level_key(self, rank: int) -> str:
        """The stable key of one of this tool's levels (what the API names it by)."""
        return self.levels[rank].key

    def open_to(self, role: str) -> bool:
        """Tell whether a member of this role may hold more than this tool's lowest level: the tools
        reserved to secondary contacts stay at their lowest for everyone else (check_levels refuses more)."""
        return role == SECONDARY or not self.secondary_only


class ToolLevel(db.Model):
    __tablename__ = "tool_level"

    tool_id: Mapped[int] = mapped_column(sa.ForeignKey("tool.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # The level's stable name for the API (migration 0014): the display name may change, the key not.
    key: Mapped[str] = mapped_column(sa.String(64))

    tool: Mapped[Tool] = relationship(back_populates="levels")

    __table_args__ = (sa.CheckConstraint("rank >= 0", name="rank_not_negative"), sa.UniqueConstraint("tool_id", "key"))

    def __repr__(self) -> str:
        return f"<ToolLevel {self.tool_id}:{self.rank} {self.name}>"


class AccessProfile(db.Model):
    """A site's named bundle of levels, chosen to set all of a member's levels at once."""

    __tablename__ = "access_profile"
    __table_args__ = (sa.UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("site.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    position: Mapped[int] = mapped_column(default=0)

    levels: Mapped[list[AccessProfileLevel]] = relationship(cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<AccessProfile {self.site_id} {self.name}>"

    def ranks(self) -> dict[int, int]:
        """Return tool id → rank for the tools this profile names."""
        return {level.tool_id: level.rank for level in self.levels}


class AccessProfileLevel(db.Model):
    __tablename__ = "access_profile_level"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tool_id", "rank"], ["tool_level.tool_id", "tool_level.rank"], ondelete="CASCADE"),
    )

    profile_id: Mapped[int] = mapped_column(sa.ForeignKey("access_profile.id", ondelete="CASCADE"), primary_key=True)
    tool_id: Mapped[int] = mapped_column(sa.ForeignKey("tool.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int]


def catalog() -> list[Tool]:
    """Return every tool with its levels, in display order."""
    return list(db.session.scalars(sa.select(Tool).order_by(Tool.position, Tool.id)
                                   .options(sa.orm.selectinload(Tool.levels))))


def tool_by_key(key: str) -> Tool:
    """Return the catalog tool with this stable key."""
    return db.session.execute(sa.select(Tool).where(Tool.key == key)).scalar_one()


def create_default_profiles(site) -> None:
    """Give a new site the three default access profiles."""
    tools = {tool.key: tool for tool in catalog()}
    for position, (name, ranks) in enumerate(DEFAULT_PROFILES):
        profile = AccessProfile(site_id=site.id, name=name, position=position)
        for key, rank in ranks.items():
            if key in tools and rank <= tools[key].top_rank:
                profile.levels.append(AccessProfileLevel(tool_id=tools[key].id, rank=rank))
        db.session.add(profile)


def profiles_of(site_id: int) -> list[AccessProfile]:
    """Return a site's access profiles in display order, with their levels."""
    return list(db.session.scalars(sa.select(AccessProfile).where(AccessProfile.site_id == site_id)
                                   .order_by(AccessProfile.position, AccessProfile.id)
                                   .options(sa.orm.selectinload(AccessProfile.levels))))
