"""The roles a member holds in a site (SPEC §2): the lowest layer, so that the tables and the tool
catalog both name them by these constants."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

PRIMARY = "primary"
SECONDARY = "secondary"
USER = "user"
ROLES = (PRIMARY, SECONDARY, USER)
ROLE_LABELS = {PRIMARY: _l("Primary contact"), SECONDARY: _l("Secondary contact"), USER: _l("User")}
# The role inside a sentence ("… as %(role)s."): messages of their own, never ROLE_LABELS lowercased,
# since not every language lowercases a noun inside a sentence (German does not).
ROLE_IN_SENTENCE = {PRIMARY: _l("primary contact"), SECONDARY: _l("secondary contact"), USER: _l("user")}
