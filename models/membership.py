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


# --- the rules of SPEC §3 and §4 ----------------------------------------------------------------

VIEW, UPDATE = 1, 2  # ranks of Manage access and Contact updates
SUPPORT = "support"  # the key of the Support cases tool (models.tool.SUPPORT), whose levels §7 governs


def levels_of(membership: Membership, tools) -> dict[int, int]:
    """Return tool id → rank held, for every tool of the catalog."""
    return {tool.id: membership.level(tool) for tool in tools}


def holds(membership: Membership | None, tool_key: str, rank: int) -> bool:
    """Tell whether a membership holds at least `rank` on the tool with this key."""
    from .tool import tool_by_key

    if membership is None:
        return False
    return membership.level(tool_by_key(tool_key)) >= rank


def may_edit(actor_membership: Membership | None, membership: Membership) -> bool:
    """Tell whether the actor may change or remove this member (the Edit, Remove and bulk controls of
    its row): with Manage access = Update, never themself, never the primary. update_member,
    remove_member and bulk_change refuse the same, each with its reason."""
    from .tool import MANAGE_ACCESS

    return (holds(actor_membership, MANAGE_ACCESS, UPDATE) and membership.role != PRIMARY
            and membership.person_id != actor_membership.person_id)


def _require_manage_update(actor_membership: Membership | None) -> None:
    from .errors import RuleViolation
    from .tool import MANAGE_ACCESS

    if not holds(actor_membership, MANAGE_ACCESS, UPDATE):
        raise RuleViolation(_l("You need Manage access = Update to change access on this site."))


def _count_secondaries(site_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                             .where(Membership.site_id == site_id, Membership.role == SECONDARY)) or 0


def secondary_seats_taken(site_id: int, replacing_email: str | None = None) -> tuple[int, int]:
    """Return (secondary contacts, pending secondary-contact invitations) of a site: together they take
    its MAX_SECONDARIES seats, since a pending invitation (not accepted, revoked or expired) keeps a
    seat for its invitee. The invitations of `replacing_email` are left out: a new invitation of that
    email replaces them."""
    from .invitation import Invitation

    pending = (sa.select(sa.func.count()).select_from(Invitation)
               .where(Invitation.site_id == site_id, Invitation.role == SECONDARY, Invitation.accepted_at.is_(None),
                      Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow()))
    if replacing_email:
        pending = pending.where(sa.func.lower(Invitation.email) != replacing_email.strip().lower())
    return _count_secondaries(site_id), db.session.scalar(pending) or 0


def require_secondary_seat(site_id: int, replacing_email: str | None = None, invitations: bool = True) -> None:
    """Refuse one more secondary contact, or invitation to become one, when the site's seats are all
    taken (SPEC §2: at most four; pending invitations keep theirs). The site's row is locked first, so
    that of two concurrent requests for the last seat exactly one gets it (BEGIN IMMEDIATE on SQLite,
    SELECT … FOR UPDATE on PostgreSQL). `invitations=False` counts the members only: the acceptance of
    an invitation, whose own seat was kept, re-checks the hard cap that way."""
    from .errors import RuleViolation
    from .site import lock_site

    lock_site(site_id)
    members, invited = secondary_seats_taken(site_id, replacing_email)
    if members >= MAX_SECONDARIES:
        raise RuleViolation(_l("This site already has %(n)d secondary contacts, the most allowed.",
                               n=MAX_SECONDARIES), "role")
    if invitations and members + invited >= MAX_SECONDARIES:
        raise RuleViolation(_l("All %(n)d secondary contact seats are taken: %(members)d secondary contacts and "
                               "%(invited)d pending invitations to become one. Revoking an invitation frees its seat.",
                               n=MAX_SECONDARIES, members=members, invited=invited), "role")


