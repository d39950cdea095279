"""Tiny translation catalogs written for one test: what the language machinery does, tested without
depending on the translators' wording (or on whether their catalogs are compiled)."""
from __future__ import annotations

import os

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po


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


# The translators' catalogs; SITEPASS_TEST_TRANSLATIONS names others (e.g. a pseudo-translation, to try
# the catalog-driven tests before the real translations are in).
TRANSLATIONS = os.environ.get("SITEPASS_TEST_TRANSLATIONS") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "translations")


def compile_catalogs(directory) -> str:
    """Compile the translators' catalogs (translations/*/LC_MESSAGES/messages.po) into directory as
    `make` does (fuzzy entries left out), so that a test does not depend on `make` having run; return
    it for BABEL_TRANSLATION_DIRECTORIES."""
    for language in sorted(os.listdir(TRANSLATIONS)):
        po = os.path.join(TRANSLATIONS, language, "LC_MESSAGES", "messages.po")
        if not os.path.isfile(po):
            continue
        folder = os.path.join(str(directory), language, "LC_MESSAGES")
        os.makedirs(folder, exist_ok=True)
        with open(po, "rb") as source, open(os.path.join(folder, "messages.mo"), "wb") as mo:
            write_mo(mo, read_po(source), use_fuzzy=False)
    return str(directory)


def translation(language: str, msgid: str, **values) -> str:
    """The translators' wording of a message (formatted with values), for a test that acts in their
    language; fails the test when the message is not translated."""
    with open(os.path.join(TRANSLATIONS, language, "LC_MESSAGES", "messages.po"), "rb") as fh:
        message = read_po(fh).get(msgid)
    assert message is not None and message.string and not message.fuzzy, \
        f"{msgid!r} is not translated in {language}"
    return message.string % values if values else message.string
