"""Each site's number of members per role (site_member_count, kept by the triggers of migration 0016):
exact after every kind of change, so the User list can show it without counting the site's rows."""
from __future__ import annotations

import sqlalchemy as sa

from models import Membership, Person, db
from models import membership as members
from models.tables import site_member_count


def _kept(site_id: int) -> dict[str, int]:
    counted = site_member_count.c
    return {role: number for role, number in db.session.execute(
        sa.select(counted.role, counted.members).where(counted.site_id == site_id)) if number}


def _counted(site_id: int) -> dict[str, int]:
    return dict(db.session.execute(sa.select(Membership.role, sa.func.count()).where(
        Membership.site_id == site_id).group_by(Membership.role)).all())


def test_the_kept_count_follows_every_change_of_membership(app, world):
    site_id = world.site("primary@example.com")
    other_site = world.site("other@example.com")
    for number in range(5):
        world.member(site_id, f"user{number}@example.com")
    world.member(site_id, "second@example.com", role="secondary")
    world.member(other_site, "user0@example.com")
    with app.app_context():
        assert _kept(site_id) == _counted(site_id) == {"primary": 1, "secondary": 1, "user": 5}
        assert _kept(other_site) == {"primary": 1, "user": 1}

        # A role changed, a member removed, written as the app writes them (ORM) and as a script would.
        first = db.session.scalar(sa.select(Membership).join(Person, Person.id == Membership.person_id)
                                  .where(Membership.site_id == site_id, Person.email == "user0@example.com"))
        first.role = "secondary"
        db.session.commit()
        db.session.execute(sa.delete(Membership).where(
            Membership.site_id == site_id,
            Membership.person_id == sa.select(Person.id).where(Person.email == "user1@example.com")
            .scalar_subquery()))
        db.session.commit()
        assert _kept(site_id) == _counted(site_id) == {"primary": 1, "secondary": 2, "user": 3}
        assert _kept(other_site) == {"primary": 1, "user": 1}

        # A change rolled back leaves the count as it was.
        db.session.execute(sa.delete(Membership).where(Membership.site_id == site_id, Membership.role == "user"))
        assert _kept(site_id) == {"primary": 1, "secondary": 2}
        db.session.rollback()
        assert _kept(site_id) == {"primary": 1, "secondary": 2, "user": 3}

        # The User list's totals come from it, by role too.
        assert members.list_members(site_id)[1] == 6
        assert members.list_members(site_id, role="secondary")[1] == 2
        assert members.list_members(site_id, role="user", page=9)[1] == 3
