"""Accepting an invitation: the generic flow, its 48-hour limit and its single use."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import Invitation, Membership, Person, RuleViolation, db
from models import invitation as invitations
from models.base import utcnow
from models.membership import primary_of
from tests.helpers.mail import link_in
from tests.helpers.world import PASSWORD


@pytest.fixture
def invited(client, app, world, smtp):
    """A site whose primary (pat@example.com, no account yet) is invited; returns the link's path."""
    world.operator()
    from models import site as sites
    with app.app_context():
        customer = sites.create_customer("Acme Corp")
        sites.create_site(customer, "1001", "Acme Berlin", sites.ORIGINATING, "pat@example.com")
        db.session.commit()
    return link_in(smtp.wait_for(1)[0], "/invitations/").removeprefix("http://localhost")


def _accept_form():
    return {"first_name": "Pat", "last_name": "Primary", "password": PASSWORD, "confirm": PASSWORD}


def _move_expiry(app, delta):
    with app.app_context():
        invitation = db.session.scalar(sa.select(Invitation))
        invitation.expires_at = utcnow() + delta
        db.session.commit()


def test_invitee_sets_name_and_password_and_becomes_primary(client, app, invited):
    response = client.submit(invited, _accept_form())
    assert response.status_code == 303 and response.location == "/sites/1/"
    page = client.get("/sites/1/").get_data(as_text=True)
    assert "Your role on this site: Primary contact" in page
    with app.app_context():
        primary = primary_of(1)
        assert primary.person.email == "pat@example.com" and primary.person.email_verified_at is not None
        assert db.session.scalar(sa.select(Invitation)).status() == "accepted"


def test_invitation_is_valid_for_48_hours(app, invited):
    with app.app_context():
        invitation = db.session.scalar(sa.select(Invitation))
        assert invitation.expires_at - invitation.created_at == timedelta(hours=48)


def test_just_before_expiry_the_link_still_works(client, app, invited):
    _move_expiry(app, timedelta(seconds=30))
    assert client.get(invited).status_code == 200
    assert client.submit(invited, _accept_form()).status_code == 303


def test_after_expiry_the_link_says_so_and_changes_nothing(client, app, invited):
    _move_expiry(app, -timedelta(seconds=1))
    page = client.get(invited)
    assert page.status_code == 410 and "This invitation has expired" in page.get_data(as_text=True)
    assert "resend" in page.get_data(as_text=True)
    assert client.submit(invited, _accept_form()).status_code == 410
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 1  # the operator only
        assert primary_of(1) is None


def test_a_used_link_is_refused(client, invited):
    client.submit(invited, _accept_form())
    client.submit("/sign-out")
    again = client.get(invited)
    assert again.status_code == 410 and "already been used" in again.get_data(as_text=True)


def test_a_reissued_invitation_kills_the_old_link(client, app, invited, smtp):
    from models import Site
    with app.app_context():
        invitations.invite(db.session.get(Site, 1), "pat@example.com", "primary", None)
        db.session.commit()
    newer = link_in(smtp.wait_for(2)[1], "/invitations/").removeprefix("http://localhost")
    old = client.get(invited)
    assert old.status_code == 410 and "no longer valid" in old.get_data(as_text=True)
    assert client.get(newer).status_code == 200


def test_unknown_link(client, invited):
    page = client.get("/invitations/not-a-real-token")
    assert page.status_code == 404 and "not valid" in page.get_data(as_text=True)


def test_signed_in_person_with_another_email_is_told_it_is_for_someone_else(client, world, auth, invited, app):
    world.person("mallory@example.com")
    auth.sign_in("mallory@example.com")
    page = client.get(invited)
    assert page.status_code == 403 and "This invitation is for someone else" in page.get_data(as_text=True)
    assert client.submit(invited).status_code == 403
    with app.app_context():
        assert primary_of(1) is None


def test_existing_account_signs_in_then_accepts(client, world, auth, app, smtp):
    world.operator()
    world.person("pat@example.com")
    from models import Site
    from models import site as sites
    with app.app_context():
        customer = sites.create_customer("Acme Corp")
        site = sites.create_site(customer, "1001", "Acme Berlin", sites.ORIGINATING, "boss@example.com")
        invitations.invite(db.session.get(Site, site.id), "pat@example.com", "user", None)
        db.session.commit()
        site_id = site.id
    [invitation_mail] = [m for m in smtp.wait_for(2) if m["To"] == "pat@example.com"]
    link = link_in(invitation_mail, "/invitations/").removeprefix("http://localhost")
    page = client.get(link).get_data(as_text=True)
    assert "Sign in to accept" in page
    # Posting the new-account form for an existing account does not create or take it over.
    assert client.submit(link, {"first_name": "X", "last_name": "Y", "password": "attacker password",
                                "confirm": "attacker password"}).status_code == 303
    auth.sign_in("pat@example.com")
    assert client.submit(link).location == f"/sites/{site_id}/"
    with app.app_context():
        membership = db.session.scalar(sa.select(Membership).join(Membership.person).where(Person.email == "pat@example.com"))
        assert membership.role == "user"


def test_two_simultaneous_accepts_make_one_member(app, invited):
    """One invitation accepted by two requests at the same moment: one wins, one is refused."""
    with app.app_context():
        from models import person as people
        pat = people.create_person("pat@example.com", PASSWORD, verified=True)
        db.session.commit()
        pat_id = pat.id
    barrier = threading.Barrier(2)
    outcomes = []

    def accept():
        with app.app_context():
            barrier.wait()
            try:
                invitation = db.session.scalar(sa.select(Invitation))
                invitations.accept_invitation(invitation, db.session.get(Person, pat_id))
                db.session.commit()
                outcomes.append("accepted")
            except RuleViolation:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["accepted", "refused"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership)) == 1
