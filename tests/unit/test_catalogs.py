"""The translation catalogs are complete (issue 14): every message of the code is in
translations/messages.pot (`make translations` was run), every catalog holds every message of the
template, translated and not fuzzy, with exactly the placeholders of the English (plural forms too),
and every translation formats without error. Until the translators' work is merged these fail, naming
what is missing: that is what they are for."""
from __future__ import annotations

import io
import re
from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
CATALOGS = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
# The keywords of `make translations` (Makefile): _ and gettext, ngettext with its plural, the lazy ones.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0\- +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?([diouxXeEfFgGcrsa%])")
SHOWN = 40


def placeholders(text: str) -> frozenset:
    """The %(name)s placeholders of a message, with their conversions (a %% is not one)."""
    return frozenset((name, conversion) for name, conversion in PLACEHOLDER.findall(text) if conversion != "%")


def read(path: Path):
    with open(path, "rb") as fh:
        return read_po(fh)


def language(path: Path) -> str:
    return path.parent.parent.name


def report(problems: list[str]) -> str:
    more = f"\n… and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    return f"{len(problems)} problems:\n" + "\n".join(problems[:SHOWN]) + more


def test_there_are_catalogs_for_the_languages_offered():
    assert {language(path) for path in CATALOGS} >= {"de", "fr", "id"}


def test_the_template_holds_every_message_of_the_code():
    """Fails when a string was added or changed without `make translations`."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(io.StringIO(fh.read()))
    in_code = defaultdict(set)
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        in_code[message].add(f"{filename}:{lineno}")
    in_template = {message.id for message in read(TRANSLATIONS / "messages.pot") if message.id}
    missing = [f"{sorted(where)[0]}: {message!r}" for message, where in in_code.items() if message not in in_template]
    assert not missing, "run `make translations`; not in translations/messages.pot: " + report(sorted(missing))


@pytest.mark.parametrize("path", CATALOGS, ids=language)
def test_every_catalog_holds_every_message_of_the_template(path):
    template = {message.id for message in read(TRANSLATIONS / "messages.pot") if message.id}
    catalog = {message.id for message in read(path) if message.id}
    missing = sorted(map(repr, template - catalog))
    assert not missing, f"run `make translations`; not in {language(path)}: " + report(missing)


@pytest.mark.parametrize("path", CATALOGS, ids=language)
def test_every_message_is_translated_not_fuzzy_and_keeps_its_placeholders(path):
    catalog = read(path)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        where = f"{language(path)} line {message.lineno}: {message.id!r}"
        forms = list(message.string) if isinstance(message.string, (tuple, list)) else [message.string]
        if message.fuzzy:
            problems.append(f"{where} is fuzzy")
        if not all(forms):
            problems.append(f"{where} is not translated")
            continue
        english = [message.id] if isinstance(message.id, str) else list(message.id)
        wanted = {placeholders(text) for text in english}
        for form in forms:
            found = placeholders(form)
            if found not in wanted:
                expected = " or ".join(sorted(str(sorted(w)) for w in wanted))
                problems.append(f"{where}: placeholders {sorted(found)} instead of {expected} in {form!r}")
            elif found or message.python_format:
                values = {name: (1 if conversion in "diouxXc" else 1.0 if conversion in "eEfFgG" else "x")
                          for name, conversion in found}
                try:
                    form % values
                except (KeyError, ValueError, TypeError) as exc:
                    problems.append(f"{where}: {form!r} does not format ({exc})")
    if catalog.num_plurals < 1:
        problems.append(f"{language(path)}: no Plural-Forms")
    assert not problems, report(problems)
