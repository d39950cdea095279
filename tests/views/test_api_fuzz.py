"""Fuzzing the JSON API with a valid key (issue 16): hostile values in every path segment and query
parameter of every API route (any bytes, very long strings, unicode, NUL, path tricks) never answer
500 and always answer JSON; every answer the OpenAPI document describes matches it."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.views.test_api import check_against_openapi, ids, make_key  # noqa: F401 (ids is a fixture)

pytestmark = pytest.mark.fuzz

# Each route with plausible values; `{name}` marks where a path value goes.
ROUTES = {
    "member": ("/api/v1/sites/{site_number}/members/{email}", {"site_number": "1001", "email": "sec@example.com"}, {}),
    "person": ("/api/v1/people/{email}/sites", {"email": "sec@example.com"}, {}),
    "members": ("/api/v1/sites/{site_number}/members", {"site_number": "1001"},
                {"tool": "software", "min_level": "downloads_only", "role": "user", "cursor": "bTE", "limit": "2"}),
    "contacts": ("/api/v1/sites/{site_number}/contacts", {"site_number": "1001"}, {"x": "1"}),
    "access": ("/api/v1/sites/{site_number}/access", {"site_number": "1001"}, {"at": "2026-03-01T00:00:00Z"}),
    "openapi": ("/api/v1/openapi.json", {}, {"x": "1"}),
}
TARGETS = [(route, kind, name) for route, (_template, path, query) in ROUTES.items()
           for kind, names in (("path", path), ("query", query)) for name in names]

HOSTILE = ["", "%00", "\x00", "a\x00b", "..", "../..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "/", "//", "\\", "%",
           "%ZZ", "%FF%FE", "%C0%AE", "\u202e", "\ufeff", "😀", "²", "٣", "99999999999999999999999", "-1", "1e9",
           "0x10", " ", "\t\n", "'; DROP TABLE membership; --", "<script>alert(1)</script>", "{{7*7}}", "a" * 10000,
           "é" * 3000, "?", "#", "&", "=", "+", "null", "[]", "{}", "true"]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=300),
                   st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")))


def _path(route: str, kind: str, name: str, value: str, *, encode: bool) -> str:
    template, path_values, query = ROUTES[route]
    path_values, query = dict(path_values), dict(query)
    (path_values if kind == "path" else query)[name] = value
    url = template
    for key, plain in path_values.items():
        url = url.replace("{" + key + "}", quote(plain, safe="") if encode else plain)
    if query:
        url += "?" + "&".join(f"{quote(key, safe='')}={quote(plain, safe='') if encode else plain}"
                              for key, plain in query.items())
    return url


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(TARGETS), value=VALUES, encode=st.booleans())
@example(target=("members", "query", "cursor"), value="%00", encode=False)
@example(target=("member", "path", "email"), value="..%2F..%2Fapi%2Fv1%2Fopenapi.json", encode=False)
@example(target=("access", "query", "at"), value="9999-12-31T23:59:59-23:59", encode=True)
@example(target=("members", "query", "limit"), value="9" * 400, encode=True)
@example(target=("member", "path", "site_number"), value="0/", encode=False)  # "//": no HTML redirect
@example(target=("person", "path", "email"), value="?", encode=True)
def test_every_api_parameter_with_hostile_values_answers_json_never_500(api_client, target, value, encode):
    client, plain = api_client
    path = _path(*target, value, encode=encode)
    try:
        response = client.get(path, headers={"Authorization": f"Bearer {plain}"})
    except (ValueError, UnicodeError):
        # Werkzeug's test client refuses to build some raw URLs at all (no request was sent).
        return
    assert response.status_code < 500, (path, response.status_code)
    assert response.mimetype == "application/json", (path, response.status_code, response.mimetype)
    assert "Set-Cookie" not in response.headers
    body = response.get_json()
    assert isinstance(body, dict)
    if response.status_code in (200, 401, 404, 429) or (response.status_code == 400 and "parameter" in body):
        if response.request.path.startswith("/api/v1/") and response.status_code != 404:
            # The URL as sent (still percent-encoded): a decoded "?" in a path value is no query.
            check_against_openapi(path, response)


@pytest.fixture
def api_client(client, app, ids):  # noqa: F811
    app.config["API_REQUESTS_PER_MINUTE"] = 10**6
    _key_id, plain = make_key(app, ids)
    return client, plain
