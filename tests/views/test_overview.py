"""The site start page answers "what needs me?" (issue 13): members by role and the secondary seats
left, pending access and support requests, invitations expiring within 24 hours, contact warnings,
coverage, the running access review — each shown only to those who may act on it and linking to the
page where they do. One world for the module."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from models import Invitation, Membership, db
from models import access_request as requests
from models import invitation as invitations
from models.base import utcnow
from models.person import find_person
from models.review import start_review
from models.site import set_coverage_end
from models.tool import REPORTING, SUPPORT, tool_by_key
from tests.helpers.module_world import SessionHelper, module_world_fixtures
from tests.helpers.pages import page_text, page_tree

PAT = "pat@example.com"   # primary of site A
SAM = "sam@example.com"   # secondary, Manage access = Update, Contact updates = Update
UMA = "uma@example.com"   # user without privileges, asks for Reporting and a support level
BEA = "bea@example.com"   # primary of site B
OPERATOR = "operator@example.com"
SIGNED_IN = (PAT, SAM, UMA, BEA, OPERATOR)
SOON, LATER = "soon@example.com", "later@example.com"


def build_world(world, app) -> dict:
    world.operator(OPERATOR)
    site_a = world.site(PAT, customer="Acme Corp", name="Acme Works")
    world.member(site_a, SAM, "secondary", {"manage_access": 2, "contact_updates": 2})
    world.member(site_a, UMA, "user")
    site_b = world.site(BEA, customer="Beta Corp", name="Beta Plant")
    with app.app_context():
        uma = db.session.scalar(sa.select(Membership).where(Membership.site_id == site_a,
                                                            Membership.person_id == find_person(UMA).id))
        requests.submit_privilege_request(uma, tool_by_key(REPORTING), 1, "Monthly license reports.")
        requests.submit_privilege_request(uma, tool_by_key(SUPPORT), 2, "I open the support cases.")
        site = db.session.get(Membership, uma.id).site
        pat = find_person(PAT)
        for email in (SOON, LATER):
            invitations.invite(site, email, "secondary", pat, "New colleague.")
        db.session.flush()
        soon = db.session.scalar(sa.select(Invitation).where(Invitation.email == SOON))
        soon.expires_at = utcnow() + timedelta(hours=5)
        set_coverage_end(site, date.today() + timedelta(days=30))
        db.session.commit()
    return {"site_a": site_a, "site_b": site_b}


module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, SIGNED_IN, SessionHelper)


def start_page(h, email):
    h.become(email)
    response = h.get(f"/sites/{h.a}/")
    assert response.status_code == 200
    return response


def words_of(response) -> str:
    """The page's words, a link's text joined to the punctuation after it ("Primary contact: 1")."""
    return page_text(response).replace(" :", ":").replace(" :", ":")


def links(response) -> dict[str, str]:
    """The start page's links inside <main> by visible text (the navigation apart)."""
    main = page_tree(response).one("main")
    navigation = {a for nav in main.find_all("nav") for a in nav.find_all("a")}
    return {a.text: a.get("href") for a in main.find_all("a") if a not in navigation}


def test_the_primary_sees_what_waits_and_where_to_act(h):
    response = start_page(h, PAT)
    words, found = words_of(response), links(response)
    assert found["1 access request waits for a decision"] == f"/sites/{h.a}/requests?status=pending"
    assert found["1 support request waits for a decision"] == f"/sites/{h.a}/support"
    assert found["1 invitation expires within 24 hours"] == f"/sites/{h.a}/members?status=invited"
    assert SOON in words and LATER not in words  # only the invitation that expires within a day is named
    assert found["No renewal contact is named (recommended)."] == f"/sites/{h.a}/contacts/manage"
    assert "Primary contact: 1" in words and "Secondary contact: 1" in words and "User: 1" in words
    assert found["Secondary contact"] == f"/sites/{h.a}/members?role=secondary"
    assert "Pending invitations: 2" in words
    # One secondary and two pending invitations to become one take three of the four seats.
    assert "1 of 4 secondary contact seats is free." in words
    assert "Contacts were never reviewed." in words and "No access review yet." in words
    assert "Support coverage ends on" in words and "(30 days left)" in words


def test_a_user_without_privileges_sees_no_part_they_cannot_act_on(h):
    response = start_page(h, UMA)
    words, found = words_of(response), links(response)
    assert "Nothing waits for you on this site." in words
    assert "Support coverage ends on" in words
    for hidden in ("Members", "Pending invitations", "Contacts were never reviewed", "access request", "seats"):
        assert hidden not in words
    assert not [href for href in found.values() if "/members" in href or "/requests" in href or "/contacts" in href]


def test_every_link_of_the_start_page_opens_for_the_person_who_sees_it(h):
    for email in (PAT, SAM, UMA, OPERATOR):
        for label, href in links(start_page(h, email)).items():
            if href.startswith("/"):
                assert h.get(href).status_code == 200, (email, label, href)


def test_the_operator_sees_the_site_but_not_the_approvers_requests(h):
    words = words_of(start_page(h, OPERATOR))
    assert "You see this site as an operator" in words
    assert "Primary contact: 1" in words and "1 support request waits for a decision" in words
    # Access requests are decided by the site's approvers, not by operators (SPEC §5).
    assert "access request waits" not in words


def test_a_running_review_says_how_many_members_wait(h):
    with h.app.app_context():
        pat = find_person(PAT)
        start_review(db.session.scalar(sa.select(Membership).where(Membership.person_id == pat.id)).site, pat)
        db.session.commit()
    response = start_page(h, PAT)
    assert links(response)["The access review waits for 2 members"] == f"/sites/{h.a}/review"
    assert "In progress since" in words_of(response) and "0 of 2 members reviewed." in words_of(response)


def test_site_b_shows_nothing_of_site_a(h):
    h.become(BEA)
    assert h.get(f"/sites/{h.a}/").status_code in (403, 404)
    words = words_of(h.get(f"/sites/{h.b}/"))
    assert SOON not in words and "support request" not in words
