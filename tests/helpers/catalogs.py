"""Tiny translation catalogs written for one test: what the language machinery does, tested without
depending on the translators' wording (or on whether their catalogs are compiled)."""
from __future__ import annotations

import os

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo


def tiny_catalogs(directory, translations: dict[str, dict]) -> str:
    """Write {language: {msgid: msgstr}} as compiled catalogs under directory; return it for
    BABEL_TRANSLATION_DIRECTORIES. A msgid given as a (singular, plural) tuple takes a tuple of forms."""
    for language, messages in translations.items():
        catalog = Catalog(locale=language, domain="messages")
        for msgid, msgstr in messages.items():
            catalog.add(msgid, msgstr)
        folder = os.path.join(str(directory), language, "LC_MESSAGES")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "messages.mo"), "wb") as fh:
            write_mo(fh, catalog)
    return str(directory)
