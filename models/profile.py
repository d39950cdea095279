"""A site's access profiles: the primary names bundles of levels, applied to members at once (SPEC §4)."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .audit import record
from .base import db
from .errors import RuleViolation
from .policy import profile_levels, require_primary
from .tool import AccessProfile, AccessProfileLevel, catalog


def _clean_profile(site, name: str, levels: dict[int, int], tools, profile_id: int | None = None):
    """Return a profile's name and levels cleaned, or refuse the first bad one."""
    name = (name or "").strip()
    if not name:
        raise RuleViolation(_l("Give the profile a name."), "name")
    if len(name) > 100:
        raise RuleViolation(_l("Use at most %(n)d characters.", n=100), "name")
    clash = db.session.scalar(sa.select(AccessProfile.id).where(
        AccessProfile.site_id == site.id, sa.func.lower(AccessProfile.name) == name.lower(),
        AccessProfile.id != (profile_id or 0)))
    if clash:
        raise RuleViolation(_l("This site already has a profile named %(name)s.", name=name), "name")
    clean = {}
    for tool in tools:
        rank = int(levels.get(tool.id, 0))
        if rank < 0 or rank > tool.top_rank:
            raise RuleViolation(_l("%(tool)s has no such level.", tool=tool.name), f"tool_{tool.id}")
        clean[tool.id] = rank
    return name, clean


def save_profile(site, actor, name: str, levels: dict[int, int], profile: AccessProfile | None = None) -> AccessProfile:
    """Create a site's access profile, or change one; the primary's privilege."""
    require_primary(site, actor, _l("Only the primary contact can change access profiles."))
    tools = catalog()
    name, clean = _clean_profile(site, name, levels, tools, profile.id if profile else None)
    before = None
    if profile is None:
        position = (db.session.scalar(sa.select(sa.func.max(AccessProfile.position))
                                      .where(AccessProfile.site_id == site.id)) or 0) + 1
        profile = AccessProfile(site_id=site.id, name=name, position=position)
        db.session.add(profile)
    else:
        before = {"name": profile.name, "levels": {t.key: profile.ranks().get(t.id, 0) for t in tools}}
        profile.name = name
        profile.levels.clear()
        db.session.flush()
    for tool_id, rank in clean.items():
        if rank:
            profile.levels.append(AccessProfileLevel(tool_id=tool_id, rank=rank))
    db.session.flush()
    after = {"name": name, "levels": {t.key: clean[t.id] for t in tools}}
    record(actor, "profile.saved" if before else "profile.created", site=site,
           target=("access_profile", profile.id, name), before=before, after=after)
    return profile


def delete_profile(site, actor, profile: AccessProfile) -> None:
    """Delete a site's access profile; members keep their levels."""
    require_primary(site, actor, _l("Only the primary contact can change access profiles."))
    record(actor, "profile.deleted", site=site, target=("access_profile", profile.id, profile.name),
           before={"name": profile.name})
    db.session.delete(profile)


def chosen_levels(site, actor_membership, role: str, profile_id: int | None, posted: dict[int, int],
                  by_hand: set[int] | None = None, base: dict[int, int] | None = None) -> dict[int, int]:
    """Return the levels a person chose in a level matrix (Add new user, inline edit, bulk apply,
    approving a request): `base` (the member's levels, or none), then the chosen profile's levels over
    them (profile_levels: for this role, support left out for those who may not set it), then the
    cells set by hand over those.

    `by_hand` is the set of tool ids the page marked as set by hand (its script keeps the list as the
    person clicks); None — a page without script, or a client that sends none — counts every posted
    cell as set by hand. So a form sent before the page showed the profile's levels (a quick click)
    still saves the profile, and never the levels it showed before. `profile_id` None is no profile;
    any id that is not one of this site's profiles (0 for a garbled one) is refused.
    """
    levels = dict(base or {})
    if profile_id is not None:
        profile = db.session.get(AccessProfile, profile_id) if profile_id else None
        if profile is None or profile.site_id != site.id:
            raise RuleViolation(_l("Choose one of this site's profiles."), "profile_id")
        levels.update(profile_levels(profile, catalog(), role, actor_membership))
    levels.update({tool_id: rank for tool_id, rank in posted.items() if by_hand is None or tool_id in by_hand})
    return levels
