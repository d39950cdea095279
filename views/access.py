"""Who may open a page: operators, members of the site in the URL at a level, accounts whose address is
not confirmed yet. The refusals are the same everywhere: 404 for a site one is a stranger to (its
existence is not told), 403 below the level, Sign in for the signed-out."""
from __future__ import annotations

import functools

from flask import abort, g, render_template, request, url_for
from flask_login import current_user, login_required
from htmx_flask import make_response as htmx_response

from models import Site, db
from models.membership import PRIMARY, VIEW, Membership, holds, membership_of
from models.support import may_manage_support

from .extensions import login_manager


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


# --- the site in the URL ------------------------------------------------------------------------

def _site_access(site_id: int) -> tuple[Site, Membership | None]:
    """Return the site in the URL and the signed-in person's membership of it, read afresh.

    Someone who is neither a member nor an operator gets 404: a site's existence is not told.
    """
    site = db.session.get(Site, site_id)
    if site is None:
        abort(404)
    membership = membership_of(current_user, site.id)
    if membership is None and not current_user.is_operator:
        abort(404)
    return site, membership


def require_level(membership: Membership | None, tool_key: str, rank: int) -> None:
    """Refuse (403) one who does not hold `rank` on the tool; operators (no membership) may view
    (rank 1) everything of every site, and change nothing through member pages."""
    if membership is None:
        if rank > VIEW:
            abort(403)
        return
    if not holds(membership, tool_key, rank):
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
    and the site navigation is told which site and membership it shows."""

    def decorate(view):
        @functools.wraps(view)
        @login_required
        def wrapped(site_id, **kwargs):
            site, membership = _site_access(site_id)
            if member_only and membership is None:
                abort(404)
            if tool is not None:
                require_level(membership, tool, level)
            if allow is not None and not allow(membership):
                abort(403)
            show_site_navigation(site, membership)
            return view(site, membership, **kwargs)

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
