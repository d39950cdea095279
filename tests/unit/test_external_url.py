"""Links in mail (views.rendering.external_url): built from BASE_URL, path prefix included, never from a
request's Host header; values quoted as Flask's url_for quotes them."""
from __future__ import annotations

import pytest
from views.rendering import external_url


@pytest.mark.parametrize("base", ["http://127.0.0.1:5000", "https://portal.example.com/sitepass",
                                  "https://portal.example.com/sitepass/"])
def test_links_follow_base_url(app, base):
    app.config["BASE_URL"] = base
    with app.test_request_context("/", base_url="http://attacker.example/"):
        built = [external_url("members.edit", site_id=3, membership_id=7),
                 external_url("auth.sign_in", next="/sites/3/?q=a b&x=1")]
    root = base.rstrip("/")
    assert built == [f"{root}/sites/3/members/7/edit", f"{root}/sign-in?next=/sites/3/?q%3Da+b%26x%3D1"]
