"""Reading the mails the loopback SMTP server received."""
from __future__ import annotations

import re
from email.message import EmailMessage


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content()


def html_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content()


def link_in(message: EmailMessage, path_prefix: str) -> str:
    """Return the first link in the plain-text part whose path starts with path_prefix."""
    for url in re.findall(r"https?://\S+", body_text(message)):
        if re.match(r"https?://[^/]+" + re.escape(path_prefix), url):
            return url
    raise AssertionError(f"no link to {path_prefix} in mail {message['Subject']!r}:\n{body_text(message)}")
