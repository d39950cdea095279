"""Extension objects, created without an app and bound in create_app."""
from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from models.base import TIME_ZONES

csrf = CSRFProtect()
htmx = Htmx()
login_manager = LoginManager()
migrate = Migrate()


# Each language named in itself (a proper name: not translated).
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "id": "Bahasa Indonesia"}
# Where the sign-in page's language switcher keeps a visitor's choice (kept across sign-in).
SESSION_LANGUAGE = "language"


def select_locale() -> str | None:
    """The language of this request, the one rule for it (issue 14): the signed-in person's choice in
    My settings, else the visitor's choice on the sign-in page (kept in the session), else the best
    match of the browser's Accept-Language, else None, which is the instance default
    (DEFAULT_LANGUAGE). Outside a request (CLI, scheduler) None too: mail forces its recipient's."""
    if not has_request_context():
        return None
    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    return visitor_language()


def visitor_language() -> str | None:
    """The language a visitor asked for without an account setting: the switcher's, else the browser's."""
    languages = current_app.config["LANGUAGES"]
    chosen = session.get(SESSION_LANGUAGE)
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages)


def select_timezone() -> str | None:
    """The time zone this request shows times in: the signed-in person's choice, else None, which is the
    instance's (TIMEZONE). Mail forces its recipient's (models.outbox.mail_time_zone)."""
    if has_request_context() and current_user and current_user.is_authenticated \
            and current_user.time_zone in TIME_ZONES:
        return current_user.time_zone
    return None
