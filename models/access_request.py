"""Access requests: self-nomination, and members asking for a higher level (SPEC §5, §7)."""
from __future__ import annotations

import functools
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .audit import record
from .base import db, utcnow
from .errors import RuleViolation
from .grants import create_membership, record_access
from .membership import update_member
from .outbox import queue_mail
from .policy import (approvers_of, check_levels, holds, is_support_request, may_manage_support,
                     require_secondary_seat, support_managers_of)
from .support import pending_support_statement, pending_support_values, set_support_level
from .tables import (APPROVED, MEMBERSHIP, PENDING, PRIVILEGE, REJECTED, REJECTION_REASONS, SECONDARY, UPDATE, USER,
                     WITHDRAWN, AccessRequest, Site, levels_of, lock_site, membership_of)
from .throttle import take
from .tool import MANAGE_ACCESS, SUPPORT, catalog, tool_by_key

DAILY_LIMIT = 5  # requests a person may submit in 24 hours, all sites together
SELF_NOMINATION = "self_nomination"  # the throttle event of one attempt to self-nominate, keyed by person id
# The one answer to every refusal of a self-nomination's site number (see submit_self_nomination).
NUMBER_REFUSED = _l("We cannot take a request for this site number. Check it with your company's primary contact. "
                    "A request is not taken either for a site you already belong to or have asked for, or after "
                    "%(n)d attempts in 24 hours.", n=DAILY_LIMIT)
REJECTION_LABELS = {
    "unknown_requester": _l("The requester is unknown"),
    "not_required": _l("The primary contact has determined that access is not required"),
    "no_business_relationship": _l("The requester has no business relationship with this site"),
    "other": _l("Other"),
}
STATUS_LABELS = {PENDING: _l("Pending"), APPROVED: _l("Approved"), REJECTED: _l("Rejected"),
                 WITHDRAWN: _l("Withdrawn")}
KIND_LABELS = {MEMBERSHIP: _l("Access to the site"), PRIVILEGE: _l("Higher privilege")}


def _check_daily_limit(person) -> None:
    since = utcnow() - timedelta(hours=24)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(AccessRequest).where(
        AccessRequest.requester_id == person.id, AccessRequest.created_at >= since))
    if count >= DAILY_LIMIT:
        raise RuleViolation(_l("You have sent %(n)d requests in the last 24 hours, the most allowed. "
                               "Try again tomorrow.", n=DAILY_LIMIT))


def deciders_of(site_id: int, access_request) -> list:
    """Return who decides this request: the support managers for a support level (SPEC §7), the
    approvers otherwise."""
    return support_managers_of(site_id) if is_support_request(access_request) else approvers_of(site_id)


def _notify_approvers(site, access_request) -> None:
    for person in deciders_of(site.id, access_request):
        if person.id == access_request.requester_id:
            continue
        if person.notification_preferences.get("access_requests", True):
            queue_mail(person, "access_request_received", site=site, access_request=access_request,
                       requester=access_request.requester)


def submit_self_nomination(person, site_number: str, company_name: str, contact_details: dict,
                           justification: str) -> AccessRequest:
    """Ask for access to a site by its number; the site's approvers are mailed.

    Once the form is complete, the attempt is counted (in the database, towards DAILY_LIMIT) before
    the number is looked up, whether the number exists or not; every refusal of the number (unknown,
    the limit reached, already a member, a request already pending) gets the same words, so the
    form cannot be used to learn which site numbers exist. The counted attempt is the one change a
    refusal leaves in the session: the caller commits it all the same, or probing would be free.
    """
    if person.email_verified_at is None:
        raise RuleViolation(_l("Confirm your email address first: open the link we sent you."))
    justification = (justification or "").strip()
    if not justification:
        raise RuleViolation(_l("Give a business justification."), "business_justification")
    company_name = (company_name or "").strip()
    if not company_name:
        raise RuleViolation(_l("Enter your company's name."), "company_name")
    refused = RuleViolation(NUMBER_REFUSED, "site_number")
    if not take(SELF_NOMINATION, str(person.id), [(DAILY_LIMIT, timedelta(hours=24))]):
        raise refused
    site = db.session.scalar(sa.select(Site).where(Site.site_number == (site_number or "").strip()))
    if site is None or membership_of(person, site.id) is not None:
        raise refused
    pending = db.session.scalar(sa.select(AccessRequest.id).where(
        AccessRequest.site_id == site.id, AccessRequest.requester_id == person.id,
        AccessRequest.kind == MEMBERSHIP, AccessRequest.status == PENDING))
    if pending:
        raise refused
    access_request = AccessRequest(site_id=site.id, requester_id=person.id, kind=MEMBERSHIP,
                                   company_name=company_name, contact_details=dict(contact_details),
                                   business_justification=justification, status=PENDING)
    db.session.add(access_request)
    db.session.flush()
    record(person, "request.submitted", site=site, target=("access_request", access_request.id, person.email),
           after={"kind": MEMBERSHIP, "company_name": company_name, "justification": justification})
    _notify_approvers(site, access_request)
    return access_request


