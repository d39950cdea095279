"""Extension objects, created without an app and bound in create_app."""
from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_babel import Babel
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

babel = Babel()
csrf = CSRFProtect()
htmx = Htmx()
login_manager = LoginManager()
migrate = Migrate()


def select_locale() -> str | None:
    """Use the person's language setting, else the browser's preference."""
    if not has_request_context():
        return None  # CLI and background work: the default locale, or force_locale for a recipient
    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    return request.accept_languages.best_match(languages)
