"""The admin shell (issue 13): the site sidebar shows a page exactly when its own guard lets the person
in, for every kind of person; the current page is marked; the operator's site page carries the sidebar;
statuses show as badges."""
from __future__ import annotations

import re

import pytest

from views.rendering import SITE_PAGES

ENDPOINT_PATHS = {"members.index": "members", "members.new": "members/new", "requests.index": "requests",
                  "profiles.index": "profiles", "review.index": "review", "contacts.index": "contacts",
                  "contacts.manage": "contacts/manage", "reports.audit": "audit", "reports.access": "reports",
                  "documents.index": "documents", "support.index": "support", "my_access.show": "my-access"}
PERSONAS = {  # email, role, levels
    "primary": ("primary@example.com", None, None),
    "secondary": ("second@example.com", "secondary", {"manage_access": 2, "contact_updates": 2, "reporting": 1}),
    "reporter": ("reporter@example.com", "user", {"reporting": 1, "documents": 1}),
    "support admin": ("support@example.com", "user", {"support": 3}),
    "user without levels": ("plain@example.com", "user", {}),
    "operator": ("operator@example.com", None, None),
}


def sidebar_of(html: str) -> str:
    found = re.search(r'<nav aria-label="Site".*?</nav>', html, re.S)
    assert found, "no site sidebar"
    return found.group(0)


def test_every_endpoint_of_the_sidebar_is_a_site_page_the_test_knows():
    endpoints = {endpoint for _heading, pages in SITE_PAGES for endpoint, _name in pages}
    assert endpoints == set(ENDPOINT_PATHS) | {"operator.site"}


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_sidebar_shows_a_page_exactly_when_its_guard_lets_the_person_in(client, world, auth, persona):
    world.operator()
    site_id = world.site("primary@example.com", name="Acme Berlin")
    email, role, levels = PERSONAS[persona]
    if role:
        world.member(site_id, email, role=role, levels=levels)
    auth.sign_in(email)
    sidebar = sidebar_of(client.get(f"/sites/{site_id}/").get_data(as_text=True))
    pages = {endpoint: f"/sites/{site_id}/{path}" for endpoint, path in ENDPOINT_PATHS.items()}
    pages["operator.site"] = f"/operator/sites/{site_id}"
    shown, opens = set(), set()
    for endpoint, url in pages.items():
        if f'href="{url}"' in sidebar:
            shown.add(endpoint)
        status = client.get(url).status_code
        assert status in (200, 403, 404), (endpoint, status)
        if status == 200:
            opens.add(endpoint)
    assert shown == opens, f"{persona}: shown but refused {shown - opens}, opens but hidden {opens - shown}"
    assert len(shown) >= 2


def test_current_page_is_marked_and_requests_count_shows(client, world, auth):
    world.operator()
    site_id = world.site("primary@example.com")
    auth.sign_in("primary@example.com")
    sidebar = sidebar_of(client.get(f"/sites/{site_id}/audit").get_data(as_text=True))
    assert re.findall(r'href="([^"]+)" aria-current="page"', sidebar) == [f"/sites/{site_id}/audit"]
    assert 'id="requests-badge"' in sidebar
    for heading in ("People", "Contacts", "Records"):
        assert f">{heading}</p>" in sidebar


def test_operator_site_page_has_the_sidebar_with_documents_audit_log_and_reports(app, client, world, auth):
    from models import Site, db
    from models.invitation import invite
    from models.person import find_person

    world.operator()
    site_id = world.site("pat@example.com")
    with app.app_context():
        invite(db.session.get(Site, site_id), "ivy@example.com", "user", find_person("pat@example.com"), "Reports")
        db.session.commit()
    auth.sign_in("operator@example.com")
    html = client.get(f"/operator/sites/{site_id}").get_data(as_text=True)
    sidebar = sidebar_of(html)
    for path in ("documents", "audit", "reports"):
        assert f'href="/sites/{site_id}/{path}"' in sidebar
    assert f'href="/operator/sites/{site_id}" aria-current="page"' in sidebar
    # The open invitation shows as a badge.
    assert '<span class="badge badge-invited">Invited</span>' in html


def test_top_bar_switches_between_several_sites_with_their_numbers(client, world, auth):
    world.operator()
    berlin = world.site("pat@example.com", number="1001", name="Acme Berlin")
    paris = world.site("other@example.com", number="2002", name="Acme Paris")
    world.member(paris, "pat@example.com")
    auth.sign_in("pat@example.com")
    html = client.get(f"/sites/{paris}/").get_data(as_text=True)
    top_bar = re.search(r'<nav aria-label="Main".*?</nav>', html, re.S).group(0)
    # The current site's number and name (the name, in its own span, drops out on a phone).
    assert re.search(r'<summary><span class="site-number">2002</span><span class="site-name"> Acme Paris</span></summary>',
                     top_bar)
    assert f'href="/sites/{berlin}/"><span class="site-number">1001</span> Acme Berlin</a>' in top_bar
    assert f'href="/sites/{paris}/" aria-current="true"><span class="site-number">2002</span> Acme Paris</a>' in top_bar
    assert "Operator console" not in top_bar and "My settings" in top_bar and "Sign out" in top_bar


def test_top_bar_folds_the_account_links_into_an_account_menu_for_the_phone(client, world, auth):
    world.operator()
    site_id = world.site("pat@example.com", number="1001", name="Acme Berlin")
    auth.sign_in("operator@example.com")
    html = client.get(f"/operator/sites/{site_id}").get_data(as_text=True)
    top_bar = re.search(r'<nav aria-label="Main".*?</nav>', html, re.S).group(0)
    wide = re.findall(r'<li class="wide-only">\s*(?:<a [^>]*>([^<]+)</a>|<form.*?<button[^>]*>([^<]+)</button>)', top_bar, re.S)
    assert ["".join(item) for item in wide] == ["Operator console", "My settings", "Sign out"]
    menu = re.search(r'<li class="narrow-only">\s*<details class="dropdown account-menu">\s*<summary>Account</summary>'
                     r'(.*?)</details>', top_bar, re.S)
    assert menu, "no Account menu"
    for name in ("Operator console", "My settings", "Sign out"):
        assert f">{name}</" in menu.group(1)