def check_levels(actor_membership: Membership, role: str, levels: dict[int, int], tools,
                 current: dict[int, int] | None = None) -> dict[int, int]:
    """Validate requested levels for a member with `role`; return them complete (every tool).

    A level may not exceed the tool's top, nor the actor's own level on that tool (unless it is
    unchanged); tools reserved to secondary contacts stay at their lowest level for users.
    """
    from .errors import RuleViolation

    current = current or {}
    result = {}
    for tool in tools:
        rank = int(levels.get(tool.id, current.get(tool.id, 0)))
        if rank < 0 or rank > tool.top_rank:
            raise RuleViolation(_l("%(tool)s has no such level.", tool=tool.name), f"tool_{tool.id}")
        if rank > 0 and not tool.open_to(role):
            raise RuleViolation(_l("%(tool)s above %(lowest)s is for secondary contacts only.",
                                   tool=tool.name, lowest=tool.levels[0].name), f"tool_{tool.id}")
        if rank > actor_membership.level(tool) and rank != current.get(tool.id, 0):
            raise RuleViolation(_l("You cannot grant %(level)s on %(tool)s: it is above your own level.",
                                   level=tool.level_name(rank), tool=tool.name), f"tool_{tool.id}")
        if tool.key == SUPPORT and rank != current.get(tool.id, 0):
            from .support import check_support_change

            check_support_change(actor_membership, tool, current.get(tool.id, 0), rank)
        result[tool.id] = rank
    return result


def _set_levels(membership: Membership, levels: dict[int, int]) -> None:
    by_tool = {privilege.tool_id: privilege for privilege in membership.privileges}
    for tool_id, rank in levels.items():
        privilege = by_tool.get(tool_id)
        if rank == 0:
            if privilege is not None:
                membership.privileges.remove(privilege)
        elif privilege is None:
            membership.privileges.append(Privilege(tool_id=tool_id, rank=rank))
        else:
            privilege.rank = rank


def _snapshot(membership: Membership, tools, grant: bool = False) -> dict:
    """A membership's access as the audit log keeps it: role and levels, and for the event that grants
    it who granted it and why (the reports rebuild the past from these)."""
    snapshot = {"role": membership.role,
                "levels": {tool.key: membership.level(tool) for tool in tools if membership.role != PRIMARY}}
    if grant:
        snapshot["granted_by"] = membership.granted_by.email if membership.granted_by else None
        snapshot["justification"] = membership.business_justification or ""
    return snapshot


# The audit actions whose target is a person and whose `after` is that person's whole access on the
# site (None when it ended): together they tell who held what at any moment.
ACCESS_ACTIONS = ("membership.added", "membership.changed", "membership.removed", "membership.left",
                  "membership.primary_granted", "invitation.accepted")
GRANT_ACTIONS = ("membership.added", "membership.primary_granted", "invitation.accepted")


def record_access(actor, action: str, site, membership: Membership, before=None, remote_addr: str | None = None):
    """Audit a change of one person's access with its full snapshot."""
    from .audit import record
    from .tool import catalog

    db.session.flush()
    db.session.refresh(membership)
    return record(actor, action, site=site, target=membership.person, before=before,
                  after=_snapshot(membership, catalog(), grant=action in GRANT_ACTIONS), remote_addr=remote_addr)


def add_member(site, actor, email: str, role: str, justification: str, levels: dict[int, int],
               remote_addr: str | None = None):
    """Give a person access to a site: an existing account at once with a Welcome mail, an unknown
    email through an invitation (single use, 48 hours). Returns the membership or the invitation."""
    from .errors import RuleViolation
    from .invitation import invite
    from .outbox import queue_mail
    from .person import find_proven_person, normalize_email
    from .site import lock_site
    from .tool import catalog

    actor_membership = membership_of(actor, site.id)
    _require_manage_update(actor_membership)
    email = normalize_email(email)
    if role not in (SECONDARY, USER):
        raise RuleViolation(_l("Choose secondary contact or user."), "role")
    justification = (justification or "").strip()
    if not justification:
        raise RuleViolation(_l("Give a business justification."), "business_justification")
    tools = catalog()
    granted = check_levels(actor_membership, role, levels, tools)
    lock_site(site.id)
    # An unverified account with this email is a stranger's: the mailbox's owner gets an invitation.
    person = find_proven_person(email)
    if person is not None and membership_of(person, site.id) is not None:
        raise RuleViolation(_l("%(email)s is already a member of this site.", email=email), "email")
    if role == SECONDARY:
        require_secondary_seat(site.id, replacing_email=email)
    if person is None:
        invitation, _raw = invite(site, email, role, actor, justification=justification,
                                  levels={tool_id: rank for tool_id, rank in granted.items() if rank},
                                  remote_addr=remote_addr)
        return invitation
    membership = Membership(site_id=site.id, person_id=person.id, role=role, business_justification=justification,
                            granted_by_id=actor.id)
    db.session.add(membership)
    _set_levels(membership, granted)
    record_access(actor, "membership.added", site, membership, remote_addr=remote_addr)
    queue_mail(person, "welcome", site=site, role_label=str(ROLE_LABELS[role]))
    return membership


