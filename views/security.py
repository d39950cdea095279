"""What every request passes through: NUL characters refused, the session's idle and absolute limits,
the write intent of the transaction, the unconfirmed-account fence, and the security headers."""
from __future__ import annotations

import time

from flask import current_app, jsonify, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from models import write_intent

from .access import OPEN_TO_UNVERIFIED, unconfirmed_refusal
from .extensions import login_manager

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The session's last activity moves on at most once in this many seconds: the cookie is then rewritten
# once a minute rather than on every request, and the idle limit ends a session at most that much early.
SEEN_AT_STEP = 60

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    # Pico CSS draws the chevrons of selects and dropdowns and the checkmarks as data: SVG images.
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])


def field_with_nul() -> str | None:
    """Name the first query parameter or form field (name, value or uploaded file name) holding a NUL
    character, or "address" for the path; None when there is none."""
    if "\x00" in request.path:
        return "address"
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "")
    for name, upload in request.files.items(multi=True):
        if "\x00" in name or "\x00" in (upload.filename or ""):
            return name.replace("\x00", "")
    return None


def register_input_checks(app) -> None:
    """Refuse a request with a NUL character anywhere in its input (400): PostgreSQL refuses NUL in text
    and SQLite stores it, so no field accepts it, whatever the route."""

    @app.before_request
    def refuse_nul():
        field = field_with_nul()
        if field is None:
            return None
        message = _("“%(field)s” contains a NUL character, which no field accepts. Remove it and try again.",
                    field=field)
        if is_api_request():
            # The API answers in JSON, and has no session for the error page's form token.
            return jsonify({"error": message}), 400
        return render_template("errors/error.html", code=400, title=_("Bad request"), message=message), 400


# The JSON API (views/api.py) lives under this path: it authenticates with a key, never with a cookie.
API_PATH = "/api/"


def is_api_request() -> bool:
    """Tell whether the request is for the JSON API (by path: it holds for unknown API URLs too)."""
    return request.path.startswith(API_PATH)


class CookieSessionOutsideApi(SecureCookieSessionInterface):
    """Flask's signed-cookie session everywhere but the API: there a request gets Flask's null session,
    so a session cookie sent along is not read, and none is set or refreshed in the answer."""

    def open_session(self, app, request):
        if request.path.startswith(API_PATH):
            return self.make_null_session(app)
        return super().open_session(app, request)


def register_security(app) -> None:
    """Install the per-request checks and response headers."""
    app.session_interface = CookieSessionOutsideApi()

    @app.before_request
    def before_request():
        # Readers use a plain BEGIN; anything that may write takes the write lock up front. An API
        # GET reads too: the few writes of its key's rate-limit count take their own transaction
        # (models.api.take_request).
        write_intent.set(request.method not in SAFE_METHODS)
        if "_user_id" not in session:
            return None
        now = int(time.time())
        idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
        absolute = current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
        signed_in_at = session.get("signed_in_at", 0)
        seen_at = session.get("seen_at", 0)
        if now - seen_at > idle or now - signed_in_at > absolute or not current_user.is_authenticated:
            logout_user()
            session.clear()
            session["expired"] = True
            return login_manager.unauthorized()
        if now - seen_at >= SEEN_AT_STEP:
            session["seen_at"] = now
        if not current_user.is_verified and request.blueprint not in OPEN_TO_UNVERIFIED \
                and request.endpoint not in OPEN_TO_UNVERIFIED:
            return unconfirmed_refusal()
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        if request.endpoint != "static" and "_user_id" in session:
            response.headers["Cache-Control"] = "no-store"
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
        return response

    @app.teardown_request
    def forget_write_intent(_exc):
        write_intent.set(True)
