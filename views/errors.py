"""The error pages: friendly pages for 400/403/404/405/413/500, an expired form, an untrusted host."""
from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from htmx_flask import make_response as htmx_response
from werkzeug.exceptions import SecurityError

from models import db

from .security import is_api_request


def register_error_pages(app) -> None:
    """Friendly pages for 400/403/404/410/500; htmx requests with a stale token reload the page."""

    @app.errorhandler(SecurityError)
    def untrusted_host(_error):
        # No page: without a trusted host Flask cannot build the URLs a page needs.
        return "Bad request: unknown host.", 400, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if request.htmx:
            # htmx does not swap a 400; a reload fetches a page with a fresh token.
            return htmx_response("", 400, refresh=True)
        return render_template("errors/error.html", code=400, title=_("The form has expired"),
                               message=_("Reload the page and try again.")), 400

    messages = {
        400: (lambda: _("Bad request"), lambda: _("The request could not be understood.")),
        403: (lambda: _("Not allowed"), lambda: _("You do not have permission to do this.")),
        404: (lambda: _("Not found"), lambda: _("There is nothing here. Check the address.")),
        405: (lambda: _("Not allowed"), lambda: _("This address does not accept that kind of request.")),
        413: (lambda: _("Too large"), lambda: _("The upload is larger than allowed.")),
        500: (lambda: _("Something went wrong"), lambda: _("The error was logged. Try again in a moment.")),
    }

    def make_handler(code):
        def handler(_error):
            if code == 500:
                db.session.rollback()
            title, message = messages[code]
            if is_api_request():
                # The API answers in JSON, even for an address or method it does not know.
                return jsonify({"error": message()}), code
            return render_template("errors/error.html", code=code, title=title(), message=message()), code
        return handler

    for code in messages:
        app.register_error_handler(code, make_handler(code))
