"""Reading the HTML of responses."""
from __future__ import annotations

import html as htmllib
import re


def text(markup: str) -> str:
    """The words of an HTML page or fragment, tags dropped and entities decoded."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def page_text(response) -> str:
    """The words of a response's HTML."""
    return text(response.get_data(as_text=True))
