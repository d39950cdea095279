"""Audit log and Reports: filters, CSV, append-only, and access rebuilt for past moments."""
from __future__ import annotations

import csv
import io
import pathlib
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from models import AuditEvent, Membership, Person, db
from models.base import utcnow
from tests.helpers.apps import make_test_app
from tests.helpers.catalogs import compile_catalogs, translation
from tests.helpers.client import Auth, Client
from tests.helpers.databases import close_database
from tests.helpers.world import World

MOMENTS_APART = timedelta(hours=1)


def _rows(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _shift_history(app, since_id, delta):
    """Move the audit events written since an id into the past. The log refuses UPDATE, so the test
    rebuilds them as they would have been written then (insert copies, drop the triggers' guard)."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("rewriting history needs the SQLite trigger dropped")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER audit_event_no_update")
            for event_id, occurred_at in conn.execute(sa.select(AuditEvent.id, AuditEvent.occurred_at)
                                                      .where(AuditEvent.id > since_id)).all():
                conn.execute(sa.update(AuditEvent).where(AuditEvent.id == event_id)
                             .values(occurred_at=occurred_at - delta))
            conn.exec_driver_sql("CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
                                 "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END")


def _last_event_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0


def test_report_on_three_past_moments(client, auth, world, app):
    """Access changes three times; the report for a moment after each change shows that state."""
    site_id = world.site("primary@example.com")
    auth.sign_in("primary@example.com")
    world.person("kim@example.com")
    # Change 1, three hours ago (with the site's creation): Kim joins with Downloads only.
    start = 0
    client.submit(f"/sites/{site_id}/members", {"email": "kim@example.com", "business_justification": "downloads",
                                                "role": "user", "tool_1": "1"})
    with app.app_context():
        member = db.session.scalar(sa.select(Membership.id).join(Membership.person)
                                   .where(Person.email == "kim@example.com"))
    _shift_history(app, start, 3 * MOMENTS_APART)
    # Change 2, two hours ago: Kim gets Reporting = View.
    start = _last_event_id(app)
    client.submit(f"/sites/{site_id}/members/{member}", {"role": "user", "tool_1": "1", "tool_2": "1"}, htmx=True)
    _shift_history(app, start, 2 * MOMENTS_APART)
    # Change 3, one hour ago: Kim is removed.
    start = _last_event_id(app)
    client.submit(f"/sites/{site_id}/members/{member}/remove")
    _shift_history(app, start, MOMENTS_APART)

    now = utcnow()

    def at(hours_ago):
        moment = (now - timedelta(hours=hours_ago, minutes=-30)).strftime("%Y-%m-%dT%H:%M")
        return {row["Email"]: row for row in _rows(client.get(f"/sites/{site_id}/reports.csv?at={moment}"))}

    before_change_2 = at(3)
    assert before_change_2["kim@example.com"]["Software and services (purchase and download)"] == "Downloads only"
    assert before_change_2["kim@example.com"]["Reporting"] == "None"
    assert before_change_2["kim@example.com"]["Granted by"] == "primary@example.com"
    assert before_change_2["kim@example.com"]["Business justification"] == "downloads"
    assert before_change_2["primary@example.com"]["Role"] == "Primary contact"
    before_change_3 = at(2)
    assert before_change_3["kim@example.com"]["Reporting"] == "View"
    assert before_change_3["kim@example.com"]["Granted by"] == "primary@example.com"
    after_removal = at(1)
    assert "kim@example.com" not in after_removal and "primary@example.com" in after_removal
    current = {row["Email"]: row for row in _rows(client.get(f"/sites/{site_id}/reports.csv"))}
    assert set(current) == {"primary@example.com"}
    page = client.get(f"/sites/{site_id}/reports?at={(now - timedelta(hours=2, minutes=-30)).strftime('%Y-%m-%dT%H:%M')}")
    assert page.status_code == 200 and "kim@example.com" in page.get_data(as_text=True)


CONTACT_FIELDS = {"first_name": "Kim", "last_name": "Tester", "phone": "+49 30 1234567", "email": "kim@example.com",
                  "address": "Hauptstr. 1", "city": "Berlin", "subdivision": "DE-BE", "postal_code": "10115",
                  "country": "DE"}


def test_report_on_past_moments_shows_the_contact_types_then_held(client, auth, world, app):
    """Kim is billing contact, then also technical contact, then no contact at all: each past moment
    shows the types held then (replayed from the contact events), the current report none."""
    site_id = world.site("primary@example.com")
    auth.sign_in("primary@example.com")
    world.person("kim@example.com")
    client.submit(f"/sites/{site_id}/members", {"email": "kim@example.com", "business_justification": "billing",
                                                "role": "user", "tool_1": "1"})
    form = {**CONTACT_FIELDS, "types": ["billing"]}
    assert client.submit(f"/sites/{site_id}/contacts", form).status_code == 303
    with app.app_context():
        from models import ContactRecord
        contact_id = db.session.scalar(sa.select(ContactRecord.id).where(ContactRecord.email == "kim@example.com"))
    _shift_history(app, 0, 3 * MOMENTS_APART)
    start = _last_event_id(app)
    saved = client.submit(f"/sites/{site_id}/contacts/{contact_id}", {**CONTACT_FIELDS, "types": ["billing", "technical"]})
    assert saved.status_code == 303
    _shift_history(app, start, 2 * MOMENTS_APART)
    start = _last_event_id(app)
    assert client.submit(f"/sites/{site_id}/contacts/{contact_id}/delete").status_code == 303
    _shift_history(app, start, MOMENTS_APART)
    now = utcnow()

    def types_at(hours_ago):
        moment = (now - timedelta(hours=hours_ago, minutes=-30)).strftime("%Y-%m-%dT%H:%M:%S")
        rows = {row["Email"]: row for row in _rows(client.get(f"/sites/{site_id}/reports.csv?at={moment}"))}
        return rows["kim@example.com"]["Contact types"]

    assert types_at(3) == "Billing contact"
    assert types_at(2) == "Billing contact; Site technical contact"
    assert types_at(1) == ""
    current = {row["Email"]: row for row in _rows(client.get(f"/sites/{site_id}/reports.csv"))}
    assert current["kim@example.com"]["Contact types"] == ""


def test_current_report_lists_roles_levels_and_contact_types(client, auth, world, app):
    site_id = world.site("primary@example.com")
    world.member(site_id, "ulla@example.com", levels={"reporting": 1, "support": 2})
    with app.app_context():
        from models import Site
        from models.contact import save_contact
        from models.person import find_person
        save_contact(db.session.get(Site, site_id), find_person("primary@example.com"), {
            "first_name": "Ulla", "last_name": "Tester", "phone": "+49 30 1234567", "email": "ulla@example.com",
            "address": "Hauptstr. 1", "city": "Berlin", "subdivision": "DE-BE", "postal_code": "10115",
            "country": "DE"}, ["billing"])
        db.session.commit()
    auth.sign_in("primary@example.com")
    rows = {row["Email"]: row for row in _rows(client.get(f"/sites/{site_id}/reports.csv"))}
    assert rows["ulla@example.com"]["Reporting"] == "View"
    assert rows["ulla@example.com"]["Support cases"] == "Full"
    assert rows["ulla@example.com"]["Contact types"] == "Billing contact"
    assert rows["primary@example.com"]["Support cases"] == "Administrator"


def test_csv_cells_cannot_become_formulas(client, auth, world, app):
    site_id = world.site("primary@example.com")
    world.person("eve@example.com", first_name="=HYPERLINK(\"x\")", last_name="Evil")
    world.member(site_id, "eve@example.com")
    auth.sign_in("primary@example.com")
    body = client.get(f"/sites/{site_id}/reports.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body


def test_audit_log_filters_and_export(client, auth, world, app):
    site_id = world.site("primary@example.com")
    world.person("kim@example.com")
    auth.sign_in("primary@example.com")
    client.submit(f"/sites/{site_id}/members", {"email": "kim@example.com", "business_justification": "x",
                                                "role": "user"})
    client.submit(f"/sites/{site_id}/members", {"email": "new@example.com", "business_justification": "x",
                                                "role": "user"})
    page = client.get(f"/sites/{site_id}/audit?action=membership.added").get_data(as_text=True)
    assert "kim@example.com" in page
    events = client.htmx_get(f"/sites/{site_id}/audit?action=membership.added").get_data(as_text=True)
    assert "kim@example.com" in events and "new@example.com" not in events
    fragment = client.htmx_get(f"/sites/{site_id}/audit?member=new@")
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="events"')
    assert "invitation.sent" in fragment.get_data(as_text=True)
    rows = _rows(client.get(f"/sites/{site_id}/audit.csv?actor=primary@"))
    assert {row["Action"] for row in rows} >= {"membership.added", "invitation.sent"}
    assert all(row["Actor"] == "primary@example.com" for row in rows)
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
    assert _rows(client.get(f"/sites/{site_id}/audit.csv?since={tomorrow}")) == []
    assert client.get(f"/sites/{site_id}/audit?since=yesterday").status_code == 400


def test_operators_see_every_sites_log(client, auth, world):
    world.operator()
    world.site("a@example.com", number="1111")
    world.site("b@example.com", number="2222")
    auth.sign_in("operator@example.com")
    rows = _rows(client.get("/operator/audit.csv?action=site.created"))
    assert {row["Target"] for row in rows} == {"1111", "2222"}


def test_no_code_path_changes_or_deletes_an_audit_event():
    """Append-only in the code too: nothing in models/ or views/ updates or deletes audit events (the
    database triggers refuse it anyway, see tests/unit/test_database.py)."""
    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = []
    for path in list((root / "models").glob("*.py")) + list((root / "views").glob("*.py")):
        source = path.read_text()
        for pattern in (r"(update|delete)\(\s*AuditEvent", r"audit_event\b.*\b(UPDATE|DELETE)\b",
                        r"session\.delete\(\s*(event|audit)"):
            if re.search(pattern, source):
                offenders.append(f"{path.name}: {pattern}")
    assert offenders == []


def test_csv_files_are_named_and_headed_in_the_readers_language(database_uri, smtp, tmp_path):
    """Issue 14: a German reader gets German column names and a German file name (RFC 6266 filename*
    where it has letters beyond ASCII); the times inside stay UTC to the second."""
    app = make_test_app(database_uri, smtp, BABEL_TRANSLATION_DIRECTORIES=compile_catalogs(tmp_path / "catalogs"))
    try:
        app.test_client_class = Client
        site_id = World(app).site("primary@example.com", number="4711")
        client = app.test_client()
        Auth(client).sign_in("primary@example.com")
        german = {"Accept-Language": "de"}
        audit = client.get(f"/sites/{site_id}/audit.csv", headers=german)
        header = next(csv.reader(io.StringIO(audit.get_data(as_text=True))))
        assert header[:3] == [translation("de", "Time (UTC)"), translation("de", "Actor"), translation("de", "Action")]
        assert header[0] != "Time (UTC)"
        assert quote(translation("de", "audit-log-%(site)s.csv", site="4711")) in audit.headers["Content-Disposition"]
        access = client.get(f"/sites/{site_id}/reports.csv", headers=german)
        assert translation("de", "Email") in next(csv.reader(io.StringIO(access.get_data(as_text=True))))
        expected = translation("de", "access-%(site)s-%(moment)s.csv", site="4711", moment=translation("de", "now"))
        assert quote(expected) in access.headers["Content-Disposition"]
        english = client.get(f"/sites/{site_id}/audit.csv", headers={"Accept-Language": "en"})
        assert 'filename=audit-log-4711.csv' in english.headers["Content-Disposition"]
    finally:
        close_database(app)