def update_member(site, actor, membership: Membership, role: str, levels: dict[int, int],
                  remote_addr: str | None = None, *, _tools=None, _check_cap: bool = True,
                  notify: bool = True) -> bool:
    """Change a member's role and levels; return whether anything changed.

    Nobody edits themself; the primary's membership changes only by transfer; a secondary demoted
    to user loses the levels reserved to secondary contacts; at most four secondaries. The member is
    mailed the change when their preferences ask for it (and `notify` is left on).
    """
    from .errors import RuleViolation
    from .tool import catalog

    actor_membership = membership_of(actor, site.id)
    _require_manage_update(actor_membership)
    if membership.site_id != site.id:
        raise RuleViolation(_l("No such member on this site."))
    if membership.person_id == actor.id:
        raise RuleViolation(_l("You cannot change your own role or privileges."))
    if membership.role == PRIMARY:
        raise RuleViolation(_l("The primary contact's access changes only by transferring the primary role."))
    if role not in (SECONDARY, USER):
        raise RuleViolation(_l("Choose secondary contact or user."), "role")
    tools = _tools or catalog()
    if role == USER:
        # Demotion resets what only secondary contacts may hold.
        levels = {**levels, **{tool.id: 0 for tool in tools if not tool.open_to(role)}}
    granted = check_levels(actor_membership, role, levels, tools, current=levels_of(membership, tools))
    if role == SECONDARY and membership.role != SECONDARY and _check_cap:
        require_secondary_seat(site.id)
    before = _snapshot(membership, tools)
    membership.role = role
    _set_levels(membership, granted)
    return _record_change(site, actor, membership, before, tools, notify, remote_addr)


def _record_change(site, actor, membership: Membership, before: dict, tools, notify: bool,
                   remote_addr: str | None) -> bool:
    """Audit a changed membership against its snapshot from before, and mail the member when their
    preferences ask for it; return False (nothing recorded) when nothing changed."""
    from .audit import record

    db.session.flush()
    db.session.expire(membership, ["privileges"])
    after = _snapshot(membership, tools)
    if before == after:
        return False
    record(actor, "membership.changed", site=site, target=membership.person, before=before, after=after,
           remote_addr=remote_addr)
    person = membership.person
    if notify and person.notification_preferences.get("privilege_changes", True):
        from .outbox import queue_mail

        queue_mail(person, "privilege_changed", site=site, membership=membership, tools=tools,
                   changed_by=actor.display_name)
    return True


def remove_member(site, actor, membership: Membership, remote_addr: str | None = None) -> None:
    """Take a member off a site; never the primary (transfer first), never oneself (leave instead)."""
    from .audit import record
    from .errors import RuleViolation
    from .tool import catalog

    actor_membership = membership_of(actor, site.id)
    _require_manage_update(actor_membership)
    if membership.site_id != site.id:
        raise RuleViolation(_l("No such member on this site."))
    if membership.role == PRIMARY:
        raise RuleViolation(_l("The primary contact cannot be removed; transfer the primary role first."))
    if membership.person_id == actor.id:
        raise RuleViolation(_l("You cannot remove yourself here; use Leave site."))
    before = _snapshot(membership, catalog())
    person = membership.person
    db.session.delete(membership)
    db.session.flush()
    record(actor, "membership.removed", site=site, target=person, before=before, remote_addr=remote_addr)
    from .review import settle_review

    settle_review(site, actor, remote_addr)


