"""The level rules of SPEC §3 as pure functions (check_levels, profile_levels, matching_profile) on
the default catalog, without a database: each table row is one situation and its answer."""
from __future__ import annotations

import pytest

from models import AccessProfile, AccessProfileLevel, Membership, Privilege, RuleViolation, Tool, ToolLevel
from models.membership import check_levels, levels_of, matching_profile, profile_levels
from models.tool import DEFAULT_CATALOG, DEFAULT_PROFILES

TOOL = {key: position for position, (key, *_rest) in enumerate(DEFAULT_CATALOG, start=1)}


def _catalog() -> list[Tool]:
    tools = []
    for position, (key, name, secondary_only, level_names) in enumerate(DEFAULT_CATALOG, start=1):
        tool = Tool(id=position, key=key, name=name, position=position, secondary_only=secondary_only)
        tool.levels = [ToolLevel(tool_id=position, rank=rank, name=level) for rank, level in enumerate(level_names)]
        tools.append(tool)
    return tools


TOOLS = _catalog()


def member(role: str, **ranks) -> Membership:
    membership = Membership(role=role)
    membership.privileges = [Privilege(tool_id=TOOL[key], rank=rank) for key, rank in ranks.items()]
    return membership


def by_id(**ranks) -> dict[int, int]:
    return {TOOL[key]: rank for key, rank in ranks.items()}


def complete(**ranks) -> dict[int, int]:
    return {tool.id: ranks.get(tool.key, 0) for tool in TOOLS}


PRIMARY = member("primary")
MANAGER = member("secondary", manage_access=2, software=1, support=2)   # Reporting = None, Contact updates = None


@pytest.mark.parametrize("actor, role, requested, current, refused_field, message", [
    # allowed
    (PRIMARY, "user", dict(reporting=1, software=3, support=3), None, None, None),
    (PRIMARY, "secondary", dict(manage_access=2, contact_updates=2), None, None, None),
    (MANAGER, "user", dict(software=1), None, None, None),                      # exactly their own
    (MANAGER, "secondary", dict(manage_access=2), None, None, None),
    (MANAGER, "user", dict(support=3), dict(support=3), None, None),            # unchanged, above their own
    (MANAGER, "user", dict(software=0), dict(software=3), None, None),          # lowering is not granting
    # reserved to secondary contacts
    (PRIMARY, "user", dict(manage_access=1), None, "manage_access", "is for secondary contacts only"),
    (PRIMARY, "user", dict(contact_updates=2), None, "contact_updates", "is for secondary contacts only"),
    (PRIMARY, "primary", dict(contact_updates=1), None, "contact_updates", "is for secondary contacts only"),
    # above the actor's own level
    (MANAGER, "user", dict(reporting=1), None, "reporting", "You cannot grant View on Reporting"),
    (MANAGER, "user", dict(software=2), None, "software", "it is above your own level"),
    (MANAGER, "secondary", dict(contact_updates=1), None, "contact_updates", "it is above your own level"),
    (MANAGER, "user", dict(allocation=2), dict(allocation=1), "allocation", "it is above your own level"),
    (member("secondary", manage_access=1), "user", dict(documents=1), None, "documents", "above your own level"),
    # no such level
    (PRIMARY, "user", dict(reporting=2), None, "reporting", "Reporting has no such level."),
    (PRIMARY, "user", dict(support=-1), None, "support", "has no such level."),
    (PRIMARY, "secondary", dict(manage_access=3), None, "manage_access", "has no such level."),
])
def test_check_levels(actor, role, requested, current, refused_field, message):
    current_ids = by_id(**current) if current else None
    if refused_field is None:
        result = check_levels(actor, role, by_id(**requested), TOOLS, current=current_ids)
        expected = {**complete(**(current or {})), **by_id(**requested)}
        assert result == expected
    else:
        with pytest.raises(RuleViolation) as refused:
            check_levels(actor, role, by_id(**requested), TOOLS, current=current_ids)
        assert refused.value.field == f"tool_{TOOL[refused_field]}"
        assert message in str(refused.value.message)


def test_tools_left_out_keep_their_current_level():
    result = check_levels(PRIMARY, "user", by_id(reporting=1), TOOLS, current=by_id(documents=1, support=2))
    assert result == complete(reporting=1, documents=1, support=2)


def test_primary_holds_the_top_of_every_tool():
    assert levels_of(PRIMARY, TOOLS) == {tool.id: tool.top_rank for tool in TOOLS}
    assert levels_of(member("user", reporting=1), TOOLS) == complete(reporting=1)


def _profiles() -> list[AccessProfile]:
    profiles = []
    for position, (name, ranks) in enumerate(DEFAULT_PROFILES, start=1):
        profile = AccessProfile(id=position, site_id=1, name=name, position=position)
        profile.levels = [AccessProfileLevel(tool_id=TOOL[key], rank=rank) for key, rank in ranks.items()]
        profiles.append(profile)
    return profiles


PROFILES = _profiles()
FULL = dict(DEFAULT_PROFILES)["Full access"]


@pytest.mark.parametrize("role, expected", [
    ("secondary", complete(**FULL)),
    ("user", complete(**{k: v for k, v in FULL.items() if k not in ("manage_access", "contact_updates")})),
])
def test_a_profile_sets_every_level_and_keeps_reserved_tools_for_secondaries(role, expected):
    assert profile_levels(PROFILES[0], TOOLS, role) == expected


@pytest.mark.parametrize("role, levels, expected", [
    ("user", complete(software=1, support=1), "Basic access"),
    ("secondary", complete(software=1, support=1), "Basic access"),
    ("user", complete(reporting=1, entitlements=1, allocation=1, documents=1, support=1), "Reporting access"),
    ("secondary", complete(**FULL), "Full access"),
    ("user", complete(**{k: v for k, v in FULL.items() if k not in ("manage_access", "contact_updates")}),
     "Full access"),
    ("secondary", complete(**{k: v for k, v in FULL.items() if k != "manage_access"}), None),
    ("user", complete(software=1, support=2), None),
    ("user", complete(), None),
])
def test_matching_profile_names_the_summary(role, levels, expected):
    found = matching_profile(levels, PROFILES, TOOLS, role)
    assert (found.name if found else None) == expected
