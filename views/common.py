"""What every blueprint shares: page-or-fragment rendering, form errors, site access checks,
sessions, security headers and error pages."""
from __future__ import annotations

import functools
import time
from urllib.parse import urlsplit

from flask import (abort, current_app, flash, g, has_request_context, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import SecurityError
from werkzeug.routing import IntegerConverter
from htmx_flask import make_response as htmx_response

from models import Person, RuleViolation, Site, db, write_intent
from models.membership import Membership, membership_of

from .extensions import login_manager

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])


# --- rendering ----------------------------------------------------------------------------------

def render(page_template: str, fragment: str | None = None, status: int = 200, **context):
    """Render the fragment for an htmx request and the full page otherwise, from the same pieces."""
    template = fragment if (fragment and request.htmx) else page_template
    response = current_app.make_response((render_template(template, **context), status))
    response.vary.add("HX-Request")
    return response


def apply_rule_violation(form, violation: RuleViolation) -> None:
    """Show a refused change next to the field it concerns (or above the form)."""
    field = getattr(form, violation.field, None) if violation.field else None
    if field is not None:
        field.errors = list(field.errors or []) + [str(violation.message)]
    else:
        form.form_errors.append(str(violation.message))


def safe_next(target: str | None, default: str) -> str:
    """Return a local path to continue to after sign-in; anything else falls back to the default."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# --- access -------------------------------------------------------------------------------------

def operator_required(view):
    """Let only signed-in operators through (403 for everyone else)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def site_access(site_id: int) -> tuple[Site, Membership | None]:
    """Return the site in the URL and the signed-in person's membership of it, read afresh.

    Someone who is neither a member nor an operator gets 404: a site's existence is not told.
    """
    site = db.session.get(Site, site_id)
    if site is None:
        abort(404)
    membership = membership_of(current_user, site.id)
    if membership is None and not current_user.is_operator:
        abort(404)
    g.site, g.membership = site, membership
    return site, membership


# --- sessions and headers -----------------------------------------------------------------------

@login_manager.user_loader
def load_person(session_id: str) -> Person | None:
    """Find the person of a session; a stale session version (signed out elsewhere) finds nobody."""
    person_id, _sep, version = session_id.partition(":")
    person_id, version = id_from(person_id), whole_number(version)
    if person_id is None or version is None:
        return None
    person = db.session.get(Person, person_id)
    if person is None or not person.active or person.session_version != version:
        return None
    return person


@login_manager.unauthorized_handler
def unauthorized():
    """Send the browser to Sign in; an htmx request gets HX-Redirect, not a page swapped into a cell."""
    target = url_for("auth.sign_in", next=request.full_path if request.method == "GET" else None)
    if request.htmx:
        return htmx_response("", 401, redirect=url_for("auth.sign_in"))
    flash(_("Please sign in to continue."), "info")
    return redirect(target, 303 if request.method == "POST" else 302)


def start_session(person: Person) -> None:
    """Begin a fresh session for a person who just proved who they are."""
    from flask_login import login_user

    session.clear()
    login_user(person)
    now = int(time.time())
    session["signed_in_at"] = now
    session["seen_at"] = now
    session.permanent = True


# What an account whose email is not verified may use: its own account and the ways to prove the
# address (confirmation, a reset link, an invitation link). Every site page, fragment and mail link
# beyond these treats it as the stranger it is.
OPEN_TO_UNVERIFIED = frozenset({"static", "auth", "invitations", "settings", "sites.index"})


def unconfirmed_refusal():
    """Refuse an unverified account with a page that says how to confirm the address (403)."""
    if request.htmx:
        return htmx_response("", 403, redirect=url_for("sites.index"))
    return render_template("errors/unconfirmed.html"), 403


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
        return render_template("errors/error.html", code=400, title=_("Bad request"), message=message), 400


