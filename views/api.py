"""The JSON API (`/api/v1`, issue 16): read-only lookups for the vendor's other tools, with a Bearer key.

No cookie is read or set here (views/security.py gives these requests no session) and no CSRF token
is needed: every route is a GET. The rules (which key, which site, what a member holds) are in
models/api.py; this module parses, calls one of them and answers JSON.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from flask import Blueprint, Response, g, jsonify, request
from flask_babel import gettext as _

from models import RuleViolation, db
from models import api

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The routes take no "//" as one "/": Werkzeug would answer it with an HTML redirect, not the API's JSON 404.

# The OpenAPI 3.1 document of this blueprint, written once beside it and served as is.
OPENAPI_PATH = Path(__file__).with_name("openapi.json")


def error(status: int, message: str, headers: dict | None = None) -> Response:
    """A JSON error: {"error": message} with the status."""
    response = jsonify({"error": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def bad_parameter(violation: RuleViolation) -> Response:
    """400 for a query parameter the API cannot use, naming it."""
    response = jsonify({"error": str(violation.message), "parameter": violation.field})
    response.status_code = 400
    return response


def not_found() -> Response:
    """The one answer for an unknown site, a site outside the key's scope and a person who is not a member."""
    return error(404, _("Not found."))


def key_required(view):
    """Let through a request with a usable key within its rate limit (401 or 429 otherwise); the
    view finds the key in g.api_key."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        key = api.authenticate(request.headers.get("Authorization"))
        if key is None:
            db.session.rollback()
            return error(401, _("A valid API key is required: send the header “Authorization: Bearer <key>”."),
                         {"WWW-Authenticate": 'Bearer realm="sitepass"'})
        wait = api.take_request(key)
        if wait is not None:
            return error(429, _("Too many requests for this API key. Try again in %(seconds)d seconds.",
                                seconds=wait), {"Retry-After": str(wait)})
        g.api_key = key
        return view(*args, **kwargs)

    return wrapped


@bp.after_request
def never_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sites/<site_number>/members/<email>", merge_slashes=False)
@key_required
def member(site_number, email):
    access = api.member_access(g.api_key, site_number, email)
    return jsonify(access) if access is not None else not_found()


@bp.get("/people/<email>/sites", merge_slashes=False)
@key_required
def person_sites(email):
    return jsonify({"email": email.strip().lower(), "sites": api.sites_of(g.api_key, email)})


@bp.get("/sites/<site_number>/members", merge_slashes=False)
@key_required
def members(site_number):
    """A page of a site's members for sync jobs: ?tool=&min_level=&role=&cursor=&limit=."""
    args = request.args
    try:
        page = api.list_site_members(g.api_key, site_number, tool=args.get("tool"), min_level=args.get("min_level"),
                                     role=args.get("role"), cursor=args.get("cursor"), limit=args.get("limit"))
    except RuleViolation as violation:
        return bad_parameter(violation)
    return jsonify(page) if page is not None else not_found()


@bp.get("/sites/<site_number>/contacts", merge_slashes=False)
@key_required
def contacts(site_number):
    found = api.site_contacts(g.api_key, site_number)
    return jsonify(found) if found is not None else not_found()


@bp.get("/sites/<site_number>/access", merge_slashes=False)
@key_required
def access(site_number):
    """Every member's access at a past moment (?at=ISO 8601 with zone), from the audit log."""
    try:
        found = api.access_at_moment(g.api_key, site_number, request.args.get("at"))
    except RuleViolation as violation:
        return bad_parameter(violation)
    return jsonify(found) if found is not None else not_found()


@functools.cache
def _openapi_text() -> str:
    return OPENAPI_PATH.read_text(encoding="utf-8")


@bp.get("/openapi.json")
def openapi():
    """The API's description; public (it names no data), so that a client can be generated from it."""
    return Response(_openapi_text(), mimetype="application/json")


def openapi_document() -> dict:
    """The OpenAPI document as a dict (for tests and tools)."""
    return json.loads(_openapi_text())
