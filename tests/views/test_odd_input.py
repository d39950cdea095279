"""Odd input never answers 500 (issue 10, Low 7): a Unicode digit in a level or id field, a number
past the database integer, a NUL character, a page far past the end. Each gets a 4xx with a message
or a clamped page, and changes nothing. The world is the authorization table's (one site A with its
primary, a manager, a target member, a pending request, a profile)."""
from __future__ import annotations

import pytest

from models import db
from models.tool import SUPPORT, catalog
from tests.helpers.pages import page_text
from tests.helpers.state import snapshot
from tests.views.test_authorization import (MANAGER, OPERATOR, PRIMARY, authz_world, as_persona,  # noqa: F401
                                            database_uri, documents_dir, send)

HUGE = "99999999999999999999"


def tool_ids(app) -> dict[str, int]:
    with app.app_context():
        ids = {tool.key: tool.id for tool in catalog()}
        db.session.rollback()
        return ids


def refused(app, client, method, url, form=None, status=422):
    """Send the request; assert it is refused with `status` (not a 500) and leaves every table as it was."""
    before = snapshot(app)
    response = send(client, method, url, form)
    assert response.status_code == status, f"{method} {url} {form}: {response.status_code}"
    assert snapshot(app) == before, f"{method} {url} {form} changed the database"
    return response


# --- a Unicode digit or a huge number in a level field -----------------------------------------

@pytest.mark.parametrize("level", ["²", "٣", HUGE, "-1", " 1"])
def test_odd_support_level_is_refused_next_to_the_field(app, client, as_persona, level):
    ids = as_persona(PRIMARY)
    response = refused(app, client, "POST", f"/sites/{ids['site_a']}/support/{ids['member_a']}", {"level": level})
    assert "Choose a level." in page_text(response) or "has no such level" in page_text(response)


@pytest.mark.parametrize("level", ["²", HUGE])
def test_odd_tool_level_of_a_member_is_refused(app, client, as_persona, level):
    ids = as_persona(PRIMARY)
    tools = tool_ids(app)
    response = refused(app, client, "POST", f"/sites/{ids['site_a']}/members/{ids['member_a']}",
                       {"role": "user", f"tool_{tools['software']}": level})
    assert "Choose a level." in page_text(response) or "has no such level" in page_text(response)


@pytest.mark.parametrize("rank", ["²", HUGE])
def test_odd_level_in_a_privilege_request_is_refused(app, client, as_persona, rank):
    ids = as_persona(MANAGER)
    support = tool_ids(app)[SUPPORT]
    response = refused(app, client, "POST", f"/sites/{ids['site_a']}/my-access/request",
                       {"wanted": f"{support}:{rank}", "business_justification": "Cases"})
    assert "Choose a tool and a level." in page_text(response) or "no such level" in page_text(response)


# --- a Unicode digit or a huge number in an id field -------------------------------------------

@pytest.mark.parametrize("value", ["²", HUGE])
def test_odd_selected_row_in_bulk_change_changes_nothing(app, client, as_persona, value):
    ids = as_persona(PRIMARY)
    response = refused(app, client, "POST", f"/sites/{ids['site_a']}/members/bulk",
                       {"selected": value, "action": "remove"})
    assert "Select at least one row." in page_text(response)


@pytest.mark.parametrize("value", ["²", HUGE])
def test_odd_profile_id_when_approving_is_refused(app, client, as_persona, value):
    ids = as_persona(PRIMARY)
    response = refused(app, client, "POST", f"/sites/{ids['site_a']}/requests/{ids['request_a']}/approve",
                       {"role": "user", "profile_id": value})
    assert "Choose one of this site's profiles." in page_text(response)


@pytest.mark.parametrize("value", ["²", HUGE])
def test_odd_profile_id_when_adding_a_member_is_refused(app, client, as_persona, value):
    ids = as_persona(PRIMARY)
    response = refused(app, client, "POST", f"/sites/{ids['site_a']}/members",
                       {"email": "new@example.com", "role": "user", "business_justification": "Needs it",
                        "profile_id": value})
    assert "Choose one of this site's profiles." in page_text(response)


@pytest.mark.parametrize("value", ["²", HUGE])
def test_odd_nominee_for_primary_is_refused(app, client, as_persona, value):
    ids = as_persona(PRIMARY)
    refused(app, client, "POST", f"/sites/{ids['site_a']}/primary", {"nominee": value})


@pytest.mark.parametrize("value", ["²", HUGE])
def test_odd_member_in_operator_recovery_names_nothing(app, client, as_persona, value):
    ids = as_persona(OPERATOR)
    refused(app, client, "POST", f"/operator/sites/{ids['site_a']}/primary",
            {"membership_id": value, "justification": "Primary left"}, status=404)


