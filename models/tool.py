"""The tool catalog (data, not code): tools, their ordered levels, and the tables of per-site access
profiles (their commands are in models.profile)."""
from __future__ import annotations

import functools

import sqlalchemy as sa
from flask import current_app, g, has_request_context
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


# The catalog's version: one row, counted up by database triggers on every insert, update and delete
# of a tool or a level (migration 0015), so a process knows without reading the catalog whether it changed.
catalog_version = sa.Table("catalog_version", db.metadata,
                           sa.Column("id", sa.Integer, primary_key=True),
                           sa.Column("version", sa.Integer, nullable=False))


class CatalogLevel:
    """A level of a catalog tool as plain data (what ToolLevel offers a reader)."""

    __slots__ = ("tool_id", "rank", "name", "key")

    def __init__(self, tool_id: int, rank: int, name: str, key: str):
        self.tool_id, self.rank, self.name, self.key = tool_id, rank, name, key

    def __repr__(self) -> str:
        return f"<CatalogLevel {self.tool_id}:{self.rank} {self.name}>"


class CatalogTool:
    """A tool of the catalog as plain data, read once per catalog version (catalog()): it answers what a
    Tool answers its readers (id, key, name, position, secondary_only, levels, top_rank, level_name,
    level_key, open_to), without the ORM's cost on every use."""

    __slots__ = ("id", "key", "name", "position", "secondary_only", "levels", "top_rank")

    def __init__(self, tool_id: int, key: str, name: str, position: int, secondary_only: bool):
        self.id, self.key, self.name, self.position = tool_id, key, name, position
        self.secondary_only = bool(secondary_only)
        self.levels: list[CatalogLevel] = []
        self.top_rank = -1

    def __repr__(self) -> str:
        return f"<CatalogTool {self.key}>"

    def level_name(self, rank: int) -> str:
        return self.levels[rank].name

    def level_key(self, rank: int) -> str:
        return self.levels[rank].key

    def open_to(self, role: str) -> bool:
        return Tool.open_to(self, role)


_CATALOG_ROWS = (sa.select(Tool.id, Tool.key, Tool.name, Tool.position, Tool.secondary_only, ToolLevel.rank,
                           ToolLevel.name.label("level"), ToolLevel.key.label("level_key"))
                 .select_from(Tool).outerjoin(ToolLevel, ToolLevel.tool_id == Tool.id)
                 .order_by(Tool.position, Tool.id, ToolLevel.rank))


def _read_catalog() -> list[CatalogTool]:
    tools: dict[int, CatalogTool] = {}
    for row in db.session.execute(_CATALOG_ROWS):
        tool = tools.get(row.id)
        if tool is None:
            tool = tools[row.id] = CatalogTool(row.id, row.key, row.name, row.position, row.secondary_only)
        if row.rank is not None:
            tool.levels.append(CatalogLevel(row.id, row.rank, row.level, row.level_key))
    for tool in tools.values():
        tool.top_rank = len(tool.levels) - 1
    return list(tools.values())


_VERSION_STATEMENT = sa.select(catalog_version.c.version).where(catalog_version.c.id == 1)


def catalog() -> list[CatalogTool]:
    """Return every tool with its levels, in display order, as plain data (CatalogTool).

    The one cache of the catalog: kept by the app per catalog version (the catalog_version row that
    database triggers count up on any change of a tool or a level), and the version read once per
    request — so a change of the catalog shows at the next request, in every process. Outside a
    request (commands, the scheduler) the version is read on every call.
    """
    if has_request_context() and "catalog" in g:
        return g.catalog
    version = db.session.scalar(_VERSION_STATEMENT)
    cache = current_app.extensions.setdefault("sitepass_catalog", {})
    key = (str(db.engine.url), version)
    tools = cache.get(key)
    if tools is None or version is None:
        tools = _read_catalog()
        cache.clear()
        cache[key] = tools
    if has_request_context():
        g.catalog = tools
    return tools


def forget_catalog() -> None:
    """Drop this request's copy of the catalog after changing it (the version changed with it)."""
    if has_request_context():
        g.pop("catalog", None)


def tool_by_key(key: str) -> CatalogTool:
    """Return the catalog tool with this stable key."""
    for tool in catalog():
        if tool.key == key:
            return tool
    raise LookupError(f"no tool {key!r} in the catalog")


def create_default_profiles(site) -> None:
    """Give a new site the three default access profiles."""
    tools = {tool.key: tool for tool in catalog()}
    for position, (name, ranks) in enumerate(DEFAULT_PROFILES):
        profile = AccessProfile(site_id=site.id, name=name, position=position)
        for key, rank in ranks.items():
            if key in tools and rank <= tools[key].top_rank:
                profile.levels.append(AccessProfileLevel(tool_id=tools[key].id, rank=rank))
        db.session.add(profile)


class SiteProfile:
    """An access profile as plain data (what the member pages read of one: id, site_id, name, ranks())."""

    __slots__ = ("id", "site_id", "name", "_ranks")

    def __init__(self, profile_id: int, site_id: int, name: str):
        self.id, self.site_id, self.name, self._ranks = profile_id, site_id, name, {}

    def __repr__(self) -> str:
        return f"<SiteProfile {self.site_id} {self.name}>"

    def ranks(self) -> dict[int, int]:
        """Return tool id → rank for the tools this profile names (AccessProfile.ranks)."""
        return dict(self._ranks)


def profiles_of(site_id: int) -> list[SiteProfile]:
    """Return a site's access profiles in display order, with their levels, as plain data read in one
    statement (the User list and every member form read them: ORM entities cost more than the query)."""
    profiles: dict[int, SiteProfile] = {}
    for profile_id, name, tool_id, rank in db.session.execute(_profiles_statement(), {"site_id": site_id}):
        profile = profiles.get(profile_id)
        if profile is None:
            profile = profiles[profile_id] = SiteProfile(profile_id, site_id, name)
        if tool_id is not None:
            profile._ranks[tool_id] = rank
    return list(profiles.values())


@functools.cache
def _profiles_statement():
    # Built once per process; ORM columns, so that the session flushes a profile changed in this request first.
    level = AccessProfileLevel
    return (sa.select(AccessProfile.id, AccessProfile.name, level.tool_id, level.rank)
            .outerjoin(level, level.profile_id == AccessProfile.id)
            .where(AccessProfile.site_id == sa.bindparam("site_id"))
            .order_by(AccessProfile.position, AccessProfile.id))
