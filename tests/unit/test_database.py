"""Invariants the database itself holds, whatever the code above it does."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, DatabaseError

from models import AuditEvent, Membership, Person, db, record
from models.membership import PRIMARY, USER, primary_of


def test_second_primary_for_a_site_is_refused_by_the_database(app, world):
    site_id = world.site("primary@example.com")
    other = world.person("other@example.com")
    with app.app_context():
        db.session.add(Membership(site_id=site_id, person_id=other, role=PRIMARY))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        assert primary_of(site_id).person.email == "primary@example.com"


def test_primaries_of_different_sites_do_not_collide(app, world):
    first = world.site("primary@example.com")
    second = world.site("primary@example.com")
    with app.app_context():
        assert primary_of(first).person_id == primary_of(second).person_id


def test_one_membership_per_person_and_site(app, world):
    site_id = world.site("primary@example.com")
    world.member(site_id, "user@example.com")
    with app.app_context():
        user = db.session.scalar(sa.select(Person).where(Person.email == "user@example.com"))
        db.session.add(Membership(site_id=site_id, person_id=user.id, role=USER))
        with pytest.raises(IntegrityError):
            db.session.flush()


def test_unknown_role_is_refused_by_the_database(app, world):
    site_id = world.site("primary@example.com")
    other = world.person("other@example.com")
    with app.app_context():
        db.session.add(Membership(site_id=site_id, person_id=other, role="owner"))
        with pytest.raises(IntegrityError):
            db.session.flush()


def test_email_is_unique_whatever_its_case(app):
    with app.app_context():
        db.session.add(Person(email="pat@example.com", notification_preferences={}))
        db.session.add(Person(email="PAT@example.com", notification_preferences={}))
        with pytest.raises(IntegrityError):
            db.session.flush()


def test_deleting_a_primary_person_cannot_orphan_the_site(app, world):
    site_id = world.site("primary@example.com")
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(sa.delete(Person).where(Person.email == "primary@example.com"))
        db.session.rollback()
        assert primary_of(site_id) is not None


def test_audit_log_is_append_only(app):
    with app.app_context():
        event = record(None, "test.appended", after={"n": 1})
        db.session.commit()
        with pytest.raises((IntegrityError, OperationalError, DatabaseError)):
            db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == event.id).values(action="rewritten"))
        db.session.rollback()
        with pytest.raises((IntegrityError, OperationalError, DatabaseError)):
            db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == event.id))
        db.session.rollback()
        assert db.session.get(AuditEvent, event.id).action == "test.appended"


def test_sqlite_connection_settings(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite pragmas")
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_default_tool_catalog_is_seeded(app):
    from models.tool import catalog
    with app.app_context():
        tools = catalog()
        names = [tool.name for tool in tools]
        assert names[0] == "Software and services (purchase and download)"
        assert [level.name for level in tools[-1].levels] == ["No access", "Basic", "Full", "Administrator"]
        assert {tool.key for tool in tools if tool.secondary_only} == {"manage_access", "contact_updates"}


def test_new_site_gets_the_three_default_profiles(app, world):
    from models import AccessProfile
    site_id = world.site("primary@example.com")
    with app.app_context():
        names = db.session.scalars(sa.select(AccessProfile.name).where(AccessProfile.site_id == site_id)
                                   .order_by(AccessProfile.position)).all()
        assert names == ["Full access", "Reporting access", "Basic access"]
