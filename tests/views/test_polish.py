"""Issue 13's remaining screens: statuses show as badges on the Requests pages, the access review, the
API keys and the webhook deliveries; every list that is empty says what to do next, with the link or button
to where one acts only for the person who may."""
from __future__ import annotations

import re

import sqlalchemy as sa

PRIMARY = "primary@example.com"
USER = "user@example.com"
OPERATOR = "operator@example.com"


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def badge(look: str, label: str) -> str:
    return f'<span class="badge badge-{look}">{label}</span>'


def ask_for_more(app, site_id: int) -> int:
    """The user asks for one level more of a tool; return the request's id."""
    from models import Membership, Person, db
    from models.access_request import submit_privilege_request
    from models.tool import catalog
    with app.app_context():
        membership = db.session.scalar(sa.select(Membership).join(Person, Membership.person_id == Person.id)
                                       .where(Person.email == USER, Membership.site_id == site_id))
        tool = next(tool for tool in catalog() if not tool.secondary_only and tool.top_rank > membership.level(tool))
        access_request = submit_privilege_request(membership, tool, membership.level(tool) + 1, "Quarterly report")
        db.session.commit()
        return access_request.id


def test_request_status_shows_as_a_badge_on_the_list_the_review_and_my_requests(app, client, world, auth):
    site_id = world.site(PRIMARY)
    world.member(site_id, USER)
    request_id = ask_for_more(app, site_id)
    auth.sign_in(PRIMARY)
    assert badge("pending", "Pending") in html_of(client.get(f"/sites/{site_id}/requests"))
    assert badge("pending", "Pending") in html_of(client.get(f"/sites/{site_id}/requests/{request_id}"))
    response = client.submit(f"/sites/{site_id}/requests/{request_id}/reject", {"reason": "not_required"})
    assert response.status_code == 303, response.status_code
    assert badge("rejected", "Rejected") in html_of(client.get(f"/sites/{site_id}/requests"))
    auth.sign_out()
    auth.sign_in(USER)
    assert badge("rejected", "Rejected") in html_of(client.get("/my-requests"))


def test_review_lines_show_to_review_and_confirmed_as_badges(client, world, auth):
    site_id = world.site(PRIMARY)
    world.member(site_id, USER)
    world.member(site_id, "other@example.com")  # still to review, so the review stays open
    auth.sign_in(PRIMARY)
    assert client.submit(f"/sites/{site_id}/review").status_code == 303
    page = html_of(client.get(f"/sites/{site_id}/review"))
    assert badge("pending", "To review") in page
    line_id = re.search(r'id="review-line-(\d+)"', page).group(1)
    response = client.submit(f"/sites/{site_id}/review/lines/{line_id}", {"decision": "confirmed"})
    assert response.status_code == 303, response.status_code
    assert badge("approved", "Confirmed") in html_of(client.get(f"/sites/{site_id}/review"))


def test_api_key_status_shows_as_a_badge(client, world, auth):
    world.operator(OPERATOR)
    auth.sign_in(OPERATOR)
    response = client.submit("/operator/api-keys", {"name": "License system", "scope": "all"})
    assert response.status_code == 201, response.status_code
    listing = html_of(client.get("/operator/api-keys"))
    assert badge("active", "Active") in listing
    key_id = re.search(r'/operator/api-keys/(\d+)/revoke', listing).group(1)
    assert client.submit(f"/operator/api-keys/{key_id}/revoke").status_code == 303
    assert badge("revoked", "Revoked") in html_of(client.get("/operator/api-keys"))