def submit_privilege_request(membership, tool, rank: int, justification: str) -> AccessRequest:
    """Ask the site's approvers for a higher level on one tool."""
    justification = (justification or "").strip()
    if not justification:
        raise RuleViolation(_l("Give a business justification."), "business_justification")
    if rank <= membership.level(tool) or rank > tool.top_rank:
        raise RuleViolation(_l("Choose a level above the one you hold."), "wanted")
    if not tool.open_to(membership.role):
        raise RuleViolation(_l("%(tool)s above %(lowest)s is for secondary contacts only.",
                               tool=tool.name, lowest=tool.levels[0].name), "wanted")
    pending = db.session.scalar(sa.select(AccessRequest.id).where(
        AccessRequest.site_id == membership.site_id, AccessRequest.requester_id == membership.person_id,
        AccessRequest.kind == PRIVILEGE, AccessRequest.tool_id == tool.id, AccessRequest.status == PENDING))
    if pending:
        raise RuleViolation(_l("You already asked for a higher level on %(tool)s.", tool=tool.name), "wanted")
    person = membership.person
    _check_daily_limit(person)
    access_request = AccessRequest(site_id=membership.site_id, requester_id=person.id, kind=PRIVILEGE,
                                   tool_id=tool.id, requested_rank=rank, business_justification=justification,
                                   contact_details={}, status=PENDING)
    db.session.add(access_request)
    db.session.flush()
    record(person, "request.submitted", site=membership.site_id,
           target=("access_request", access_request.id, person.email),
           after={"kind": PRIVILEGE, "tool": tool.key, "level": tool.level_name(rank), "justification": justification})
    _notify_approvers(membership.site, access_request)
    return access_request