def register_security(app) -> None:
    """Install the per-request checks and response headers."""

    @app.before_request
    def before_request():
        # Readers use a plain BEGIN; anything that may write takes the write lock up front.
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

    @app.context_processor
    def navigation():
        from flask_babel import get_locale

        from models.invitation import STATE_LABELS
        from models.membership import ROLE_LABELS, memberships_of

        def my_memberships():
            signed_in = has_request_context() and current_user.is_authenticated
            return memberships_of(current_user) if signed_in else []

        # Functions, not values: only the full page's navigation calls them, never an htmx fragment.
        def sets_support():
            from models.support import may_manage_support

            return may_manage_support(g.get("membership"))

        return {"my_memberships": my_memberships, "sets_support": sets_support, "html_lang": str(get_locale() or "en"), "role_labels": ROLE_LABELS,
                "invitation_states": STATE_LABELS, "site_nav": _site_nav}

    app.jinja_env.globals["external_url"] = external_url
    from models.contact import subdivisions_of
    app.jinja_env.globals["subdivisions_of"] = subdivisions_of
    app.jinja_env.globals["args_with"] = args_with


def _site_nav() -> dict | None:
    """What the site navigation offers the signed-in person on the site in the URL (set by site_access)."""
    from models.membership import UPDATE, VIEW, holds
    from models.tool import MANAGE_ACCESS

    if not has_request_context() or "site" not in g:
        return None
    membership = g.membership
    operator = current_user.is_operator
    from models.access_request import pending_count
    from models.support import may_manage_support, pending_support_count
    from models.tool import CONTACT_UPDATES, DOCUMENTS, REPORTING

    manage_update = holds(membership, MANAGE_ACCESS, UPDATE)
    return {"site": g.site, "member": membership is not None,
            "manage_view": operator or holds(membership, MANAGE_ACCESS, VIEW),
            "manage_update": manage_update, "pending": pending_count(g.site.id) if manage_update else 0,
            "contacts_view": operator or holds(membership, CONTACT_UPDATES, VIEW),
            "reporting": operator or holds(membership, REPORTING, VIEW),
            "documents": operator or holds(membership, DOCUMENTS, VIEW),
            "support": (support := operator or may_manage_support(membership)),
            "support_pending": pending_support_count(g.site.id) if support else 0,
            "review": operator or holds(membership, MANAGE_ACCESS, VIEW)}


def args_with(**changes) -> str:
    """The current query string with some arguments replaced (for pagination links)."""
    from urllib.parse import urlencode

    args = request.args.to_dict()
    args.update({key: value for key, value in changes.items()})
    return urlencode({key: value for key, value in args.items() if value not in (None, "")})


