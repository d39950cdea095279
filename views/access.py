"""Who may open a page: the session's person (loaded, signed in, sent to Sign in), operators, members
of the site in the URL at a level, accounts whose address is not confirmed yet. The refusals are the
same everywhere: 404 for a site one is a stranger to (its existence is not told), 403 below the
level, Sign in for the signed-out."""
from __future__ import annotations

import functools
import time

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user
from htmx_flask import make_response as htmx_response

from models import Person, Site, db
from models.membership import PRIMARY, VIEW, Membership, holds, memberships_of
from models.support import may_manage_support

from .extensions import SESSION_LANGUAGE, login_manager
from .parsing import id_from, whole_number


def operator_required(view):
    """Let only signed-in operators through (403 for everyone else)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)

    wrapped.may_open = lambda _membership: current_user.is_operator
    return wrapped


def may_open(endpoint: str, membership: Membership | None) -> bool:
    """Whether the signed-in person may open the page of `endpoint` on the site being shown, asked of
    the very guard that the page's view runs (site_view, operator_required): the site navigation shows
    a link only when this is True, so a link is shown exactly when following it is let through."""
    view = current_app.view_functions.get(endpoint)
    guard = getattr(view, "may_open", None)
    return guard is not None and guard(membership)


# --- the site in the URL ------------------------------------------------------------------------

def my_memberships() -> list[Membership]:
    """The signed-in person's memberships with their sites and privileges (models memberships_of), read
    from the database once per request: what the site in the URL is checked against (_site_access) and
    what the top bar's site switcher lists. A request that changes things (not GET/HEAD) reads them
    again when asked after the change, so the page it answers with shows the change."""
    if not current_user.is_authenticated:
        return []
    cached = g.get("my_memberships")
    if cached is None or (request.method not in ("GET", "HEAD") and g.get("my_memberships_used")):
        cached = g.my_memberships = memberships_of(current_user)
    g.my_memberships_used = True
    return cached


def _site_access(site_id: int) -> tuple[Site, Membership | None]:
    """Return the site in the URL and the signed-in person's membership of it, read afresh (this request).

    Someone who is neither a member nor an operator gets 404: a site's existence is not told.
    """
    g.pop("my_memberships", None)
    membership = next((m for m in my_memberships() if m.site_id == site_id), None)
    g.my_memberships_used = False
    site = membership.site if membership is not None else db.session.get(Site, site_id)
    if site is None:
        abort(404)
    if membership is None and not current_user.is_operator:
        abort(404)
    return site, membership


def level_suffices(membership: Membership | None, tool_key: str, rank: int) -> bool:
    """Whether one holds `rank` on the tool; operators (no membership) may view (rank 1) everything of
    every site, and change nothing through member pages."""
    if membership is None:
        return rank <= VIEW
    return holds(membership, tool_key, rank)


def require_level(membership: Membership | None, tool_key: str, rank: int) -> None:
    """Refuse (403) one who does not hold `rank` on the tool (level_suffices)."""
    if not level_suffices(membership, tool_key, rank):
        abort(403)


# Who else a site page lets in, beyond a level on a tool: each answers for the membership (None for an
# operator who is not a member), and a False is a 403.
def is_primary(membership: Membership | None) -> bool:
    """The site's primary contact."""
    return membership is not None and membership.role == PRIMARY


def is_uploader(membership: Membership | None) -> bool:
    """Who uploads and deletes account documents: operators and the site's primary."""
    return current_user.is_operator or is_primary(membership)


def looks_at_support(membership: Membership | None) -> bool:
    """Who sees Support access: the support managers, and operators (who change nothing there)."""
    return membership is None or may_manage_support(membership)


def site_view(tool: str | None = None, level: int = VIEW, *, allow=None, member_only: bool = False):
    """Decorate a route under /sites/<site_id>: sign-in required, the site loaded (404 for an unknown
    one or one the person is a stranger to), the level on `tool` checked (403 below it; no tool: any
    member or operator), then `allow(membership)` (403 when False); `member_only` answers 404 to an
    operator who is not a member. The view is called as view(site, membership, **other URL values),
    and the site navigation is told which site and membership it shows. The same check, as
    `view.may_open(membership)`, decides whether the navigation links to the page (may_open)."""

    def refusal(membership: Membership | None) -> int | None:
        if member_only and membership is None:
            return 404
        if tool is not None and not level_suffices(membership, tool, level):
            return 403
        if allow is not None and not allow(membership):
            return 403
        return None

    def decorate(view):
        @functools.wraps(view)
        @login_required
        def wrapped(site_id, **kwargs):
            site, membership = _site_access(site_id)
            if (code := refusal(membership)) is not None:
                abort(code)
            show_site_navigation(site, membership)
            return view(site, membership, **kwargs)

        wrapped.may_open = lambda membership: refusal(membership) is None
        return wrapped

    return decorate


def show_site_navigation(site: Site, membership: Membership | None) -> None:
    """Tell the site navigation (views.rendering.site_nav) which site it is for and what the person holds."""
    g.site, g.membership = site, membership


def of_site(model, object_id: int, site):
    """Load an object by the id in the URL, only if it belongs to the site in the URL (404 otherwise)."""
    found = db.session.get(model, object_id)
    if found is None or found.site_id != site.id:
        abort(404)
    return found


# --- sessions ------------------------------------------------------------------------------------

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
    """Begin a fresh session for a person who just proved who they are (keeping the language they picked)."""
    language = session.get(SESSION_LANGUAGE)
    session.clear()
    if language is not None:
        session[SESSION_LANGUAGE] = language
    login_user(person)
    now = int(time.time())
    session["signed_in_at"] = now
    session["seen_at"] = now
    session.permanent = True


# --- accounts whose address is not confirmed ----------------------------------------------------

# What an account whose email is not verified may use: its own account and the ways to prove the
# address (confirmation, a reset link, an invitation link). Every site page, fragment and mail link
# beyond these treats it as the stranger it is.
OPEN_TO_UNVERIFIED = frozenset({"static", "auth", "invitations", "settings", "sites.index"})


def unconfirmed_refusal():
    """Refuse an unverified account with a page that says how to confirm the address (403)."""
    if request.htmx:
        return htmx_response("", 403, redirect=url_for("sites.index"))
    return render_template("errors/unconfirmed.html"), 403
