"""Times as an English reader in UTC sees them (Babel's CLDR formats, as views/rendering.py shows them),
with the spaces page_text gives: for tests that compare a page's dates with the stored ones."""
from __future__ import annotations

import re

from babel.dates import format_date, format_datetime


def shown_day(value) -> str:
    """A stored time's or date's day: "Dec 2, 2026"."""
    return " ".join(format_date(value, "medium", locale="en").split())


def shown_minute(value) -> str:
    """A stored time to the minute: "Dec 2, 2026, 3:46 PM"."""
    return " ".join(format_datetime(value, "MMM d, y, h:mm a", tzinfo="UTC", locale="en").split())


# Any day and minute so shown; \s also matches the narrow no-break space before AM/PM.
DAY_PATTERN = r"[A-Z][a-z]{2} \d{1,2}, \d{4}"
MINUTE_PATTERN = DAY_PATTERN + r", \d{1,2}:\d\d\s[AP]M"


def shown_second(value) -> str:
    """A stored time exact to the second: "Dec 2, 2026, 3:46:07 PM"."""
    return " ".join(format_datetime(value, "medium", tzinfo="UTC", locale="en").split())


def spaced(text: str) -> str:
    """A regular expression for text in which Babel may have put a narrow no-break space where it has a
    space (for Playwright's text and name matching, which compare them as written)."""
    return r"\s".join(re.escape(part) for part in text.split(" "))