class BulkRefused(Exception):
    """Some rows of a bulk change were refused; nothing was changed. `errors` maps row id → message."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(f"{len(errors)} row(s) refused")
        self.errors = errors


def bulk_change(site, actor, changes: dict[int, dict], remote_addr: str | None = None) -> int:
    """Apply several rows' changes at once — {"remove": True} or {"role": …, "profile_id": …} per
    membership id — all or none. Returns the number of rows changed; raises BulkRefused."""
    from .errors import RuleViolation
    from .site import lock_site
    from .tool import AccessProfile, catalog

    actor_membership = membership_of(actor, site.id)
    _require_manage_update(actor_membership)
    lock_site(site.id)
    tools = catalog()
    errors: dict[int, str] = {}
    changed = 0
    members = {m.id: m for m in db.session.scalars(
        sa.select(Membership).where(Membership.site_id == site.id, Membership.id.in_(list(changes))))}
    was_secondary = {mid: m.role == SECONDARY for mid, m in members.items()}
    for membership_id, change in changes.items():
        membership = members.get(membership_id)
        try:
            if membership is None:
                raise RuleViolation(_l("No such member on this site."))
            if change.get("remove"):
                remove_member(site, actor, membership, remote_addr)
                changed += 1
                continue
            role = change.get("role") or membership.role
            levels = levels_of(membership, tools) if membership.role != PRIMARY else {}
            if change.get("profile_id"):
                profile = db.session.get(AccessProfile, int(change["profile_id"]))
                if profile is None or profile.site_id != site.id:
                    raise RuleViolation(_l("No such access profile on this site."))
                levels = {**levels, **profile_levels(profile, tools, role, actor_membership)}
            if update_member(site, actor, membership, role, levels, remote_addr, _tools=tools, _check_cap=False):
                changed += 1
        except RuleViolation as violation:
            errors[membership_id] = str(violation.message)
    promoted = any(m.role == SECONDARY and not was_secondary[mid] for mid, m in members.items())
    if not errors and promoted and sum(secondary_seats_taken(site.id)) > MAX_SECONDARIES:
        message = str(_l("This site can have at most %(n)d secondary contacts.", n=MAX_SECONDARIES))
        errors = {mid: message for mid, change in changes.items()
                  if change.get("role") == SECONDARY and members.get(mid) is not None}
    if errors:
        raise BulkRefused(errors)
    return changed


def profile_levels(profile, tools, role: str, actor_membership: Membership | None = None) -> dict[int, int]:
    """Return the levels a profile sets for a member with `role` (secondary-only tools kept for secondaries).

    Given the membership of the person applying it, a profile leaves out the support level when that
    person may not set support levels (SPEC §7): the member keeps the one they hold.
    """
    from .support import may_manage_support

    ranks = profile.ranks()
    levels = {tool.id: (ranks.get(tool.id, 0) if tool.open_to(role) else 0)
              for tool in tools}
    if actor_membership is not None and not may_manage_support(actor_membership):
        levels = {tool_id: rank for tool_id, rank in levels.items()
                  if tool_id not in {tool.id for tool in tools if tool.key == SUPPORT}}
    return levels


def matching_profile(levels: dict[int, int], profiles, tools, role: str):
    """Return the profile whose levels equal these, if any (the user list shows its name)."""
    for profile in profiles:
        if profile_levels(profile, tools, role) == levels:
            return profile
    return None


# --- the user list ------------------------------------------------------------------------------

MEMBER_SORTS = ("name", "email", "role", "granted")
ACTIVE, INVITED, EXPIRED = "active", "invited", "expired"
MEMBER_STATUSES = (ACTIVE, INVITED, EXPIRED)


def _like(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_hits(query: str):
    """Membership ids whose search text contains the query, from SQLite's trigram index (migration
    0003) — or None where there is none (PostgreSQL, or fewer than 3 characters to match)."""
    if db.session.get_bind().dialect.name != "sqlite" or len(query) < 3:
        return None
    phrase = '"' + query.lower().replace('"', '""') + '"'
    return sa.select(sa.column("rowid")).select_from(sa.table("membership_search")).where(
        sa.text("membership_search MATCH :phrase").bindparams(phrase=phrase))


COUNT_CAP = 1000  # a search counts its matches up to here ("1,000+"), so a common term stays cheap


def list_members(site_id: int, query: str = "", role: str = "", status: str = "", sort: str = "name",
                 page: int = 1, per_page: int = 25):
    """Return one page of a site's members matching a search (name or email), role and status, and
    how many match (a search counts up to COUNT_CAP + 1). Pending and expired invitations are listed
    separately by list_invitations.

    Sorting and searching read the membership's own key columns (kept by triggers) through the
    site's indexes, and a search with few matches takes them from the trigram index, so the cost of
    a page does not grow with the size of the site.
    """
    if status in (INVITED, EXPIRED):
        return [], 0
    query = query.strip()
    role_filter = [Membership.role == role] if role in ROLES else []
    statement = sa.select(Membership).where(Membership.site_id == site_id, *role_filter)
    if not query:
        total = db.session.scalar(statement.with_only_columns(sa.func.count(Membership.id)))
    else:
        hits = _search_hits(query)
        total, from_index = None, None
        if hits is not None:
            # "+site_id" keeps SQLite from walking the whole site to probe the few hits.
            from_index = sa.select(Membership).where(sa.literal_column("+membership.site_id") == site_id,
                                                     Membership.id.in_(hits), *role_filter)
            total = _capped_count(from_index)
        if total is not None and total <= COUNT_CAP:
            statement = from_index
        else:
            # Many matches, or no trigram index: walking the sorted index finds a page quickly.
            statement = statement.where(Membership.search_text.like(_like(query), escape="\\"))
            total = total if total is not None else _capped_count(statement)
    order = {
        "name": (Membership.sort_name, Membership.id),
        "email": (Membership.sort_email, Membership.id),
        # Alphabetical happens to be the rank: primary, secondary, user.
        "role": (Membership.role, Membership.sort_name, Membership.id),
        "granted": (Membership.granted_at.desc(), Membership.id.desc()),
    }[sort if sort in MEMBER_SORTS else "name"]
    rows = db.session.scalars(
        statement.order_by(*order).limit(per_page).offset((page - 1) * per_page)
        .options(sa.orm.joinedload(Membership.person), sa.orm.selectinload(Membership.privileges),
                 sa.orm.selectinload(Membership.granted_by))).all()
    return list(rows), total or 0


def _capped_count(statement) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        statement.with_only_columns(Membership.id).limit(COUNT_CAP + 1).subquery())) or 0


def list_invitations(site_id: int, query: str = "", role: str = "", status: str = ""):
    """Return a site's invitations still waiting (open or expired, not accepted nor revoked)."""
    from .base import utcnow
    from .invitation import Invitation

    if status == ACTIVE:
        return []
    now = utcnow()
    statement = (sa.select(Invitation).where(Invitation.site_id == site_id, Invitation.accepted_at.is_(None),
                                             Invitation.revoked_at.is_(None))
                 .options(sa.orm.selectinload(Invitation.invited_by)).order_by(Invitation.created_at.desc()))
    if role in ROLES:
        statement = statement.where(Invitation.role == role)
    if status == INVITED:
        statement = statement.where(Invitation.expires_at > now)
    elif status == EXPIRED:
        statement = statement.where(Invitation.expires_at <= now)
    if query:
        statement = statement.where(sa.func.lower(Invitation.email).like(_like(query.strip()), escape="\\"))
    return list(db.session.scalars(statement.limit(200)))


def leave_site(site, person, remote_addr: str | None = None) -> None:
    """Give up one's own membership; the primary must transfer the role first."""
    from .audit import record
    from .errors import RuleViolation
    from .tool import catalog

    membership = membership_of(person, site.id)
    if membership is None:
        raise RuleViolation(_l("You are not a member of this site."))
    if membership.role == PRIMARY:
        raise RuleViolation(_l("You are the primary contact: transfer the primary role before you leave."))
    record(person, "membership.left", site=site, target=person, before=_snapshot(membership, catalog()),
           remote_addr=remote_addr)
    db.session.delete(membership)
    from .review import settle_review

    settle_review(site, person, remote_addr)
