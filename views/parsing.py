"""Reading a request: ids and whole numbers from the URL, query and form, page numbers, levels per
tool, and where to go after sign-in. Garbled input reads as None (the caller's 404 or field message),
never as an exception that would become a 500."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import pytz

from flask import request
from flask_babel import get_timezone
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from models import RuleViolation

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
    past MAX_PAGE counts as MAX_PAGE (the list then clamps it to its last page: views.pages.paged)."""
    raw = (request.args.get("page") or "").strip()
    if raw.isascii() and raw.isdigit() and whole_number(raw, maximum=MAX_PAGE) is None:
        return MAX_PAGE
    return max(1, whole_number(raw, maximum=MAX_PAGE) or 1)


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


def hand_set_tools(form) -> set[int] | None:
    """Read the level matrix's `manual` field: the ids of the tools whose level the person set by hand
    (kept by static/js/matrix.js). None when the form has no such field (a page without script counts
    every posted level as set by hand); garbled entries name nothing and are left out."""
    raw = form.get("manual")
    if raw is None:
        return None
    return set(ids_from(raw.replace(",", " ").split()[:100]))


def profile_choice(raw) -> int | None:
    """Read a chosen access profile: None for none chosen, 0 for a value that names none (refused)."""
    if raw is None or raw == "":
        return None
    return id_from(raw) or 0


def safe_next(target: str | None, default: str) -> str:
    """Return a local path to continue to after sign-in; anything else falls back to the default."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def reader_time_to_utc(moment: datetime) -> datetime:
    """A time a person typed, read in their time zone (as every time is shown to them), as the naive
    UTC that is stored. A wall time that a clock change skips or repeats counts as standard time."""
    zone = get_timezone()
    return zone.localize(moment, is_dst=False).astimezone(pytz.utc).replace(tzinfo=None)