def external_url(endpoint: str, **values) -> str:
    """Build an absolute link for mail from BASE_URL, never from the request's Host header."""
    base = current_app.config["BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base + "/"):
        return url_for(endpoint, _external=True, **values)


# --- errors -------------------------------------------------------------------------------------

def register_error_pages(app) -> None:
    """Friendly pages for 400/403/404/410/500; htmx requests with a stale token reload the page."""

    @app.errorhandler(SecurityError)
    def untrusted_host(_error):
        # No page: without a trusted host Flask cannot build the URLs a page needs.
        return "Bad request: unknown host.", 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if request.htmx:
            # htmx does not swap a 400; a reload fetches a page with a fresh token.
            return htmx_response("", 400, refresh=True)
        return render_template("errors/error.html", code=400, title=_("The form has expired"),
                               message=_("Reload the page and try again.")), 400

    messages = {
        400: (lambda: _("Bad request"), lambda: _("The request could not be understood.")),
        403: (lambda: _("Not allowed"), lambda: _("You do not have permission to do this.")),
        404: (lambda: _("Not found"), lambda: _("There is nothing here. Check the address.")),
        405: (lambda: _("Not allowed"), lambda: _("This address does not accept that kind of request.")),
        413: (lambda: _("Too large"), lambda: _("The upload is larger than allowed.")),
        500: (lambda: _("Something went wrong"), lambda: _("The error was logged. Try again in a moment.")),
    }

    def make_handler(code):
        def handler(_error):
            if code == 500:
                db.session.rollback()
            title, message = messages[code]
            return render_template("errors/error.html", code=code, title=title(), message=message()), code
        return handler

    for code in messages:
        app.register_error_handler(code, make_handler(code))


# --- numbers from a request -------------------------------------------------------------------

# The largest id a database integer column holds (PostgreSQL `integer`); SQLite would take more, so
# the bound is the portable one.
MAX_ID = 2**31 - 1
# No list has this many pages; bounds the OFFSET a page number turns into.
MAX_PAGE = 10**6


class IdConverter(IntegerConverter):
    """The `<int:...>` of every route: ASCII digits up to MAX_ID; any other value names nothing (404)
    instead of reaching the database, whose integer it would overflow."""

    regex = r"[0-9]+"

    def __init__(self, url_map, *args, **options):
        # A route may lower the bound, never raise it past MAX_ID.
        options["max"] = min(options.get("max") or MAX_ID, MAX_ID)
        super().__init__(url_map, *args, **options)


def whole_number(text, *, maximum: int = MAX_ID) -> int | None:
    """Read a whole number written in ASCII digits, 0 to `maximum`; None for anything else.

    `str.isdigit()` is not enough: it accepts "²" or "٣", which int() refuses or reads, and it sets no
    bound, so a 30-digit number reached the database and overflowed its integer.
    """
    if not isinstance(text, str) or not text or len(text) > len(str(maximum)):
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= maximum else None


def id_from(text) -> int | None:
    """Read an object id from a form field or query parameter: 1 to MAX_ID, None when absent or garbled
    (an id that names nothing is then the caller's 404 or field message)."""
    value = whole_number(text)
    return value if value else None


def ids_from(texts) -> list[int]:
    """Read a list field of ids (e.g. the selected rows); garbled entries name nothing and are left out."""
    return [value for value in map(id_from, texts) if value is not None]


def submitted_levels(form, tools, prefix: str = "tool_") -> dict[int, int]:
    """The levels a refused form showed, to render it again as sent (0 where absent or garbled)."""
    return {tool.id: whole_number(form.get(f"{prefix}{tool.id}")) or 0 for tool in tools}


def page_number() -> int:
    """Return the requested page of a paginated list: 1 when absent, malformed or below 1; a number
    past MAX_PAGE counts as MAX_PAGE (the list then clamps it to its last page: clamped_pagination,
    clamped_rows)."""
    raw = (request.args.get("page") or "").strip()
    if raw.isascii() and raw.isdigit() and whole_number(raw, maximum=MAX_PAGE) is None:
        return MAX_PAGE
    return max(1, whole_number(raw, maximum=MAX_PAGE) or 1)


def clamped_pagination(fetch, page: int):
    """Return fetch(page), a Flask-SQLAlchemy Pagination; a page past the end gives the last page."""
    result = fetch(page)
    if page > max(1, result.pages):
        result = fetch(max(1, result.pages))
    return result


def clamped_rows(fetch, page: int, per_page: int) -> tuple[list, int, int]:
    """Return (rows, total, page) of fetch(page) -> (rows, total); a page past the end gives the last page."""
    rows, total = fetch(page)
    last = max(1, -(-total // per_page))
    if page > last:
        page = last
        rows, total = fetch(page)
    return rows, total, page


def of_site(model, object_id: int, site):
    """Load an object by the id in the URL, only if it belongs to the site in the URL (404 otherwise)."""
    found = db.session.get(model, object_id)
    if found is None or found.site_id != site.id:
        abort(404)
    return found


def site_permission(site_id: int, tool_key: str, rank: int):
    """Return (site, membership) when the signed-in person holds `rank` on a tool of this site.

    Non-members get 404 (see site_access); members below the level get 403. Operators may view
    (rank 1) everything of every site, and change nothing through member pages.
    """
    from models.membership import holds

    site, membership = site_access(site_id)
    if membership is None:
        if rank <= 1:
            return site, None
        abort(403)
    if not holds(membership, tool_key, rank):
        abort(403)
    return site, membership


def levels_from_form(form, tools, prefix: str = "tool_") -> dict[int, int]:
    """Read one level per tool from fields named tool_<id>; a missing or garbled value is refused."""
    levels = {}
    for tool in tools:
        raw = form.get(f"{prefix}{tool.id}")
        if raw is None or raw == "":
            continue
        rank = whole_number(raw)
        if rank is None:
            raise RuleViolation(str(_("Choose a level.")), f"{prefix}{tool.id}")
        levels[tool.id] = rank
    return levels
