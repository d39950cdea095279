"""The operator console: customers, sites with their primary contact, coverage, and the CLI."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from models import AuditEvent, Customer, Invitation, Membership, OutboxMail, Site, db
from models.membership import primary_of


@pytest.fixture
def operator(client, world, auth):
    world.operator()
    auth.sign_in("operator@example.com")
    return client


def _counts(app):
    with app.app_context():
        return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Customer, Site, Membership, Invitation, OutboxMail, AuditEvent)}


def _site_form(**fields):
    form = {"site_number": "1001", "name": "Acme Berlin", "kind": "originating", "primary_email": "pat@example.com"}
    form.update(fields)
    return form


def test_create_customer_and_site_with_unknown_primary_invites(operator, app, smtp):
    assert operator.submit("/operator/customers", {"name": "Acme Corp"}).location == "/operator/customers/1"
    response = operator.submit("/operator/customers/1/sites", _site_form())
    assert response.status_code == 303
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        assert (site.site_number, site.name, site.kind) == ("1001", "Acme Berlin", "originating")
        assert primary_of(site.id) is None
        invitation = db.session.scalar(sa.select(Invitation))
        assert (invitation.email, invitation.role, invitation.status()) == ("pat@example.com", "primary", "open")
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions[-3:] == ["customer.created", "site.created", "invitation.sent"]
    assert smtp.wait_for(1)[0]["To"] == "pat@example.com"
    page = operator.get(response.location).get_data(as_text=True)
    assert "pat@example.com" in page and "Invited" in page


def test_create_site_with_known_primary_grants_at_once_and_welcomes(operator, app, smtp, world):
    world.person("pat@example.com")
    operator.submit("/operator/customers", {"name": "Acme Corp"})
    operator.submit("/operator/customers/1/sites", _site_form(primary_email="PAT@example.com"))
    with app.app_context():
        assert primary_of(1).person.email == "pat@example.com"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0
    [message] = smtp.wait_for(1)
    assert message["To"] == "pat@example.com" and message["Subject"].startswith("Welcome to site 1001")


@pytest.mark.parametrize("fields, field_id, message", [
    ({"site_number": ""}, "site_number", "This field is required"),
    ({"site_number": "10 01"}, "site_number", "1 to 32 letters, digits or dashes"),
    ({"name": ""}, "name", "This field is required"),
    ({"primary_email": "pat@"}, "primary_email", "Enter a valid email address"),
    ({"kind": "franchise"}, "kind", "Not a valid choice"),
])
def test_bad_site_input_is_shown_next_to_the_field_and_writes_nothing(operator, app, fields, field_id, message):
    operator.submit("/operator/customers", {"name": "Acme Corp"})
    before = _counts(app)
    response = operator.submit("/operator/customers/1/sites", _site_form(**fields))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field_id}-error"' in html and message in html
    assert _counts(app) == before


def test_duplicate_site_number_is_refused_and_writes_nothing(operator, app):
    operator.submit("/operator/customers", {"name": "Acme Corp"})
    operator.submit("/operator/customers/1/sites", _site_form())
    before = _counts(app)
    response = operator.submit("/operator/customers/1/sites", _site_form(kind="additional", name="Other"))
    assert response.status_code == 422
    assert "Site number 1001 is already taken." in response.get_data(as_text=True)
    assert _counts(app) == before


def test_a_customer_has_one_originating_site(operator, app):
    operator.submit("/operator/customers", {"name": "Acme Corp"})
    operator.submit("/operator/customers/1/sites", _site_form())
    response = operator.submit("/operator/customers/1/sites", _site_form(site_number="1002"))
    assert response.status_code == 422 and "already has an originating site" in response.get_data(as_text=True)
    assert operator.submit("/operator/customers/1/sites",
                           _site_form(site_number="1002", kind="additional")).status_code == 303


def test_duplicate_customer_name_is_refused(operator, app):
    operator.submit("/operator/customers", {"name": "Acme Corp"})
    response = operator.submit("/operator/customers", {"name": "ACME corp"})
    assert response.status_code == 422 and "already exists" in response.get_data(as_text=True)
    assert _counts(app)["Customer"] == 1


def test_coverage_end_date(operator, app):
    operator.submit("/operator/customers", {"name": "Acme Corp"})
    operator.submit("/operator/customers/1/sites", _site_form())
    assert operator.submit("/operator/sites/1/coverage", {"coverage_ends_on": "2027-03-31"}).status_code == 303
    with app.app_context():
        assert db.session.get(Site, 1).coverage_ends_on == date(2027, 3, 31)
    assert operator.submit("/operator/sites/1/coverage", {"coverage_ends_on": "31/03/2027"}).status_code == 422
    with app.app_context():
        assert db.session.get(Site, 1).coverage_ends_on == date(2027, 3, 31)


def test_console_search_and_pagination(operator, app, world):
    from models import site as sites
    with app.app_context():
        for n in range(30):
            sites.create_customer(f"Customer {n:02d}")
        sites.create_customer("Zebra Logistics")
        db.session.commit()
    world.site("zed@example.com", number="7777", customer="Zebra Logistics")
    page = operator.get("/operator/").get_data(as_text=True)
    assert "Customer 00" in page and "Customer 24" in page and "Customer 25" not in page
    assert "Page 1 of 2" in page
    second = operator.get("/operator/?page=2").get_data(as_text=True)
    assert "Customer 25" in second and "Zebra Logistics" in second

    found = operator.get("/operator/?q=zebra")
    assert "Zebra Logistics" in found.get_data(as_text=True) and "Customer 01" not in found.get_data(as_text=True)
    assert "<html" in found.get_data(as_text=True), "a loaded URL gets the full page"
    by_site_number = operator.htmx_get("/operator/?q=7777")
    fragment = by_site_number.get_data(as_text=True)
    assert "Zebra Logistics" in fragment and "<html" not in fragment and fragment.lstrip().startswith('<div id="customers"')
    assert "HX-Request" in by_site_number.headers["Vary"]


def test_cli_create_site(app, smtp):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-site", "--customer", "Acme Corp", "--site-number", "2001",
                                 "--name", "Acme Paris", "--primary-email", "pat@example.com"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        site = db.session.scalar(sa.select(Site))
        assert (site.site_number, site.customer.name, site.kind) == ("2001", "Acme Corp", "originating")
    assert smtp.wait_for(1)[0]["To"] == "pat@example.com"
    again = runner.invoke(args=["create-site", "--customer", "Acme Corp", "--site-number", "2001",
                                "--name", "Dup", "--primary-email", "pat@example.com"])
    assert again.exit_code != 0 and "already taken" in again.output


def test_backup_command_writes_a_consistent_copy(app, world, tmp_path):
    import sqlite3
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite backup")
    world.site("pat@example.com", number="4242")
    target = tmp_path / "backup.sqlite3"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0 and "integrity ok" in result.output
    copy = sqlite3.connect(target)
    assert copy.execute("select site_number from site").fetchall() == [("4242",)]
    copy.close()


def test_cli_seed_demo_fills_a_site_that_its_primary_signs_in_to(app, client):
    # make bench builds its sites with seed-demo: a broken import there broke only the benchmark.
    from tests.helpers.client import Auth
    from views.demo import DEMO_PASSWORD, DEMO_PRIMARY_EMAIL

    result = app.test_cli_runner().invoke(args=["seed-demo", "--members", "30"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        members = db.session.scalars(sa.select(Membership)).all()
        assert len(members) >= 30
        assert sum(m.role == "secondary" for m in members) <= 4
        site_id = members[0].site_id
    Auth(client).sign_in(DEMO_PRIMARY_EMAIL, DEMO_PASSWORD)
    page = client.get(f"/sites/{site_id}/members")
    assert page.status_code == 200 and "Secondary contact" in page.get_data(as_text=True)


def test_operator_sees_a_site_start_page_without_being_a_member(operator, world):
    site_id = world.site("pat@example.com")
    page = operator.get(f"/sites/{site_id}/")
    assert page.status_code == 200 and "as an operator" in page.get_data(as_text=True)


def test_member_lands_on_their_site_and_sees_the_switcher_with_several(client, world, auth):
    world.operator()
    first = world.site("pat@example.com", name="Acme Berlin")
    response = auth.sign_in("pat@example.com")
    assert client.get("/").location == f"/sites/{first}/"
    assert "Primary contact" in client.get(f"/sites/{first}/").get_data(as_text=True)
    second = world.site("other@example.com", name="Acme Paris")
    world.member(second, "pat@example.com", role="user")
    home = client.get("/").get_data(as_text=True)
    assert "My sites" in home and "Acme Berlin" in home and "Acme Paris" in home
    assert response.status_code == 303
