"""Customers and their sites, and the operator's rules that create and change them."""
from __future__ import annotations

import re
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import db, utcnow
from .errors import RuleViolation

ORIGINATING = "originating"
ADDITIONAL = "additional"
SITE_KINDS = (ORIGINATING, ADDITIONAL)
SITE_KIND_LABELS = {ORIGINATING: _l("Originating site"), ADDITIONAL: _l("Additional site")}
SITE_NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")


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


def create_customer(name: str, actor=None) -> Customer:
    """Create a customer organisation with a unique name."""
    from .audit import record

    name = (name or "").strip()
    if not name:
        raise RuleViolation(_l("Enter the customer's name."), "name")
    if len(name) > 200:
        raise RuleViolation(_l("Use at most %(n)d characters.", n=200), "name")
    exists = db.session.scalar(sa.select(Customer.id).where(sa.func.lower(Customer.name) == name.lower()))
    if exists:
        raise RuleViolation(_l("A customer with this name already exists."), "name")
    customer = Customer(name=name)
    db.session.add(customer)
    db.session.flush()
    record(actor, "customer.created", target=customer, after={"name": name})
    return customer


def create_site(customer: Customer, site_number: str, name: str, kind: str, primary_email: str,
                actor=None, remote_addr: str | None = None) -> Site:
    """Create a site with its primary contact: a known person gets the role and a Welcome mail at
    once, an unknown email an invitation to become primary (single use, 48 hours)."""
    from .audit import record
    from .invitation import invite
    from .person import find_proven_person, normalize_email
    from .membership import PRIMARY
    from .tool import create_default_profiles

    site_number = (site_number or "").strip()
    name = (name or "").strip()
    if not SITE_NUMBER_PATTERN.match(site_number):
        raise RuleViolation(_l("A site number is 1 to 32 letters, digits or dashes."), "site_number")
    if not name:
        raise RuleViolation(_l("Enter the site's name."), "name")
    if kind not in SITE_KINDS:
        raise RuleViolation(_l("Choose originating or additional."), "kind")
    email = normalize_email(primary_email, "primary_email")
    if db.session.scalar(sa.select(Site.id).where(Site.site_number == site_number)):
        raise RuleViolation(_l("Site number %(n)s is already taken.", n=site_number), "site_number")
    if kind == ORIGINATING and db.session.scalar(
            sa.select(Site.id).where(Site.customer_id == customer.id, Site.kind == ORIGINATING)):
        raise RuleViolation(_l("This customer already has an originating site."), "kind")

    site = Site(customer_id=customer.id, site_number=site_number, name=name, kind=kind)
    db.session.add(site)
    db.session.flush()
    create_default_profiles(site)
    record(actor, "site.created", site=site, target=site,
           after={"site_number": site_number, "name": name, "kind": kind, "customer": customer.name},
           remote_addr=remote_addr)
    # Only a proven mailbox becomes primary at once; anyone else proves it through the invitation.
    person = find_proven_person(email)
    if person is not None:
        grant_primary(site, person, actor, remote_addr=remote_addr)
    else:
        invite(site, email, PRIMARY, actor, justification=_l("Named primary contact by the operator"),
               remote_addr=remote_addr)
    return site


def grant_primary(site: Site, person, actor, justification: str = "", remote_addr: str | None = None):
    """Make an existing person the primary of a site that has none, and welcome them."""
    from .membership import PRIMARY, Membership, membership_of
    from .outbox import queue_mail

    membership = membership_of(person, site.id)
    before = {"role": membership.role} if membership else None
    from .membership import record_access
    if membership is None:
        membership = Membership(site_id=site.id, person_id=person.id, role=PRIMARY,
                                business_justification=str(justification),
                                granted_by_id=getattr(actor, "id", None))
        db.session.add(membership)
    else:
        membership.role = PRIMARY
        membership.privileges.clear()
    record_access(actor, "membership.primary_granted", site, membership, before=before, remote_addr=remote_addr)
    queue_mail(person, "welcome", site=site, role_label=str(_l("Primary contact")))
    return membership


def set_coverage_end(site: Site, ends_on: date | None, actor=None, remote_addr: str | None = None) -> None:
    """Set (or clear) the date a site's support coverage ends."""
    from .audit import record

    before = site.coverage_ends_on
    site.coverage_ends_on = ends_on
    record(actor, "site.coverage_changed", site=site, target=site,
           before={"coverage_ends_on": before.isoformat() if before else None},
           after={"coverage_ends_on": ends_on.isoformat() if ends_on else None}, remote_addr=remote_addr)


def lock_site(site_id: int) -> Site | None:
    """Load a site for a rule that counts its members, locking its row where the database can.

    On SQLite the whole database is already locked by BEGIN IMMEDIATE; on PostgreSQL this
    row lock serialises concurrent changes to one site's memberships.
    """
    return db.session.scalar(sa.select(Site).where(Site.id == site_id).with_for_update())


COVERAGE_REMINDER_DAYS = (90, 60, 30)


def send_coverage_reminders(today: date | None = None) -> int:
    """Mail each site's renewal contact (the primary where there is none) 90, 60 and 30 days before
    its coverage ends, each reminder once; a new end date starts over. Returns how many mails."""
    from datetime import timedelta

    from .audit import record
    from .contact import contacts_of
    from .membership import primary_of
    from .outbox import queue_mail

    today = today or utcnow().date()
    horizon = today + timedelta(days=max(COVERAGE_REMINDER_DAYS))
    sent = 0
    for site in db.session.scalars(sa.select(Site).where(Site.coverage_ends_on > today,
                                                         Site.coverage_ends_on <= horizon)):
        days_left = (site.coverage_ends_on - today).days
        due = min(days for days in COVERAGE_REMINDER_DAYS if days >= days_left)
        already = site.coverage_reminded_days if site.coverage_reminded_for == site.coverage_ends_on else None
        if already is not None and already <= due:
            continue
        site.coverage_reminded_for, site.coverage_reminded_days = site.coverage_ends_on, due
        renewal = [c for c in contacts_of(site.id) if any(t.key == "renewal" for t in c.types)]
        context = dict(site=site, days_left=days_left, ends_on=site.coverage_ends_on)
        if renewal:
            for contact in renewal:
                queue_mail(None, "coverage_reminder", to=contact.email,
                           contact_name=f"{contact.first_name} {contact.last_name}", **context)
                sent += 1
        else:
            primary = primary_of(site.id)
            if primary is None:
                continue
            queue_mail(primary.person, "coverage_reminder", contact_name=primary.person.display_name, **context)
            sent += 1
        record(None, "site.coverage_reminded", site=site, target=site,
               after={"days_before": due, "ends_on": site.coverage_ends_on.isoformat()})
    return sent
