"""The JSON API (issue 16, first slice): API keys in the Operator console, the Bearer key, its scope and
rate limit, the two member lookups, and the OpenAPI document every API response here is checked against."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator

from models import AuditEvent, Membership, Site, db, utcnow
from models import api
from models.person import find_person
from models.tool import Tool
from views.api import openapi_document

DOCUMENT = openapi_document()


# --- every API response is checked against the OpenAPI document -------------------------------------

def _operation(path: str) -> tuple[str, dict]:
    for template, item in DOCUMENT["paths"].items():
        pattern = "^/api/v1" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            return template, item["get"]
    raise AssertionError(f"{path} is not in the OpenAPI document")


def check_against_openapi(path: str, response) -> None:
    """Fail unless the document describes this status for this path and the body matches its schema."""
    template, operation = _operation(path.split("?")[0])
    spec = operation["responses"].get(str(response.status_code))
    assert spec is not None, f"GET {template} answered {response.status_code}, which the document does not describe"
    if "$ref" in spec:
        spec = DOCUMENT["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
    for name, header in spec.get("headers", {}).items():
        if header.get("required"):
            assert name in response.headers, f"GET {template} {response.status_code} lacks the {name} header"
    schema = spec["content"]["application/json"]["schema"]
    assert response.mimetype == "application/json"
    Draft202012Validator({"components": DOCUMENT["components"], **schema}).validate(response.get_json())


def api_get(client, path: str, key: str | None = None, **headers):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    response = client.get(path, headers=headers)
    check_against_openapi(path, response)
    return response


def test_openapi_document_is_served_as_is_and_its_schemas_are_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == DOCUMENT
    assert DOCUMENT["openapi"].startswith("3.1")
    for schema in DOCUMENT["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


# --- the world ----------------------------------------------------------------------------------------

@pytest.fixture
def ids(world, app):
    """An operator; site A (Acme) with its primary, a secondary with levels, an unproven member; site B
    (Beta) where the secondary is a user too."""
    operator = world.operator()
    site_a = world.site("primary@example.com", number="1001", customer="Acme Corp", name="Acme Works")
    world.member(site_a, "sec@example.com", role="secondary",
                 levels={"software": 2, "manage_access": 1, "support": 3})
    world.person("unproven@example.com", verified=False)
    world.member(site_a, "unproven@example.com", role="user", levels={"software": 1})
    site_b = world.site("primary.b@example.com", number="2002", customer="Beta Corp", name="Beta Plant")
    world.member(site_b, "sec@example.com", role="user")
    with app.app_context():
        confirmed = datetime(2026, 3, 1, 12, 0, 0)
        db.session.execute(sa.update(Membership).where(
            Membership.site_id == site_a, Membership.person_id == find_person("sec@example.com").id)
            .values(last_confirmed_at=confirmed, granted_by_id=find_person("primary@example.com").id))
        customers = {site.site_number: site.customer_id for site in db.session.scalars(sa.select(Site))}
        db.session.commit()
    return {"operator": operator, "site_a": site_a, "site_b": site_b, "acme": customers["1001"],
            "beta": customers["2002"]}


def make_key(app, ids, customers=None, expires_at=None, name="Download server"):
    with app.app_context():
        operator = db.session.get(api.Person, ids["operator"])
        key, plain = api.create_api_key(operator, name, customers, expires_at)
        db.session.commit()
        return key.id, plain


# --- keys ---------------------------------------------------------------------------------------------

def test_key_is_stored_hashed_and_its_creation_audited(app, ids):
    key_id, plain = make_key(app, ids)
    assert plain.startswith("sp_") and len(plain) > 40
    with app.app_context():
        key = db.session.get(api.ApiKey, key_id)
        dump = "\n".join(str(row) for row in db.session.execute(sa.text("SELECT * FROM api_key")))
        assert plain not in dump and plain[len(key.prefix):] not in dump
        assert key.key_hash == api.hash_token(plain) and key.prefix == plain[:11]
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "api_key.created"))
        assert event.site_id is None and event.actor_id == ids["operator"] and event.target_label == "Download server"
        assert event.after["scope"] == [] and plain not in str(event.after)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer sp_wrong", "Basic sp_x", "sp_x", "Bearer " + "x" * 5000])
def test_missing_or_wrong_key_gets_401_json(client, app, ids, header):
    make_key(app, ids)
    headers = {} if header is None else {"Authorization": header}
    response = api_get(client, "/api/v1/sites/1001/members/sec@example.com", **headers)
    assert response.status_code == 401
    assert response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_gets_401_at_once_and_revoke_is_audited(client, app, ids):
    key_id, plain = make_key(app, ids)
    assert api_get(client, "/api/v1/sites/1001/members/sec@example.com", plain).status_code == 200
    with app.app_context():
        key = db.session.get(api.ApiKey, key_id)
        assert api.revoke_api_key(db.session.get(api.Person, ids["operator"]), key)
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "api_key.revoked")) == 1
    assert api_get(client, "/api/v1/sites/1001/members/sec@example.com", plain).status_code == 401
    assert api_get(client, "/api/v1/people/sec@example.com/sites", plain).status_code == 401


def test_expired_key_gets_401(client, app, ids):
    key_id, plain = make_key(app, ids, expires_at=utcnow() + timedelta(hours=1))
    assert api_get(client, "/api/v1/people/sec@example.com/sites", plain).status_code == 200
    with app.app_context():
        db.session.execute(sa.update(api.ApiKey).where(api.ApiKey.id == key_id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert api_get(client, "/api/v1/people/sec@example.com/sites", plain).status_code == 401


def test_key_cannot_be_created_already_expired_or_without_a_name(app, ids):
    with app.app_context():
        operator = db.session.get(api.Person, ids["operator"])
        with pytest.raises(api.RuleViolation) as refused:
            api.create_api_key(operator, "x", None, utcnow() - timedelta(minutes=1))
        assert refused.value.field == "expires_on"
        with pytest.raises(api.RuleViolation) as refused:
            api.create_api_key(operator, "   ", None)
        assert refused.value.field == "name"
        with pytest.raises(api.RuleViolation) as refused:
            api.create_api_key(operator, "x", [])
        assert refused.value.field == "customers"
        db.session.rollback()


def test_site_outside_scope_answers_exactly_like_an_unknown_site(client, app, ids):
    _key_id, plain = make_key(app, ids, customers=[ids["acme"]])
    outside = api_get(client, "/api/v1/sites/2002/members/sec@example.com", plain)
    unknown = api_get(client, "/api/v1/sites/9999/members/sec@example.com", plain)
    assert outside.status_code == unknown.status_code == 404
    assert outside.get_data() == unknown.get_data()
    assert dict(outside.headers) == dict(unknown.headers)
    assert api_get(client, "/api/v1/sites/1001/members/sec@example.com", plain).status_code == 200
    # The people lookup leaves the site outside the scope out.
    sites = api_get(client, "/api/v1/people/sec@example.com/sites", plain).get_json()["sites"]
    assert [site["site_number"] for site in sites] == ["1001"]


def test_scope_change_takes_effect_and_is_audited(client, app, ids):
    key_id, plain = make_key(app, ids, customers=[ids["acme"]])
    assert api_get(client, "/api/v1/sites/2002/members/sec@example.com", plain).status_code == 404
    with app.app_context():
        operator = db.session.get(api.Person, ids["operator"])
        assert api.set_api_key_scope(operator, db.session.get(api.ApiKey, key_id), [ids["beta"]])
        db.session.commit()
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "api_key.scope_changed"))
        assert (event.before, event.after) == ({"scope": ["Acme Corp"]}, {"scope": ["Beta Corp"]})
    assert api_get(client, "/api/v1/sites/2002/members/sec@example.com", plain).status_code == 200
    assert api_get(client, "/api/v1/sites/1001/members/sec@example.com", plain).status_code == 404


def test_rate_limit_answers_429_with_retry_after(client, app, ids, monkeypatch):
    monkeypatch.setattr(api, "REQUEST_LIMIT", (3, timedelta(minutes=1)))
    _key_id, plain = make_key(app, ids)
    other_id, other = make_key(app, ids, name="Other")
    for _ in range(3):
        assert api_get(client, "/api/v1/people/sec@example.com/sites", plain).status_code == 200
    refused = api_get(client, "/api/v1/people/sec@example.com/sites", plain)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The limit is per key, and counted in the database.
    assert api_get(client, "/api/v1/people/sec@example.com/sites", other).status_code == 200
    with app.app_context():
        api.flush_request_counts()  # this process writes its counts in batches (take_request)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(api.ThrottleEvent)
                                 .where(api.ThrottleEvent.kind == api.THROTTLE_KIND)) == 4


def test_api_sets_no_cookie_and_ignores_a_session_cookie(client, app, ids, auth):
    _key_id, plain = make_key(app, ids)
    auth.sign_in("operator@example.com")
    # A signed-in browser's cookie is not a key …
    response = api_get(client, "/api/v1/people/sec@example.com/sites")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    # … and an answer with a key neither sets nor refreshes a cookie.
    response = api_get(client, "/api/v1/people/sec@example.com/sites", plain)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    # The rest of the app still refuses a POST without its CSRF token.
    assert client.post("/operator/api-keys", data={"name": "x", "scope": "all"}).status_code == 400


def test_last_use_is_noted(client, app, ids):
    key_id, plain = make_key(app, ids)
    with app.app_context():
        assert db.session.get(api.ApiKey, key_id).last_used_at is None
    api_get(client, "/api/v1/people/sec@example.com/sites", plain)
    with app.app_context():
        assert db.session.get(api.ApiKey, key_id).last_used_at is not None


# --- the endpoints ------------------------------------------------------------------------------------

def test_member_lookup_gives_role_levels_support_and_provenance(client, app, ids):
    _key_id, plain = make_key(app, ids)
    body = api_get(client, "/api/v1/sites/1001/members/SEC@example.com", plain).get_json()
    assert body["site_number"] == "1001" and body["customer"] == "Acme Corp" and body["role"] == "secondary"
    assert body["tools"]["software"] == {"rank": 2, "key": "downloads_and_media", "name": "Downloads and media"}
    assert body["tools"]["manage_access"]["key"] == "view"
    assert body["tools"]["reporting"] == {"rank": 0, "key": "none", "name": "None"}
    assert body["support_level"] == {"rank": 3, "key": "administrator", "name": "Administrator"}
    assert body["granted_by"] == "primary@example.com"
    assert body["last_confirmed_at"] == "2026-03-01T12:00:00Z"
    assert body["granted_at"].endswith("Z")
    primary = api_get(client, "/api/v1/sites/1001/members/primary@example.com", plain).get_json()
    assert primary["role"] == "primary" and primary["support_level"]["key"] == "administrator"


@pytest.mark.parametrize("email", ["nobody@example.com", "primary.b@example.com", "unproven@example.com", "not an email"])
def test_member_lookup_404_for_a_non_member_or_unproven_account(client, app, ids, email):
    _key_id, plain = make_key(app, ids)
    response = api_get(client, f"/api/v1/sites/1001/members/{email}", plain)
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not found."}


def test_people_lookup_lists_every_site_in_scope(client, app, ids):
    _key_id, plain = make_key(app, ids)
    body = api_get(client, "/api/v1/people/sec@example.com/sites", plain).get_json()
    assert [(site["site_number"], site["role"]) for site in body["sites"]] == [("1001", "secondary"), ("2002", "user")]
    assert api_get(client, "/api/v1/people/nobody@example.com/sites", plain).get_json()["sites"] == []
    assert api_get(client, "/api/v1/people/unproven@example.com/sites", plain).get_json()["sites"] == []


def test_api_answers_json_for_an_unknown_address_and_a_post(client, app, ids):
    _key_id, plain = make_key(app, ids)
    response = client.get("/api/v1/nothing", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 404 and response.get_json()["error"]
    response = client.post("/api/v1/people/sec@example.com/sites", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 405 and response.get_json()["error"]


# --- the console --------------------------------------------------------------------------------------

@pytest.fixture
def operator(client, ids, auth):
    auth.sign_in("operator@example.com")
    return client


def test_console_creates_a_key_shown_once(operator, app, ids):
    page = operator.get("/operator/").get_data(as_text=True)
    assert "/operator/api-keys" in page
    response = operator.submit("/operator/api-keys", {"name": "License system", "scope": "customers",
                                                      "customers": [str(ids["acme"])], "expires_on": "2099-01-31"})
    assert response.status_code == 201
    shown = re.search(r'value="(sp_[^"]+)"', response.get_data(as_text=True)).group(1)
    listing = operator.get("/operator/api-keys").get_data(as_text=True)
    assert shown not in listing and shown[:11] in listing
    assert "License system" in listing and "Acme Corp" in listing and "operator@example.com" in listing
    assert "Feb 1, 2099" in listing  # the expiry (the end of the day chosen), in the reader's language and zone
    with app.app_context():
        key = db.session.scalar(sa.select(api.ApiKey))
        assert key.expires_at == datetime(2099, 2, 1) and not key.all_sites
    assert api_get(operator, "/api/v1/sites/1001/members/sec@example.com", shown).status_code == 200
    assert api_get(operator, "/api/v1/sites/2002/members/sec@example.com", shown).status_code == 404


@pytest.mark.parametrize("form, field", [
    ({"name": "", "scope": "all"}, "name"),
    ({"name": "x", "scope": "customers"}, "customers"),
    ({"name": "x", "scope": "all", "expires_on": "2001-01-01"}, "expires_on"),
    ({"name": "x", "scope": "all", "expires_on": "not a date"}, "expires_on"),
    ({"name": "x", "scope": "customers", "customers": ["987654"]}, "customers"),
])
def test_console_refuses_bad_input_next_to_the_field_and_creates_nothing(operator, app, form, field):
    response = operator.submit("/operator/api-keys", form)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(api.ApiKey)) == 0


def test_console_revokes_after_confirmation(operator, app, ids):
    key_id, plain = make_key(app, ids)
    confirm = operator.get(f"/operator/api-keys/{key_id}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.get_data(as_text=True)
    response = operator.submit(f"/operator/api-keys/{key_id}/revoke")
    assert response.status_code == 303 and response.location == "/operator/api-keys"
    assert "Revoked" in operator.get("/operator/api-keys").get_data(as_text=True)
    assert api_get(operator, "/api/v1/people/sec@example.com/sites", plain).status_code == 401
    with app.app_context():
        assert db.session.get(api.ApiKey, key_id).revoked_at is not None


def test_non_operator_is_refused_the_console(client, app, ids, auth):
    key_id, plain = make_key(app, ids)
    auth.sign_in("primary@example.com")
    assert client.get("/operator/api-keys").status_code == 403
    assert client.submit("/operator/api-keys", {"name": "x", "scope": "all"}).status_code == 403
    assert client.submit(f"/operator/api-keys/{key_id}/revoke").status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(api.ApiKey)) == 1
        assert db.session.get(api.ApiKey, key_id).revoked_at is None


@pytest.mark.parametrize("path", [
    "/api/v1/sites/1001/members/sec@example.com?x=a%00b", "/api/v1/sites/10%0001/members/sec@example.com",
    "/api/v1/people/a%00b/sites", "/api/v1/sites/%27%20OR%20%271%27=%271/members/%25",
    "/api/v1/people/" + "a" * 5000 + "/sites", "/api/v1/sites/%F0%9F%98%80/members/%E2%80%AE@example.com",
])
def test_odd_input_with_a_key_answers_json_never_500(client, app, ids, path):
    _key_id, plain = make_key(app, ids)
    response = client.get(path, headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code in (200, 400, 404)
    assert response.mimetype == "application/json" and "Set-Cookie" not in response.headers
    if response.status_code != 400:
        check_against_openapi(path, response)


# --- the lists for sync jobs: members (cursor), contacts, access at a moment -------------------------

@pytest.fixture
def crowd(app, ids, world):
    """Site A gets 7 more users: even ones with Software = Downloads only (1), odd ones with 3."""
    for number in range(7):
        world.member(ids["site_a"], f"user{number}@example.com", role="user",
                     levels={"software": 1 if number % 2 == 0 else 3})
    return ids


def _all_pages(client, plain, query, limit):
    emails, cursor, pages = [], None, 0
    while True:
        path = f"/api/v1/sites/1001/members?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        response = api_get(client, path, plain)
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["members"]) <= limit
        emails += [member["email"] for member in body["members"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return emails, pages


def test_member_list_pages_with_a_cursor_to_the_end(client, app, crowd):
    _key_id, plain = make_key(app, crowd)
    emails, pages = _all_pages(client, plain, "", 3)
    # Nine proven members (the unproven one is left out, as in the lookups), each once, in 3 pages.
    assert len(emails) == len(set(emails)) == 9 and pages == 3
    assert "unproven@example.com" not in emails and emails[0] == "primary@example.com"
    whole = api_get(client, "/api/v1/sites/1001/members", plain).get_json()
    assert [member["email"] for member in whole["members"]] == emails and whole["next_cursor"] is None
    assert whole["members"][1]["tools"]["software"]["key"] == "downloads_and_media"


def test_member_list_filters_by_tool_level_and_role(client, app, crowd):
    _key_id, plain = make_key(app, crowd)
    top = "downloads_media_quotes_product_catalogs_and_license_renewals"
    emails, _pages = _all_pages(client, plain, f"&tool=software&min_level={top}", 2)
    # The primary holds the top of every tool.
    assert sorted(emails) == ["primary@example.com", "user1@example.com", "user3@example.com", "user5@example.com"]
    emails, _pages = _all_pages(client, plain, "&tool=software&min_level=downloads_only&role=user", 100)
    assert len(emails) == 7
    emails, _pages = _all_pages(client, plain, "&tool=software&min_level=1&role=user", 100)
    assert len(emails) == 7
    # A tool alone: any level above its lowest.
    emails, _pages = _all_pages(client, plain, "&tool=manage_access", 100)
    assert sorted(emails) == ["primary@example.com", "sec@example.com"]
    emails, _pages = _all_pages(client, plain, "&role=secondary", 100)
    assert emails == ["sec@example.com"]


@pytest.mark.parametrize("query, parameter", [
    ("tool=nothing", "tool"), ("tool=software&min_level=admin", "min_level"), ("min_level=view", "min_level"),
    ("tool=software&min_level=9", "min_level"), ("role=owner", "role"), ("role=", "role"),
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=-1", "limit"), ("limit=1e2", "limit"), ("limit=", "limit"),
    ("limit=%C2%B2", "limit"), ("cursor=", "cursor"), ("cursor=%25", "cursor"), ("cursor=bTA", "cursor"),
    ("cursor=!!!!", "cursor"), ("cursor=" + "QUFB" * 50, "cursor"), ("cursor=%F0%9F%98%80", "cursor"),
    ("cursor=bS0x", "cursor"), ("cursor=bTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "cursor"), ("cursor=_w", "cursor"),
])
def test_member_list_refuses_a_bad_parameter_with_400_naming_it(client, app, ids, query, parameter):
    _key_id, plain = make_key(app, ids)
    response = api_get(client, f"/api/v1/sites/1001/members?{query}", plain)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter and response.get_json()["error"]


def test_lists_outside_the_scope_answer_like_an_unknown_site(client, app, ids):
    _key_id, plain = make_key(app, ids, customers=[ids["acme"]])
    for tail in ("members", "contacts", "access?at=2026-03-01T00:00:00Z"):
        outside = api_get(client, f"/api/v1/sites/2002/{tail}", plain)
        unknown = api_get(client, f"/api/v1/sites/9999/{tail}", plain)
        assert outside.status_code == unknown.status_code == 404
        assert outside.get_data() == unknown.get_data() and dict(outside.headers) == dict(unknown.headers)
        assert api_get(client, f"/api/v1/sites/1001/{tail}", plain).status_code == 200


def test_contacts_give_the_holders_or_the_primary_acting_for_each_type(client, app, ids):
    _key_id, plain = make_key(app, ids)
    with app.app_context():
        from models import ContactRecord, ContactType
        renewal = db.session.scalar(sa.select(ContactType).where(ContactType.key == "renewal"))
        db.session.add(ContactRecord(site_id=ids["site_a"], first_name="Rita", last_name="Renew", phone="+4930123456",
                                     email="renewals@example.com", address="Hauptstr. 1", city="Berlin",
                                     subdivision="DE-BE", postal_code="10115", country="DE", types=[renewal]))
        db.session.commit()
    body = api_get(client, "/api/v1/sites/1001/contacts", plain).get_json()
    by_type = {entry["type"]: entry for entry in body["types"]}
    assert set(by_type) == {"technical", "administrative", "renewal", "media", "billing"}
    assert by_type["renewal"]["primary_acts"] is False
    assert [(c["email"], c["phone"], c["is_primary_contact"]) for c in by_type["renewal"]["contacts"]] == \
        [("renewals@example.com", "+4930123456", False)]
    assert by_type["billing"]["primary_acts"] is True
    assert [(c["email"], c["is_primary_contact"]) for c in by_type["billing"]["contacts"]] == \
        [("primary@example.com", True)]
    assert body["primary_contact"]["email"] == "primary@example.com"


def test_access_at_a_past_moment_comes_from_the_audit_log(client, app, ids, world):
    from models import membership as memberships
    from models.tool import tool_by_key
    from tests.views.test_reports import _shift_history
    _key_id, plain = make_key(app, ids)
    world.person("kim@example.com")
    with app.app_context():
        site = db.session.get(Site, ids["site_a"])
        primary = find_person("primary@example.com")
        software = tool_by_key("software").id
        memberships.add_member(site, primary, "kim@example.com", "user", "downloads", {software: 1})
        db.session.commit()
    # Everything so far happened two hours ago; Kim gets the top Software level now.
    _shift_history(app, 0, timedelta(hours=2))
    with app.app_context():
        site = db.session.get(Site, ids["site_a"])
        kim = db.session.scalar(sa.select(Membership).where(Membership.person_id == find_person("kim@example.com").id))
        memberships.update_member(site, find_person("primary@example.com"), kim, "user", {software: 3})
        db.session.commit()
    hour_ago = utcnow() - timedelta(hours=1)
    at = hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = api_get(client, f"/api/v1/sites/1001/access?at={at}", plain).get_json()
    members = {member["email"]: member for member in body["members"]}
    assert members["kim@example.com"]["tools"]["software"]["key"] == "downloads_only"
    assert members["kim@example.com"]["granted_by"] == "primary@example.com"
    assert members["primary@example.com"]["role"] == "primary"
    assert body["at"] == at
    # The same moment written in another zone.
    in_paris = (hour_ago + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + "%2B01:00"
    assert api_get(client, f"/api/v1/sites/1001/access?at={in_paris}", plain).get_json() == body
    now = api_get(client, "/api/v1/sites/1001/access?at=" + (utcnow() + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S") + "Z", plain)
    assert {m["email"]: m for m in now.get_json()["members"]}["kim@example.com"]["tools"]["software"]["rank"] == 3
    three_hours_ago = (utcnow() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api_get(client, f"/api/v1/sites/1001/access?at={three_hours_ago}", plain).get_json()["members"] == []


@pytest.mark.parametrize("at", [None, "", "2026-03-01", "2026-03-01T00:00:00", "yesterday", "2026-13-01T00:00:00Z",
                                "0001-01-01T00:00:00%2B23:59", "%00", "２０２６-03-01T00:00:00Z", "2026-03-01T00:00:00Z" * 5])
def test_access_refuses_a_moment_without_zone_or_garbled(client, app, ids, at):
    _key_id, plain = make_key(app, ids)
    path = "/api/v1/sites/1001/access" + ("" if at is None else f"?at={at}")
    response = client.get(path, headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 400 and response.mimetype == "application/json"
    if "%00" not in path:
        check_against_openapi(path, response)
        assert response.get_json()["parameter"] == "at"


# --- the rate limit and last use, written in batches ------------------------------------------------

def test_601_requests_in_a_minute_get_a_429_with_retry_after(client, app, ids):
    _key_id, plain = make_key(app, ids)
    headers = {"Authorization": f"Bearer {plain}"}
    statuses = [client.get("/api/v1/sites/1001/members/sec@example.com", headers=headers).status_code
                for _ in range(600)]
    assert statuses == [200] * 600
    refused = api_get(client, "/api/v1/sites/1001/members/sec@example.com", plain)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60


def test_api_requests_write_in_batches_and_last_use_once_a_minute(client, app, ids):
    """Each API GET used to take SQLite's write lock (a rate-limit row and last_used_at); now a
    process writes its counts every COUNT_BATCH requests (or after COUNT_DELAY) in one transaction."""
    key_id, plain = make_key(app, ids)
    headers = {"Authorization": f"Bearer {plain}"}
    statements = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_args):
        statements.append(statement)

    client.get("/api/v1/sites/1001/members/sec@example.com", headers=headers)
    with app.app_context():
        first_use = db.session.get(api.ApiKey, key_id).last_used_at
    assert first_use is not None
    sa.event.listen(engine, "before_cursor_execute", note)
    started = utcnow()
    try:
        for _ in range(100):
            assert client.get("/api/v1/sites/1001/members/sec@example.com", headers=headers).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    seconds = (utcnow() - started).total_seconds()
    # Each write is one INSERT of the waiting counts (whatever the engine: SQLite's BEGIN IMMEDIATE has no
    # PostgreSQL counterpart to look for).
    writes = [statement for statement in statements if statement.lstrip().upper().startswith("INSERT INTO THROTTLE_EVENT")]
    assert 1 <= len(writes) <= 100 // api.COUNT_BATCH + seconds / api.COUNT_DELAY.total_seconds() + 1
    with app.app_context():
        assert db.session.get(api.ApiKey, key_id).last_used_at == first_use
        api.flush_request_counts()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(api.ThrottleEvent)
                                 .where(api.ThrottleEvent.key == str(key_id))) == 101


def test_rate_limit_over_two_processes_stays_within_its_documented_bound(client, app, ids, database_uri, smtp,
                                                                         monkeypatch):
    """Two apps on one database stand for two worker processes: each writes its counts in batches,
    so together they let through at most the limit plus COUNT_BATCH - 1 per other process."""
    from tests.helpers.apps import make_test_app
    monkeypatch.setattr(api, "REQUEST_LIMIT", (50, timedelta(minutes=1)))
    key_id, plain = make_key(app, ids)
    headers = {"Authorization": f"Bearer {plain}"}
    other_app = make_test_app(database_uri, smtp)
    clients = [client, other_app.test_client()]
    allowed = sum(clients[number % 2].get("/api/v1/people/sec@example.com/sites", headers=headers).status_code == 200
                  for number in range(200))
    assert 50 <= allowed <= 50 + (api.COUNT_BATCH - 1)
    for each in (app, other_app):
        with each.app_context():
            api.flush_request_counts()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(api.ThrottleEvent)
                                 .where(api.ThrottleEvent.key == str(key_id))) == allowed
    with other_app.app_context():
        db.engine.dispose()


# --- the console: changing a key's scope -------------------------------------------------------------

def test_console_changes_a_keys_scope_audited_with_before_and_after(operator, app, ids):
    key_id, plain = make_key(app, ids)
    listing = operator.get("/operator/api-keys").get_data(as_text=True)
    assert f"/operator/api-keys/{key_id}/scope" in listing and "Change scope" in listing
    page = operator.get(f"/operator/api-keys/{key_id}/scope")
    assert page.status_code == 200 and "Beta Corp" in page.get_data(as_text=True)
    response = operator.submit(f"/operator/api-keys/{key_id}/scope",
                               {"scope": "customers", "customers": [str(ids["beta"])]})
    assert response.status_code == 303 and response.location == "/operator/api-keys"
    assert api_get(operator, "/api/v1/sites/1001/members/sec@example.com", plain).status_code == 404
    assert api_get(operator, "/api/v1/sites/2002/members/sec@example.com", plain).status_code == 200
    assert operator.submit(f"/operator/api-keys/{key_id}/scope", {"scope": "all"}).status_code == 303
    assert api_get(operator, "/api/v1/sites/1001/members/sec@example.com", plain).status_code == 200
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "api_key.scope_changed")
                                    .order_by(AuditEvent.id)).all()
        assert [(event.before, event.after) for event in events] == [
            ({"scope": []}, {"scope": ["Beta Corp"]}), ({"scope": ["Beta Corp"]}, {"scope": []})]
        assert all(event.actor_id == ids["operator"] and event.site_id is None for event in events)


@pytest.mark.parametrize("form, field", [
    ({"scope": "customers"}, "customers"),
    ({"scope": "customers", "customers": ["987654"]}, "customers"),
    ({"scope": "customers", "customers": ["x\u202e"]}, "customers"),
    ({"scope": "everything"}, "scope"),
    ({}, "scope"),
])
def test_console_refuses_a_bad_scope_next_to_the_field_and_changes_nothing(operator, app, ids, form, field):
    key_id, _plain = make_key(app, ids, customers=[ids["acme"]])
    response = operator.submit(f"/operator/api-keys/{key_id}/scope", form)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(api.ApiKey, key_id).scope == ["Acme Corp"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "api_key.scope_changed")) == 0


def test_scope_of_a_revoked_key_cannot_change(operator, app, ids):
    key_id, _plain = make_key(app, ids)
    assert operator.submit(f"/operator/api-keys/{key_id}/revoke").status_code == 303
    response = operator.submit(f"/operator/api-keys/{key_id}/scope", {"scope": "customers",
                                                                    "customers": [str(ids["acme"])]})
    assert response.status_code == 422 and 'id="scope-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(api.ApiKey, key_id).all_sites


def test_scope_form_is_for_operators_only_and_needs_csrf(client, app, ids, auth):
    key_id, _plain = make_key(app, ids)
    assert client.submit(f"/operator/api-keys/{key_id}/scope", {"scope": "all"}).status_code in (302, 303, 401)
    auth.sign_in("primary@example.com")
    assert client.get(f"/operator/api-keys/{key_id}/scope").status_code == 403
    assert client.submit(f"/operator/api-keys/{key_id}/scope",
                         {"scope": "customers", "customers": [str(ids["acme"])]}).status_code == 403
    auth.sign_in("operator@example.com")
    assert client.post(f"/operator/api-keys/{key_id}/scope",
                       data={"scope": "customers", "customers": [str(ids["acme"])]}).status_code == 400
    assert client.get("/operator/api-keys/987654/scope").status_code == 404
    with app.app_context():
        assert db.session.get(api.ApiKey, key_id).all_sites


def test_a_renamed_level_keeps_its_key(client, app, ids):
    """A level's display name is catalog data; the API names it by its key (migration 0014), which a
    rename leaves alone: the vendor's tools read and filter by what they read before."""
    _key_id, plain = make_key(app, ids)
    with app.app_context():
        software = db.session.scalar(sa.select(Tool).where(Tool.key == "software"))
        software.levels[2].name = "Herunterladen und Medien"
        db.session.commit()
    found = api_get(client, "/api/v1/sites/1001/members/sec@example.com", plain).get_json()
    assert found["tools"]["software"] == {"rank": 2, "key": "downloads_and_media", "name": "Herunterladen und Medien"}
    emails, _pages = _all_pages(client, plain, "&tool=software&min_level=downloads_and_media", 100)
    assert "sec@example.com" in emails