@pytest.mark.parametrize("value", ["²", HUGE])
def test_odd_profile_id_in_a_query_is_ignored(app, client, as_persona, value):
    ids = as_persona(PRIMARY)
    response = client.get(f"/sites/{ids['site_a']}/levels", query_string={"profile_id": value})
    assert response.status_code == 200
    response = client.get(f"/sites/{ids['site_a']}/members/{ids['member_a']}/edit", query_string={"profile_id": value})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/sites/{huge}/", "/sites/{site_a}/members/{huge}", "/operator/customers/{huge}",
                                  "/sites/{site_a}/requests/{huge}", "/sites/2147483648/"])
def test_id_past_the_database_integer_in_the_address_is_404(client, as_persona, path):
    ids = as_persona(OPERATOR if path.startswith("/operator") else PRIMARY)
    assert client.get(path.format(huge=HUGE, **ids)).status_code == 404


def test_id_past_the_database_integer_in_a_post_address_is_404(app, client, as_persona):
    ids = as_persona(PRIMARY)
    refused(app, client, "POST", f"/sites/{ids['site_a']}/members/{HUGE}/remove", status=404)


# --- NUL -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/sites/{site_a}/members?q=a%00b", "/sites/{site_a}/audit?actor=%00",
                                 "/sites/{site_a}/review?q=%00", "/sites/{site_a}/support?q=x%00"])
def test_nul_in_a_search_is_refused_with_a_message(app, client, as_persona, url):
    ids = as_persona(PRIMARY)
    response = refused(app, client, "GET", url.format(**ids), status=400)
    assert "contains a NUL character" in page_text(response)


def test_nul_in_an_htmx_search_is_refused_too(app, client, as_persona):
    ids = as_persona(PRIMARY)
    before = snapshot(app)
    response = client.htmx_get(f"/sites/{ids['site_a']}/members?q=%00")
    assert response.status_code == 400
    assert "contains a NUL character" in page_text(response)
    assert snapshot(app) == before


def test_nul_in_the_operator_search_is_refused(app, client, as_persona):
    as_persona(OPERATOR)
    response = refused(app, client, "GET", "/operator/?q=%00", status=400)
    assert "“q” contains a NUL character" in page_text(response)


@pytest.mark.parametrize("form", [{"name": "Acme\x00"}, {"name\x00": "Acme"}])
def test_nul_in_a_form_field_is_refused_and_changes_nothing(app, client, as_persona, form):
    as_persona(OPERATOR)
    response = refused(app, client, "POST", "/operator/customers", form, status=400)
    assert "contains a NUL character" in page_text(response)


def test_nul_in_a_contact_changes_nothing(app, client, as_persona):
    ids = as_persona(PRIMARY)
    refused(app, client, "POST", f"/sites/{ids['site_a']}/contacts",
            {"first_name": "Nul\x00", "last_name": "Byte", "phone": "+49 30 1234567", "email": "n@example.com",
             "address": "Hauptstr. 1", "city": "Berlin", "subdivision": "DE-BE", "postal_code": "10115",
             "country": "DE", "types": "billing"}, status=400)


@pytest.mark.parametrize("search", ["\x01\x1f\x7f", "é😀", "%", "_", "' OR 1=1 --", "ＡＢＣ", "\u202e"])
def test_other_control_characters_and_unicode_in_a_search_work(client, as_persona, search):
    ids = as_persona(PRIMARY)
    for url in (f"/sites/{ids['site_a']}/members", f"/sites/{ids['site_a']}/review",
                f"/sites/{ids['site_a']}/support", f"/sites/{ids['site_a']}/audit"):
        response = client.get(url, query_string={"q": search, "actor": search, "member": search})
        assert response.status_code == 200, f"{url}: {response.status_code}"


# --- pages ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", [HUGE, "-1", "²", "0", "1e9", "2147483648"])
@pytest.mark.parametrize("url", ["/sites/{site_a}/members", "/sites/{site_a}/support", "/sites/{site_a}/review",
                                 "/sites/{site_a}/requests", "/sites/{site_a}/audit"])
def test_page_out_of_range_is_clamped(client, as_persona, url, page):
    ids = as_persona(PRIMARY)
    clamped = client.get(url.format(**ids), query_string={"page": page})
    first = client.get(url.format(**ids))
    assert clamped.status_code == 200
    # Every list of this world fits on one page: the last page is the first.
    assert page_text(clamped) == page_text(first)


@pytest.mark.parametrize("url", ["/operator/", "/operator/audit"])
def test_operator_page_out_of_range_is_clamped(client, as_persona, url):
    as_persona(OPERATOR)
    clamped = client.get(url, query_string={"page": HUGE})
    assert clamped.status_code == 200
    assert page_text(clamped) == page_text(client.get(url))
