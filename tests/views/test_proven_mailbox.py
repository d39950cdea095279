"""An account whose email is not verified is a stranger (issue 10, "High").

Someone who registers newhire@customer before the real newhire gets nothing the site later gives
that address: the address gets an invitation, whose acceptance proves the mailbox and takes the
account over. Each test here failed before the fix.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import Invitation, Membership, Person, RuleViolation, Site, db
from models import membership as members
from models import site as sites
from models.membership import membership_of, primary_of
from models.person import find_person
from models.primary_transfer import recover_site
from tests.helpers.mail import link_in
from tests.helpers.pages import page_text
from tests.helpers.world import PASSWORD

SQUATTER_PASSWORD = "squatter's own password"
NEWHIRE = "newhire@customer.example"


@pytest.fixture
def site_id(world):
    world.operator()
    site_id = world.site("primary@example.com", number="1001", name="Acme Works")
    world.person(NEWHIRE, password=SQUATTER_PASSWORD, verified=False, first_name="Mallory", last_name="Squatter")
    return site_id


def _invitations_to(email):
    return db.session.scalars(sa.select(Invitation).where(Invitation.email == email)).all()


def test_add_member_invites_the_address_of_an_unverified_account(app, site_id):
    with app.app_context():
        site = db.session.get(Site, site_id)
        outcome = members.add_member(site, find_person("primary@example.com"), NEWHIRE, "secondary",
                                     "New hire in purchasing", {})
        db.session.commit()
        assert isinstance(outcome, Invitation)
        assert membership_of(find_person(NEWHIRE), site_id) is None


def test_operator_naming_an_unverified_address_primary_sends_an_invitation(app, site_id):
    with app.app_context():
        customer = db.session.get(Site, site_id).customer
        site = sites.create_site(customer, "1002", "Acme Annex", sites.ADDITIONAL, NEWHIRE,
                                 actor=find_person("operator@example.com"))
        db.session.commit()
        assert primary_of(site.id) is None
        [invitation] = _invitations_to(NEWHIRE)
        assert invitation.role == "primary" and invitation.site_id == site.id


def test_recovery_to_an_unverified_address_sends_an_invitation(app, site_id):
    with app.app_context():
        site = db.session.get(Site, site_id)
        outcome = recover_site(site, find_person("operator@example.com"), "The primary left", email=NEWHIRE)
        db.session.commit()
        assert isinstance(outcome, Invitation)
        assert primary_of(site_id).person.email == "primary@example.com"


def test_recovery_refuses_an_unverified_member(app, site_id, world):
    world.member(site_id, NEWHIRE, role="user")  # from before the rule: an unverified member
    with app.app_context():
        site = db.session.get(Site, site_id)
        membership = membership_of(find_person(NEWHIRE), site_id)
        with pytest.raises(RuleViolation) as refused:
            recover_site(site, find_person("operator@example.com"), "The primary left", membership=membership)
        assert refused.value.field == "membership_id"
        db.session.rollback()
        assert primary_of(site_id).person.email == "primary@example.com"


def test_check_user_does_not_show_a_squatters_name(client, auth, site_id):
    auth.sign_in("primary@example.com")
    response = client.submit(f"/sites/{site_id}/members/check", {"email": NEWHIRE}, htmx=True)
    words = page_text(response)
    assert f"No confirmed account uses {NEWHIRE}; they will get an invitation" in words
    assert "Mallory" not in words and "Squatter" not in words


def _invite_newhire(client, auth, smtp, site_id) -> str:
    auth.sign_in("primary@example.com")
    response = client.submit(f"/sites/{site_id}/members", {
        "email": NEWHIRE, "business_justification": "New hire", "role": "user"})
    assert response.status_code == 303, page_text(response)
    auth.sign_out()
    [mail] = [m for m in smtp.wait_for(2) if m["To"] == NEWHIRE]
    return link_in(mail, "/invitations/").removeprefix("http://localhost")


def test_accepting_takes_the_unverified_account_over(app, client, auth, smtp, site_id):
    squatter = app.test_client()
    squatter.__class__ = client.__class__
    squatter.submit("/sign-in", {"email": NEWHIRE, "password": SQUATTER_PASSWORD})
    assert squatter.get("/settings/").status_code == 200  # signed in (as a stranger)

    link = _invite_newhire(client, auth, smtp, site_id)
    page = client.get(link)
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    assert "Sign in to accept" not in page_text(page)
    new_password = "the real newhire's password"
    response = client.submit(link, {"first_name": "Nina", "last_name": "Newhire", "password": new_password,
                                    "confirm": new_password})
    assert response.status_code == 303 and response.location == f"/sites/{site_id}/"
    assert client.get(f"/sites/{site_id}/").status_code == 200
    with app.app_context():
        person = find_person(NEWHIRE)
        assert person.is_verified and (person.first_name, person.last_name) == ("Nina", "Newhire")
        assert membership_of(person, site_id).role == "user"
    # The squatter's session ended, and their password stopped working.
    assert squatter.get("/settings/").status_code == 302
    refused = squatter.submit("/sign-in", {"email": NEWHIRE, "password": SQUATTER_PASSWORD})
    assert refused.status_code == 401
    auth.sign_out()
    auth.sign_in(NEWHIRE, new_password)


def test_unverified_owner_signed_in_sets_name_and_password_anew(app, client, auth, smtp, site_id):
    link = _invite_newhire(client, auth, smtp, site_id)
    auth.sign_in(NEWHIRE, SQUATTER_PASSWORD)
    page = client.get(link)
    assert 'name="password"' in page.get_data(as_text=True)
    assert client.submit(link).status_code == 422  # a bare confirmation is not enough
    with app.app_context():
        assert membership_of(find_person(NEWHIRE), site_id) is None
    new_password = "the real newhire's password"
    response = client.submit(link, {"first_name": "Nina", "last_name": "Newhire", "password": new_password,
                                    "confirm": new_password})
    assert response.status_code == 303
    assert client.get(f"/sites/{site_id}/").status_code == 200  # a fresh session of the proven account
    auth.sign_out()
    auth.sign_in(NEWHIRE, new_password)


def test_domain_refuses_an_unverified_person_accepting_directly(app, client, auth, smtp, site_id):
    _invite_newhire(client, auth, smtp, site_id)
    from models.invitation import accept_invitation
    with app.app_context():
        [invitation] = _invitations_to(NEWHIRE)
        with pytest.raises(RuleViolation):
            accept_invitation(invitation, find_person(NEWHIRE))
        db.session.rollback()
        assert membership_of(find_person(NEWHIRE), site_id) is None


# --- no site page for an unverified account -------------------------------------------------------

def test_unverified_member_reaches_no_site_page(app, client, auth, site_id, world):
    world.member(site_id, NEWHIRE, role="secondary", levels={"manage_access": 2})
    client.submit("/sign-in", {"email": NEWHIRE, "password": SQUATTER_PASSWORD})
    for url in (f"/sites/{site_id}/", f"/sites/{site_id}/members", f"/sites/{site_id}/contacts",
                "/request-access", "/my-requests"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "is not confirmed yet" in page_text(response)
        fragment = client.htmx_get(url)
        assert fragment.status_code == 403 and fragment.headers.get("HX-Redirect") == "/"
    before = _dump(app)
    response = client.submit(f"/sites/{site_id}/members", {
        "email": "friend@example.com", "business_justification": "x", "role": "user"})
    assert response.status_code == 403 and _dump(app) == before
    # What stays open: the start page with the way to confirm, and the person's own settings.
    assert "Send the link again" in page_text(client.get("/"))
    assert client.get("/settings/").status_code == 200


def _dump(app):
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(Membership)),
                db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)))


# --- Low 5: an invitation is a grant in the inviter's name, checked at acceptance -------------------

@pytest.fixture
def manager_invites(app, world, smtp):
    """A manager (secondary, Manage access = Update, Reporting = View) invites a user with Reporting = View."""
    world.operator()
    site_id = world.site("primary@example.com", number="1001")
    manager_id = world.member(site_id, "manager@example.com", role="secondary",
                              levels={"manage_access": 2, "reporting": 1})
    from models.tool import tool_by_key
    with app.app_context():
        site = db.session.get(Site, site_id)
        members.add_member(site, find_person("manager@example.com"), "invitee@example.com", "user",
                           "Needs the reports", {tool_by_key("reporting").id: 1})
        db.session.commit()
    [mail] = [m for m in smtp.wait_for(2) if m["To"] == "invitee@example.com"]
    return site_id, manager_id, link_in(mail, "/invitations/").removeprefix("http://localhost")


def _accept(client, link):
    return client.submit(link, {"first_name": "Ivy", "last_name": "Invitee", "password": PASSWORD,
                                "confirm": PASSWORD})


def _change_manager(app, site_id, manager_id, change):
    from models.tool import tool_by_key
    with app.app_context():
        site = db.session.get(Site, site_id)
        primary = find_person("primary@example.com")
        membership = db.session.get(Membership, manager_id)
        if change == "removed":
            members.remove_member(site, primary, membership)
        elif change == "demoted":
            members.update_member(site, primary, membership, "user", {})
        elif change == "reporting lowered":
            members.update_member(site, primary, membership, "secondary", {tool_by_key("reporting").id: 0})
        db.session.commit()


def test_invitation_of_an_inviter_still_in_place_is_granted(app, client, manager_invites):
    site_id, _manager_id, link = manager_invites
    assert _accept(client, link).status_code == 303
    with app.app_context():
        from models.tool import tool_by_key
        assert membership_of(find_person("invitee@example.com"), site_id).level(tool_by_key("reporting")) == 1


@pytest.mark.parametrize("change", ["removed", "demoted", "reporting lowered"])
def test_invitation_is_refused_when_the_inviter_may_no_longer_grant_it(app, client, manager_invites, change):
    site_id, manager_id, link = manager_invites
    _change_manager(app, site_id, manager_id, change)
    response = _accept(client, link)
    assert response.status_code == 409
    assert "The person who invited you may no longer grant this access" in page_text(response)
    with app.app_context():
        assert find_person("invitee@example.com") is None, "nothing is kept of a refused acceptance"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership)
                                 .where(Membership.site_id == site_id)) == (1 if change == "removed" else 2)


def test_a_primary_invitation_of_a_former_operator_is_refused(app, client, world, smtp):
    world.operator()
    operator_id = world.person("second.operator@example.com", operator=True)
    with app.app_context():
        customer = sites.create_customer("Acme Corp")
        sites.create_site(customer, "1001", "Acme Works", sites.ORIGINATING, "pat@example.com",
                          actor=db.session.get(Person, operator_id))
        db.session.get(Person, operator_id).is_operator = False
        db.session.commit()
    link = link_in(smtp.wait_for(1)[0], "/invitations/").removeprefix("http://localhost")
    assert _accept(client, link).status_code == 409
    with app.app_context():
        assert primary_of(1) is None
