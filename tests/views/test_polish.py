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


def empty_state(html: str) -> str:
    found = re.search(r'<div class="empty-state">(.*?)</div>', html, re.S)
    assert found, "no empty state"
    return re.sub(r"\s+", " ", found.group(1))


def test_empty_requests_say_where_people_ask_and_link_to_add_new_user_or_clear_the_filters(client, world, auth):
    site_id = world.site(PRIMARY)
    auth.sign_in(PRIMARY)
    empty = empty_state(html_of(client.get(f"/sites/{site_id}/requests")))
    assert "No requests wait for a decision. Members ask for access from My access" in empty
    assert f'href="/sites/{site_id}/members/new">Add new user</a>' in empty
    filtered = empty_state(html_of(client.htmx_get(f"/sites/{site_id}/requests?status=approved")))
    assert "No requests match these filters." in filtered
    assert f'href="/sites/{site_id}/requests">Clear the filters</a>' in filtered


def test_empty_documents_offer_the_upload_only_to_who_may_upload(client, world, auth):
    site_id = world.site(PRIMARY)
    world.member(site_id, USER, levels={"documents": 1})
    auth.sign_in(PRIMARY)
    empty = empty_state(html_of(client.get(f"/sites/{site_id}/documents")))
    assert "No documents yet." in empty and 'href="#upload">Upload a document</a>' in empty
    auth.sign_out()
    auth.sign_in(USER)
    html = html_of(client.get(f"/sites/{site_id}/documents"))
    assert "The primary contact uploads" in empty_state(html) and "<a " not in empty_state(html)
    assert 'id="upload"' not in html


def test_empty_audit_log_under_filters_links_to_clear_them(client, world, auth):
    site_id = world.site(PRIMARY)
    auth.sign_in(PRIMARY)
    empty = empty_state(html_of(client.get(f"/sites/{site_id}/audit?actor=nobody-at-all")))
    assert "No events match." in empty
    assert f'href="/sites/{site_id}/audit">Clear the filters</a>' in empty


def test_empty_operator_lists_point_to_their_create_forms(client, world, auth):
    world.operator(OPERATOR)
    auth.sign_in(OPERATOR)
    console = html_of(client.get("/operator/"))
    assert 'href="#new-customer">New customer</a>' in empty_state(console) and 'id="new-customer"' in console
    keys = html_of(client.get("/operator/api-keys"))
    assert 'href="#create-api-key">Create API key</a>' in empty_state(keys) and 'id="create-api-key"' in keys


def test_unreviewed_site_tells_a_manager_who_starts_the_review(client, world, auth):
    site_id = world.site(PRIMARY)
    world.member(site_id, "second@example.com", role="secondary", levels={"manage_access": 2})
    auth.sign_in("second@example.com")
    html = html_of(client.get(f"/sites/{site_id}/review"))
    assert "This site has not been reviewed yet. The primary contact starts an access review." in html
    assert "Start access review" not in html


def secondary_headers(html: str) -> list[str]:
    return re.findall(r'<th scope="col" class="secondary-column">(.*?)</th>', html)


def test_wide_tables_mark_their_secondary_columns_and_the_detail_pages_keep_the_data(app, client, world, auth):
    site_id = world.site(PRIMARY)
    world.member(site_id, USER)
    request_id = ask_for_more(app, site_id)
    auth.sign_in(PRIMARY)
    assert secondary_headers(html_of(client.get(f"/sites/{site_id}/requests"))) == ["Sent", "Decided by, when, why"]
    request_page = html_of(client.get(f"/sites/{site_id}/requests/{request_id}"))
    assert "<dt>Sent</dt>" in request_page  # the request's own page shows when it was sent
    assert secondary_headers(html_of(client.get(f"/sites/{site_id}/documents"))) == ["Size", "Uploaded by"]
    assert secondary_headers(html_of(client.get(f"/sites/{site_id}/audit"))) == ["From"]
    auth.sign_out()
    world.operator(OPERATOR)
    auth.sign_in(OPERATOR)
    assert client.submit("/operator/api-keys", {"name": "License system", "scope": "all"}).status_code == 201
    listing = html_of(client.get("/operator/api-keys"))
    assert secondary_headers(listing) == ["Prefix", "Created by", "Last used", "Expires"]
    key_id = re.search(r'/operator/api-keys/(\d+)/scope', listing).group(1)
    scope_page = html_of(client.get(f"/operator/api-keys/{key_id}/scope"))
    for term in ("Created by", "Last used", "Expires"):
        assert f"<dt>{term}</dt>" in scope_page
    assert "operator@example.com" in scope_page


def test_site_contacts_stack_name_email_and_phone_in_one_cell(client, world, auth):
    site_id = world.site(PRIMARY)
    auth.sign_in(PRIMARY)
    html = html_of(client.get(f"/sites/{site_id}/contacts"))
    assert re.findall(r'<th scope="col">(.*?)</th>', html) == ["Contact type", "Who"]
    assert "<br><small>primary@example.com</small></td>" in html
