"""The Flask test client as a browser uses the app: CSRF stays on, forms carry their token."""
from __future__ import annotations

from flask.testing import FlaskClient

from tests.helpers.pages import csrf_token
from tests.helpers.world import PASSWORD


class Client(FlaskClient):
    """The Flask test client, sending the CSRF token as the browser does (CSRF stays on)."""

    def csrf_token(self) -> str:
        return csrf_token(self.get("/sign-in").get_data(as_text=True))

    def submit(self, url, data=None, htmx=False, **kwargs):
        """POST a form with its CSRF token (as a header for htmx, as a field otherwise)."""
        data = dict(data or {})
        headers = dict(kwargs.pop("headers", {}))
        token = self.csrf_token()
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": token})
        else:
            data.setdefault("csrf_token", token)
        return self.post(url, data=data, headers=headers, **kwargs)

    def htmx_get(self, url, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        headers["HX-Request"] = "true"
        return self.get(url, headers=headers, **kwargs)


class Auth:
    def __init__(self, client):
        self.client = client

    def sign_in(self, email, password=PASSWORD):
        response = self.client.submit("/sign-in", {"email": email, "password": password})
        assert response.status_code == 303, f"sign-in of {email} failed with {response.status_code}"
        return response

    def sign_out(self):
        return self.client.submit("/sign-out")
