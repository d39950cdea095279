"""The User list's search: the same answers from the trigram index and from the sorted index walk."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import Membership, Person, db
from models import membership as members

NAMES = [("Ana", "Oconnor"), ("Bo", "Smith"), ("Cy", "Smithers"), ("Di", "Lopez"), ("Ed", "O'Brien"),
         ("Fay", "Nguyen"), ("Gus", "Smith-Jones"), ("Hal", "Ng"), ("Ivy", "Tanaka"), ("Jo", "Kowalski")]


@pytest.fixture
def crowded_site(app, world):
    site_id = world.site("primary@example.com")
    for first, last in NAMES:
        email = f"{first.lower()}.{last.lower().replace(chr(39), '')}@example.com"
        world.person(email, first_name=first, last_name=last)
        world.member(site_id, email)
    return site_id


def _emails(site_id, query, **kwargs):
    rows, total = members.list_members(site_id, query, **kwargs)
    return [row.person.email for row in rows], total


@pytest.mark.parametrize("cap", [1000, 2], ids=["few matches: trigram index", "many matches: index walk"])
@pytest.mark.parametrize("query, expected", [
    ("smith", ["bo.smith@example.com", "gus.smith-jones@example.com", "cy.smithers@example.com"]),
    ("SMITH", ["bo.smith@example.com", "gus.smith-jones@example.com", "cy.smithers@example.com"]),
    ("o'b", ["ed.obrien@example.com"]),
    ("ed o", ["ed.obrien@example.com"]),
    ("ng", ["hal.ng@example.com", "fay.nguyen@example.com"]),
    ("zzz", []),
    ("100%", []),
    ("_", []),
])
def test_search_over_name_and_email(app, crowded_site, monkeypatch, cap, query, expected):
    monkeypatch.setattr(members, "COUNT_CAP", cap)
    with app.app_context():
        emails, total = _emails(crowded_site, query)
        assert sorted(emails) == sorted(expected)
        assert total == len(expected) if len(expected) <= cap else total == cap + 1
        # Sorted by last name, then first name.
        order = {f"{first.lower()}.{last.lower().replace(chr(39), '')}@example.com": (last.lower(), first.lower())
                 for first, last in NAMES}
        assert emails == sorted(emails, key=order.get)


def test_renaming_a_person_moves_them_in_search_and_sort(app, crowded_site):
    with app.app_context():
        bo = db.session.scalar(sa.select(Person).where(Person.email == "bo.smith@example.com"))
        bo.last_name = "Zimmermann"
        db.session.commit()
        assert "bo.smith@example.com" in _emails(crowded_site, "zimmer")[0]
        assert "bo.smith@example.com" not in _emails(crowded_site, "bo smith")[0]
        everyone = _emails(crowded_site, "")[0]
        assert everyone[-1] == "bo.smith@example.com"


def test_removed_member_leaves_the_search_index(app, crowded_site):
    with app.app_context():
        membership = db.session.scalar(sa.select(Membership).join(Membership.person)
                                       .where(Person.email == "ivy.tanaka@example.com"))
        db.session.delete(membership)
        db.session.commit()
        assert _emails(crowded_site, "tanaka") == ([], 0)


def test_search_stays_within_the_site(app, crowded_site, world):
    other = world.site("other.primary@example.com")
    world.member(other, "bo.smith@example.com")
    with app.app_context():
        assert _emails(other, "smith")[0] == ["bo.smith@example.com"]
        assert len(_emails(crowded_site, "smith")[0]) == 3
