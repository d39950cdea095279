"""Answering with HTML: a full page or, for htmx, its fragment (render); a refused change shown next to
its field; what every page's navigation needs.

HX-Trigger events: a view sends one only for an element that listens for it (hx-trigger="NAME from:body"),
with its name defined once, here, and given to the listening template. None is sent today: a change
swaps what it changes itself (out of band where it shows elsewhere), and the requests badge polls.
"""
from __future__ import annotations

import functools
from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask import current_app, g, has_request_context, render_template, request, url_for
from babel import dates
from flask_babel import get_locale, get_timezone, get_translations
from jinja2 import pass_context
from markupsafe import Markup
from flask_login import current_user

from models import RuleViolation
from models.access_request import pending_counts
from models.contact import address_form, postal_address
from models.invitation import STATE_LABELS
from models.membership import ROLE_LABELS
from models.roles import ROLE_IN_SENTENCE
from models.support import may_manage_support

from .access import may_open, my_memberships as memberships_of_reader


def render(page_template: str, fragment: str | None = None, status: int = 200, **context):
    """Render the fragment for an htmx request and the full page otherwise, from the same pieces: the one
    way every view answers with HTML (no fragment: the page, whoever asks)."""
    template = fragment if (fragment and request.htmx) else page_template
    response = current_app.make_response((render_template(template, **context), status))
    response.vary.add("HX-Request")
    return response


def url_pattern(endpoint: str, name: str, **values):
    """Return a function id -> url_for(endpoint, **values, <name>=id) that builds the URL without a
    url_for (route matching, converters, quoting) per call: a list's rows link by id, the sidebar links
    its pages by site. The URL's shape is kept per process (it depends only on the routes)."""
    head, tail = _url_shape(endpoint, name, tuple(sorted(values.items())), request.script_root)
    return lambda value: f"{head}{int(value)}{tail}"


_SENTINEL = 918273645


@functools.lru_cache(maxsize=4096)
def _url_shape(endpoint: str, name: str, values: tuple, _script_root: str) -> tuple[str, str]:
    head, _found, tail = url_for(endpoint, **dict(values), **{name: _SENTINEL}).partition(str(_SENTINEL))
    return head, tail


def apply_rule_violation(form, violation: RuleViolation) -> None:
    """Show a refused change next to the field it concerns (or above the form)."""
    field = getattr(form, violation.field, None) if violation.field else None
    if field is not None:
        field.errors = list(field.errors or []) + [str(violation.message)]
    else:
        form.form_errors.append(str(violation.message))


def register_template_globals(app) -> None:
    """Give every template the navigation's functions, the labels it shows and the link helpers."""

    @app.context_processor
    def navigation():
        def my_memberships():
            signed_in = has_request_context() and current_user.is_authenticated
            return memberships_of_reader() if signed_in else []

        # Functions, not values: only the full page's navigation calls them, never an htmx fragment.
        def sets_support():
            return may_manage_support(g.get("membership"))

        return {"my_memberships": my_memberships, "sets_support": sets_support,
                "html_lang": str(get_locale() or "en").replace("_", "-"), "role_labels": ROLE_LABELS,
                "role_in_sentence": ROLE_IN_SENTENCE, "invitation_states": STATE_LABELS, "site_nav": site_nav}

    app.context_processor(reader_language)
    app.jinja_env.globals["external_url"] = external_url
    app.jinja_env.globals["url_pattern"] = url_pattern
    app.jinja_env.globals["address_form"] = address_form
    app.jinja_env.globals["postal_address"] = postal_address
    app.jinja_env.globals["time_zone_name"] = time_zone_name
    app.jinja_env.filters["datetime"] = format_moment
    app.jinja_env.filters["date"] = format_day_in_template


# --- times as the reader sees them: the one place that formats them ---------------------------------

def time_zone_name() -> str:
    """The IANA name of the reader's time zone (the person's, a mail recipient's, else the instance's)."""
    return str(get_timezone())


def format_moment(value, seconds: bool = False, zone: bool = False) -> str:
    """A stored time (naive UTC) in the reader's time zone and language: to the minute, or to the second
    where it must stay exact (audit log, reports on a past moment); `zone` names the zone after it."""
    if value is None:
        return ""
    locale, tz = get_locale(), get_timezone()
    if seconds:
        text = dates.format_datetime(value, "medium", tzinfo=tz, locale=locale)
    else:
        # The language's own way of joining a date and a time (CLDR), with the time to the minute.
        pattern = dates.get_datetime_format("medium", locale=locale).replace("'", "")
        text = pattern.replace("{1}", dates.format_date(_local(value, tz), "medium", locale=locale)) \
            .replace("{0}", dates.format_time(value, "short", tzinfo=tz, locale=locale))
    return f"{text} {tz}" if zone else text