def test_every_level_of_the_catalog_has_a_key_unique_within_its_tool(app):
    with app.app_context():
        for tool in db.session.scalars(sa.select(Tool)):
            keys = [level.key for level in tool.levels]
            assert all(re.fullmatch(r"[a-z0-9_]+", key) for key in keys) and len(set(keys)) == len(keys), tool.key


def test_many_keys_making_a_request_now_and_then_share_one_write(client, app, ids, monkeypatch):
    """A key's requests wait for their batch; when the oldest waiting request of the process is due,
    every key's go in one write — many quiet applications cost one write a second, not one each."""
    keys = [make_key(app, ids, name=f"Tool {number}") for number in range(5)]
    path = "/api/v1/sites/1001/members/sec@example.com"
    for _key_id, plain in keys:  # the first use of each key is written at once (its last use)
        assert client.get(path, headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    monkeypatch.setattr(api, "COUNT_DELAY", timedelta(hours=1))
    statements = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        for _key_id, plain in keys:
            assert client.get(path, headers={"Authorization": f"Bearer {plain}"}).status_code == 200
        assert not [s for s in statements if s.lstrip().upper().startswith("INSERT INTO THROTTLE_EVENT")]
        monkeypatch.setattr(api, "COUNT_DELAY", timedelta(0))  # the oldest waiting request is now due
        assert client.get(path, headers={"Authorization": f"Bearer {keys[0][1]}"}).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO THROTTLE_EVENT")]
    assert len(inserts) == 1
    with app.app_context():
        counted = dict(db.session.execute(sa.select(api.ThrottleEvent.key, sa.func.count())
                                          .where(api.ThrottleEvent.kind == api.THROTTLE_KIND)
                                          .group_by(api.ThrottleEvent.key)).all())
    assert counted == {str(key_id): (3 if number == 0 else 2) for number, (key_id, _plain) in enumerate(keys)}
