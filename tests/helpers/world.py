"""Factories that build people, customers, sites and members through the domain layer."""
from __future__ import annotations

import functools

import sqlalchemy as sa

from models import db

PASSWORD = "correct horse battery"


@functools.cache
def password_hash(password: str) -> str:
    """A real argon2id hash, computed once per password for the whole run: factories make many people."""
    from models.person import password_hasher
    return password_hasher.hash(password)


class World:
    """Factories that build people, customers, sites and members through the domain layer."""

    def __init__(self, app):
        self.app = app
        self._numbers = iter(range(1000, 100000))

    def person(self, email, password=PASSWORD, operator=False, verified=True, **names):
        from models import person as people
        with self.app.app_context():
            person = people.create_person(email, None, names.get("first_name", email.split("@")[0].title()),
                                          names.get("last_name", "Tester"), is_operator=operator, verified=verified)
            person.password_hash = password_hash(password)
            db.session.commit()
            return person.id

    def operator(self, email="operator@example.com"):
        return self.person(email, operator=True)

    def site(self, primary_email="primary@example.com", number=None, customer="Acme Corp", name=None):
        """Create a site whose primary already has an account; return the site id."""
        from models import Customer
        from models import site as sites
        from models.person import find_person
        with self.app.app_context():
            missing = find_person(primary_email) is None
            db.session.rollback()
        if missing:
            self.person(primary_email)
        with self.app.app_context():
            found = db.session.scalar(sa.select(Customer).where(Customer.name == customer))
            found = found or sites.create_customer(customer)
            kind = sites.ORIGINATING if not found.sites else sites.ADDITIONAL
            number = number or str(next(self._numbers))
            site = sites.create_site(found, number, name or f"Site {number}", kind, primary_email)
            db.session.commit()
            return site.id

    def member(self, site_id, email, role="user", levels=None):
        """Add an existing (or new) person to a site with a role and tool levels {tool_key: rank}."""
        from models import Membership, Privilege
        from models.person import find_person
        from models.tool import tool_by_key
        with self.app.app_context():
            person = find_person(email)
            person_id = person.id if person else None
            db.session.rollback()
        person_id = person_id or self.person(email)
        with self.app.app_context():
            membership = Membership(site_id=site_id, person_id=person_id, role=role, business_justification="test")
            for key, rank in (levels or {}).items():
                membership.privileges.append(Privilege(tool_id=tool_by_key(key).id, rank=rank))
            db.session.add(membership)
            db.session.commit()
            return membership.id