def reader_language() -> dict:
    """The reader's catalog and date format bound once per template rendered (issue 15): a template's
    `_`, gettext, ngettext and |date use them instead of finding the locale through Flask-Babel's
    request context at every call. The same catalog and zone as Flask-Babel's (get_translations,
    get_timezone: a mail's forced ones while it renders); the same new-style formatting as jinja2.ext
    (`%(name)s` placeholders, escaped under autoescape). Templates imported without context keep
    Flask-Babel's callables, which answer the same."""
    catalog = get_translations()
    translate, translate_plural = catalog.ugettext, catalog.ungettext

    @pass_context
    def gettext(context, string, **variables):
        text = translate(string)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    @pass_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)
        text = translate_plural(singular, plural, num)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    locale, tz = get_locale(), get_timezone()
    return {"gettext": gettext, "ngettext": ngettext, "reader_day": lambda value: _day(value, locale, tz)}


@pass_context
def format_day_in_template(context, value) -> str:
    """The |date filter: format_day with the reader's locale and zone bound for this template (reader_language)."""
    day = context.get("reader_day")
    return day(value) if day is not None else format_day(value)


def format_day(value) -> str:
    """A stored time's day (in the reader's time zone) or a date, in the reader's language."""
    return _day(value, get_locale(), get_timezone())


def _day(value, locale, tz) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value, tz).date()
    return _written_day(value, locale)


@functools.lru_cache(maxsize=8192)
def _written_day(day, locale) -> str:
    # A day is written the same way in a language every time: kept per process (a list shows many).
    return dates.format_date(day, "medium", locale=locale)


def _local(value: datetime, tz) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(tz)


def N_(message: str) -> str:
    """Mark a message for extraction (one of Babel's default keywords) that is translated when shown."""
    return message


# The site sidebar, grouped by what people do there: (group heading or None, ((endpoint, page name), …)).
SITE_PAGES = (
    (N_("People"), (("members.index", N_("User list")), ("members.new", N_("Add new user")),
                    ("requests.index", N_("Requests")), ("profiles.index", N_("Access profiles")),
                    ("review.index", N_("Access review")))),
    (N_("Contacts"), (("contacts.index", N_("Site contacts")), ("contacts.manage", N_("Contact updates")))),
    (N_("Records"), (("reports.audit", N_("Audit log")), ("reports.access", N_("Reports")),
                     ("documents.index", N_("Documents")))),
    (None, (("support.index", N_("Support access")), ("my_access.show", N_("My access")))),
    (N_("Operator"), (("operator.site", N_("Recovery, invitations and coverage")),)),
)


def site_nav() -> dict | None:
    """What the site sidebar offers the signed-in person on the site being shown (told by
    access.show_site_navigation): the pages whose own guard lets them in (access.may_open), grouped,
    the current one marked, and the counts that call for action (pending requests and support requests)."""
    if not has_request_context() or "site" not in g:
        return None
    site, membership = g.site, g.membership
    # The reader's catalog once, not Flask-Babel's lookups once per name (17 of them on every page).
    translate = get_translations().ugettext
    groups = []
    for heading, pages in SITE_PAGES:
        links = [{"endpoint": endpoint, "name": translate(name), "url": url_pattern(endpoint, "site_id")(site.id),
                  "current": request.endpoint == endpoint}
                 for endpoint, name in pages if may_open(endpoint, membership)]
        if links:
            groups.append({"heading": translate(heading) if heading else None, "links": links})
    shown = {link["endpoint"] for group in groups for link in group["links"]}
    pending, support_pending = pending_counts(site.id, "requests.index" in shown, "support.index" in shown)
    return {"site": site, "groups": groups, "start_current": request.endpoint == "sites.start",
            "pending": pending, "support_pending": support_pending}


def external_url(endpoint: str, **values) -> str:
    """Build an absolute link for mail from BASE_URL, never from the request's Host header."""
    current_app.inject_url_defaults(endpoint, values)
    return _base_url_adapter(current_app._get_current_object()).build(endpoint, values, force_external=True)


def _base_url_adapter(app):
    """The app's routes bound to BASE_URL once per process (a test request context per link cost
    ~0.2 ms, two or three links in every mail)."""
    adapter = app.extensions.get("sitepass_base_url_adapter")
    base = urlsplit(app.config["BASE_URL"].rstrip("/") + "/")
    key = (base.scheme, base.netloc, base.path)
    if adapter is None or adapter[0] != key:
        adapter = app.extensions["sitepass_base_url_adapter"] = (
            key, app.url_map.bind(base.netloc, script_name=base.path, url_scheme=base.scheme))
    return adapter[1]
