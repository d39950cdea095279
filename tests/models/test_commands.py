"""The domain commands called directly, without a client: each main rule of adding members, invitations,
access requests, the primary hand-over and support levels (SPEC §2-§4, §7), through the public functions
of models/. Each test builds its people and sites with World, then runs one command in an app context
as a view would (the command changes the session, the caller commits) and reads what it left."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import AuditEvent, Invitation, Membership, OutboxMail, RuleViolation, db
from models.access_request import (
    APPROVED,
    MEMBERSHIP,
    PENDING,
    REJECTED,
    AccessRequest,
    approve_request,
    reject_request,
)
from models.invitation import accept_invitation, invite
from models.membership import (
    PRIMARY,
    SECONDARY,
    USER,
    add_member,
    levels_of,
    membership_of,
    primary_of,
)
from models.person import find_person
from models.primary_transfer import hand_over
from models.site import Site
from models.support import set_support_level
from models.tool import SUPPORT, catalog, tool_by_key

PRIMARY_EMAIL = "pat@example.com"
SITE_NUMBER = "4711"


@pytest.fixture
def site_id(world):
    world.operator()
    return world.site(PRIMARY_EMAIL, number=SITE_NUMBER)


def no_levels(**ranks) -> dict[int, int]:
    """Every tool of the catalog at No access, but the ones named by key."""
    return {tool.id: ranks.get(tool.key, 0) for tool in catalog()}


def outbox(template: str) -> list[str]:
    return list(db.session.scalars(sa.select(OutboxMail.recipient).where(OutboxMail.template == template)))


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


# --- add_member ---------------------------------------------------------------------------------

def test_add_member_grants_an_existing_account_at_once_with_an_audit_event_and_a_welcome_mail(app, world, site_id):
    world.person("una@example.com")
    with app.app_context():
        site, pat = db.session.get(Site, site_id), find_person(PRIMARY_EMAIL)
        welcomed = outbox("welcome")   # the primary's, when the site was created
        membership = add_member(site, pat, "Una@Example.com", USER, "Runs the reports", no_levels(reporting=1))
        db.session.commit()
        assert isinstance(membership, Membership) and membership.role == USER
        assert levels_of(membership, catalog())[tool_by_key("reporting").id] == 1
        assert "membership.added" in actions()
        assert outbox("welcome") == [*welcomed, "una@example.com"]


def test_add_member_invites_an_unknown_email_instead(app, site_id):
    with app.app_context():
        site, pat = db.session.get(Site, site_id), find_person(PRIMARY_EMAIL)
        invitation = add_member(site, pat, "new@example.com", SECONDARY, "Second administrator", no_levels())
        db.session.commit()
        assert isinstance(invitation, Invitation) and invitation.role == SECONDARY
        assert db.session.scalar(sa.select(sa.func.count(Membership.id))) == 1, "only the primary is a member"
        assert outbox("invitation") == ["new@example.com"]


@pytest.mark.parametrize("role, justification, field", [
    ("primary", "Takes over", "role"),      # the primary role changes only by transfer
    (USER, "   ", "business_justification"),
])
def test_add_member_refuses_a_bad_role_or_a_missing_justification(app, world, site_id, role, justification, field):
    world.person("una@example.com")
    with app.app_context():
        site, pat = db.session.get(Site, site_id), find_person(PRIMARY_EMAIL)
        with pytest.raises(RuleViolation) as refused:
            add_member(site, pat, "una@example.com", role, justification, no_levels())
        assert refused.value.field == field


def test_add_member_refuses_a_fifth_secondary_contact(app, world, site_id):
    for number in range(4):
        world.member(site_id, f"second{number}@example.com", role=SECONDARY)
    world.person("fifth@example.com")
    with app.app_context():
        site, pat = db.session.get(Site, site_id), find_person(PRIMARY_EMAIL)
        with pytest.raises(RuleViolation):
            add_member(site, pat, "fifth@example.com", SECONDARY, "One more", no_levels())
        db.session.rollback()
        assert add_member(site, pat, "fifth@example.com", USER, "A user is welcome", no_levels()).role == USER


def test_add_member_needs_manage_access_update(app, world, site_id):
    world.member(site_id, "user@example.com", role=USER)
    world.person("una@example.com")
    with app.app_context():
        site, user = db.session.get(Site, site_id), find_person("user@example.com")
        with pytest.raises(RuleViolation):
            add_member(site, user, "una@example.com", USER, "Friend of mine", no_levels())


# --- accept_invitation --------------------------------------------------------------------------

def test_an_invitation_is_accepted_once_and_only_by_its_invitee(app, world, site_id):
    world.person("ivy@example.com")
    world.person("eve@example.com")
    with app.app_context():
        site, pat = db.session.get(Site, site_id), find_person(PRIMARY_EMAIL)
        invitation, _raw = invite(site, "ivy@example.com", USER, pat, justification="Helps out")
        db.session.commit()
        with pytest.raises(RuleViolation, match="for someone else"):
            accept_invitation(invitation, find_person("eve@example.com"))
        db.session.rollback()
        membership = accept_invitation(invitation, find_person("ivy@example.com"))
        db.session.commit()
        assert membership.role == USER and membership.site_id == site_id
        with pytest.raises(RuleViolation, match="can no longer be used"):
            accept_invitation(invitation, find_person("ivy@example.com"))


# --- deciding access requests -------------------------------------------------------------------

def _pending_request(app, requester_id) -> int:
    with app.app_context():
        access_request = AccessRequest(site_id=db.session.scalar(sa.select(Site.id)), requester_id=requester_id,
                                       kind=MEMBERSHIP, company_name="Acme Corp", contact_details={},
                                       business_justification="I run the licences", status=PENDING)
        db.session.add(access_request)
        db.session.commit()
        return access_request.id


def test_approving_a_request_makes_the_requester_a_member_and_mails_them(app, world, site_id):
    request_id = _pending_request(app, world.person("rita@example.com"))
    with app.app_context():
        site, pat = db.session.get(Site, site_id), find_person(PRIMARY_EMAIL)
        approve_request(site, pat, db.session.get(AccessRequest, request_id), USER, no_levels(software=1))
        db.session.commit()
        assert db.session.get(AccessRequest, request_id).status == APPROVED
        membership = membership_of(find_person("rita@example.com"), site_id)
        assert membership.role == USER and levels_of(membership, catalog())[tool_by_key("software").id] == 1
        assert outbox("request_approved") == ["rita@example.com"]
        with pytest.raises(RuleViolation):   # decided once
            reject_request(site, pat, db.session.get(AccessRequest, request_id), "not_required")


def test_a_rejection_with_reason_other_needs_a_text(app, world, site_id):
    request_id = _pending_request(app, world.person("rita@example.com"))
    with app.app_context():
        site, pat = db.session.get(Site, site_id), find_person(PRIMARY_EMAIL)
        with pytest.raises(RuleViolation) as refused:
            reject_request(site, pat, db.session.get(AccessRequest, request_id), "other", "  ")
        assert refused.value.field == "text"
        db.session.rollback()
        reject_request(site, pat, db.session.get(AccessRequest, request_id), "other", "Ask your own IT")
        db.session.commit()
        assert db.session.get(AccessRequest, request_id).status == REJECTED
        assert membership_of(find_person("rita@example.com"), site_id) is None
        assert outbox("request_rejected") == ["rita@example.com"]


def test_a_user_cannot_decide_requests(app, world, site_id):
    world.member(site_id, "user@example.com", role=USER)
    request_id = _pending_request(app, world.person("rita@example.com"))
    with app.app_context():
        site, user = db.session.get(Site, site_id), find_person("user@example.com")
        with pytest.raises(RuleViolation):
            approve_request(site, user, db.session.get(AccessRequest, request_id), USER, no_levels())


# --- hand_over ----------------------------------------------------------------------------------

def test_hand_over_makes_one_primary_and_the_old_one_a_secondary(app, world, site_id):
    world.member(site_id, "sue@example.com", role=SECONDARY)
    with app.app_context():
        site = db.session.get(Site, site_id)
        old, new = primary_of(site_id), membership_of(find_person("sue@example.com"), site_id)
        assert hand_over(site, old, new) == SECONDARY
        db.session.commit()
        assert primary_of(site_id).person.email == "sue@example.com"
        assert db.session.scalar(sa.select(sa.func.count()).where(Membership.site_id == site_id,
                                                                  Membership.role == PRIMARY)) == 1
        assert membership_of(find_person(PRIMARY_EMAIL), site_id).role == SECONDARY


def test_hand_over_makes_the_old_primary_a_user_when_four_secondaries_exist(app, world, site_id):
    for number in range(4):
        world.member(site_id, f"second{number}@example.com", role=SECONDARY)
    world.member(site_id, "uma@example.com", role=USER)
    with app.app_context():
        site = db.session.get(Site, site_id)
        old, new = primary_of(site_id), membership_of(find_person("uma@example.com"), site_id)
        assert hand_over(site, old, new) == USER
        db.session.commit()
        assert membership_of(find_person(PRIMARY_EMAIL), site_id).role == USER


# --- set_support_level --------------------------------------------------------------------------

def test_the_primary_sets_a_support_level_once_and_it_is_audited(app, world, site_id):
    world.member(site_id, "bob@example.com", role=USER)
    with app.app_context():
        site, pat = db.session.get(Site, site_id), find_person(PRIMARY_EMAIL)
        bob = membership_of(find_person("bob@example.com"), site_id)
        assert set_support_level(site, pat, bob, 1) is True
        db.session.commit()
        assert bob.level(tool_by_key(SUPPORT)) == 1 and "membership.changed" in actions()
        assert set_support_level(site, pat, bob, 1) is False, "the same level again changes nothing"


@pytest.mark.parametrize("who, whose, rank", [
    (PRIMARY_EMAIL, PRIMARY_EMAIL, 1),        # the primary always holds Administrator
    ("admin@example.com", "admin@example.com", 2),   # nobody changes their own level
    (PRIMARY_EMAIL, "bob@example.com", 99),   # no such level
    ("bob@example.com", "admin@example.com", 0),     # a Basic member manages no support levels
])
def test_a_support_level_change_is_refused(app, world, site_id, who, whose, rank):
    world.member(site_id, "admin@example.com", role=SECONDARY, levels={SUPPORT: 3})
    world.member(site_id, "bob@example.com", role=USER, levels={SUPPORT: 1})
    with app.app_context():
        site = db.session.get(Site, site_id)
        target = membership_of(find_person(whose), site_id)
        before = target.level(tool_by_key(SUPPORT))
        with pytest.raises(RuleViolation):
            set_support_level(site, find_person(who), target, rank)
        db.session.rollback()
        assert membership_of(find_person(whose), site_id).level(tool_by_key(SUPPORT)) == before