def _claim(access_request, actor, status: str, **values) -> None:
    """Record the decision once: of two approvers deciding at the same moment, one changes the row."""
    won = db.session.execute(
        sa.update(AccessRequest).where(AccessRequest.id == access_request.id, AccessRequest.status == PENDING)
        .values(status=status, decided_by_id=actor.id, decided_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(access_request)  # the decision as the database now holds it
    if won != 1:
        raise RuleViolation(already_decided(access_request))


def _still_pending(access_request) -> None:
    """Refuse at once, with who decided, a request that is no longer pending (before any other rule speaks).

    Takes the site's lock first, as every decision does: on PostgreSQL a decider holding the request
    row while another holds the site row would deadlock (the audit insert needs a share lock on the site).
    """
    lock_site(access_request.site_id)
    db.session.refresh(access_request)
    if access_request.status != PENDING:
        raise RuleViolation(already_decided(access_request))


def already_decided(access_request) -> str:
    """Say who decided a request that is no longer pending."""
    if access_request.status == WITHDRAWN:
        return str(_l("The requester withdrew this request."))
    if access_request.decided_by is not None:
        return str(_l("This request was already decided by %(name)s (%(status)s).",
                      name=access_request.decided_by.display_name, status=STATUS_LABELS[access_request.status]))
    return str(_l("This request is no longer pending."))


def _require_decider(site, actor, access_request):
    membership = membership_of(actor, site.id)
    if is_support_request(access_request):
        if not may_manage_support(membership):
            raise RuleViolation(_l("Support-level requests are decided by the primary contact, the site technical "
                                   "contacts and support Administrators."))
    elif not holds(membership, MANAGE_ACCESS, UPDATE):
        raise RuleViolation(_l("You need Manage access = Update to decide requests."))
    return membership


def approve_request(site, actor, access_request, role: str, levels: dict[int, int], justification: str = ""):
    """Approve a pending request: grant the membership (role and levels) or the asked-for level,
    under every grant rule, and mail the requester."""
    actor_membership = _require_decider(site, actor, access_request)
    if access_request.site_id != site.id:
        raise RuleViolation(_l("No such request on this site."))
    if access_request.requester_id == actor.id:
        raise RuleViolation(_l("You cannot decide your own request."))
    lock_site(site.id)
    _still_pending(access_request)
    tools = catalog()
    requester = access_request.requester
    if access_request.kind == MEMBERSHIP:
        justification = (access_request.business_justification or justification or "").strip()
        if not justification:
            raise RuleViolation(_l("Give a business justification."), "business_justification")
        if role not in (SECONDARY, USER):
            raise RuleViolation(_l("Choose secondary contact or user."), "role")
        if membership_of(requester, site.id) is not None:
            raise RuleViolation(_l("%(name)s is already a member of this site.", name=requester.display_name))
        granted = check_levels(actor_membership, role, levels, tools)
        if role == SECONDARY:
            require_secondary_seat(site.id)
        _claim(access_request, actor, APPROVED, business_justification=justification)
        membership = create_membership(site.id, requester.id, role, justification, actor.id, granted)
        after = record_access(actor, "membership.added", site, membership).after
    else:
        membership = membership_of(requester, site.id)
        if membership is None:
            raise RuleViolation(_l("The requester is no longer a member of this site."))
        tool = next(t for t in tools if t.id == access_request.tool_id)
        _claim(access_request, actor, APPROVED)
        # The decision mail tells the change: no second mail about it. A member raised to the level
        # (or above) meanwhile keeps what they hold: approving never lowers.
        if membership.level(tool) >= access_request.requested_rank:
            pass
        elif is_support_request(access_request):
            set_support_level(site, actor, membership, access_request.requested_rank, notify=False)
        else:
            update_member(site, actor, membership, membership.role,
                          {**levels_of(membership, tools), tool.id: access_request.requested_rank},
                          _tools=tools, notify=False)
        after = {"tool": tool.key, "level": tool.level_name(access_request.requested_rank)}
    record(actor, "request.approved", site=site, target=("access_request", access_request.id, requester.email),
           before={"status": PENDING}, after={"status": APPROVED, **after})
    queue_mail(requester, "request_approved", site=site, access_request=access_request)
    return access_request


def reject_request(site, actor, access_request, reason: str, text: str = ""):
    """Reject a pending request with one of the reasons (Other needs a text) and mail the requester."""
    _require_decider(site, actor, access_request)
    if access_request.site_id != site.id:
        raise RuleViolation(_l("No such request on this site."))
    if access_request.requester_id == actor.id:
        raise RuleViolation(_l("You cannot decide your own request."))
    _still_pending(access_request)
    if reason not in REJECTION_REASONS:
        raise RuleViolation(_l("Choose a reason."), "reason")
    text = (text or "").strip()
    if reason == "other" and not text:
        raise RuleViolation(_l("Say why, when the reason is Other."), "text")
    _claim(access_request, actor, REJECTED, rejection_reason=reason, rejection_text=text or None)
    record(actor, "request.rejected", site=site, target=("access_request", access_request.id,
                                                        access_request.requester.email),
           before={"status": PENDING}, after={"status": REJECTED, "reason": reason, "text": text})
    queue_mail(access_request.requester, "request_rejected", site=site, access_request=access_request,
               reason=str(REJECTION_LABELS[reason]), reason_text=text)
    return access_request


def withdraw_request(person, access_request) -> None:
    """Let the requester take back a pending request."""
    if access_request.requester_id != person.id:
        raise RuleViolation(_l("No such request."))
    _still_pending(access_request)
    _claim(access_request, person, WITHDRAWN)
    record(person, "request.withdrawn", site=access_request.site_id,
           target=("access_request", access_request.id, person.email),
           before={"status": PENDING}, after={"status": WITHDRAWN})


def _not_support():
    """Leave out the requests for a support level: they have their own deciders and page (SPEC §7)."""
    return sa.or_(AccessRequest.tool_id.is_(None), AccessRequest.tool_id != tool_by_key(SUPPORT).id)


def pending_count(site_id: int) -> int:
    """Return how many requests of a site wait for the approvers' decision (support levels apart)."""
    return db.session.scalar(_pending_statement(), pending_support_values(site_id)) or 0


@functools.cache
def _pending_statement():
    # Built once (it runs on every page of the sidebar); run with pending_support_values' site and tool.
    return sa.select(sa.func.count()).select_from(AccessRequest).where(
        AccessRequest.site_id == sa.bindparam("site_id"), AccessRequest.status == PENDING,
        sa.or_(AccessRequest.tool_id.is_(None), AccessRequest.tool_id != sa.bindparam("support_tool_id")))


@functools.cache
def _pending_counts_statement(requests: bool, support: bool):
    return sa.select(*(statement.scalar_subquery() for statement, asked in
                       ((_pending_statement(), requests), (pending_support_statement(), support)) if asked))


def pending_counts(site_id: int, requests: bool, support: bool) -> tuple[int, int]:
    """Return (pending_count, pending_support_count) of a site in one statement; a count not asked for is 0."""
    if not (requests or support):
        return 0, 0
    values = iter(db.session.execute(_pending_counts_statement(requests, support),
                                     pending_support_values(site_id)).one())
    return (next(values) or 0) if requests else 0, (next(values) or 0) if support else 0


def list_requests(site_id: int, status: str = "", kind: str = "", page: int = 1, per_page: int = 25):
    """Return a page of a site's requests for the approvers (support levels apart), pending first, then
    the decided ones newest first."""
    statement = sa.select(AccessRequest).where(AccessRequest.site_id == site_id, _not_support())
    if status in STATUS_LABELS:
        statement = statement.where(AccessRequest.status == status)
    if kind in KIND_LABELS:
        statement = statement.where(AccessRequest.kind == kind)
    statement = statement.order_by(sa.case((AccessRequest.status == PENDING, 0), else_=1),
                                   sa.func.coalesce(AccessRequest.decided_at, AccessRequest.created_at).desc(),
                                   AccessRequest.id.desc())
    return db.paginate(statement.options(sa.orm.selectinload(AccessRequest.requester),
                                         sa.orm.selectinload(AccessRequest.decided_by)),
                       page=page, per_page=per_page, error_out=False)


def requests_of(person) -> list[AccessRequest]:
    """Return a person's own requests, newest first."""
    return list(db.session.scalars(sa.select(AccessRequest).where(AccessRequest.requester_id == person.id)
                                   .order_by(AccessRequest.created_at.desc(), AccessRequest.id.desc())))
