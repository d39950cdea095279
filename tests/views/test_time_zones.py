"""Times in the reader's time zone and language (issue 14): a person's time zone from My settings, else
the instance's (TIMEZONE); the audit log and a report on a past moment exact to the second with the
zone named, the moment asked for read in the reader's zone; mail in its recipient's zone (an
invitee's: the inviter's)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import pytz
import sqlalchemy as sa
from babel.dates import format_datetime

from models import AuditEvent, Invitation, Person, db
from models.base import utcnow
from tests.helpers.apps import join_mail_threads, make_test_app
from tests.helpers.client import Auth, Client
from tests.helpers.databases import close_database
from tests.helpers.mail import body_text, html_text
from tests.helpers.pages import page_text, page_tree
from tests.helpers.world import World

JAKARTA = "Asia/Jakarta"  # UTC+7 all year: no clock change to make a test depend on the date


def words(text: str) -> str:
    """As page_text gives it: Babel's formats hold narrow no-break spaces."""
    return " ".join(text.split())


def set_time_zone(app, email, zone, language=None):
    with app.app_context():
        db.session.execute(sa.update(Person).where(Person.email == email).values(time_zone=zone, language=language))
        db.session.commit()


def test_my_settings_offers_the_time_zones_with_the_instances_as_default(client, auth, world):
    world.person("ann@example.com")
    auth.sign_in("ann@example.com")
    select = page_tree(client.get("/settings/")).one("select", id="time_zone")
    options = [option.get("value") for option in select.find_all("option")]
    assert options[0] == "" and "UTC" in select.find_all("option")[0].text
    assert JAKARTA in options and "Europe/Berlin" in options and len(options) > 400


def test_the_audit_log_shows_each_time_to_the_second_in_the_readers_zone_and_names_it(app, client, auth, world):
    world.operator()
    set_time_zone(app, "operator@example.com", JAKARTA, "de")
    auth.sign_in("operator@example.com")
    client.submit("/operator/customers", {"name": "Acme Corp"})
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        occurred = event.occurred_at
    text = page_text(client.get("/operator/audit"))
    expected = words(format_datetime(occurred, "medium", tzinfo=pytz.timezone(JAKARTA), locale="de"))
    assert expected in text, f"{expected!r} not in the log"
    assert f"({JAKARTA})" in text, "the column names the zone"
    assert words(format_datetime(occurred, "medium", tzinfo=pytz.utc, locale="de")) not in text


def test_a_report_on_a_past_moment_reads_the_moment_in_the_readers_zone(app, client, auth, world):
    site_id = world.site("primary@example.com")
    world.person("kim@example.com")
    auth.sign_in("primary@example.com")
    client.submit(f"/sites/{site_id}/members", {"email": "kim@example.com", "business_justification": "downloads",
                                                "role": "user", "tool_1": "1"})
    # Half an hour before Kim joined, on a Jakarta clock; read as UTC it would be hours after.
    half_hour_ago = pytz.utc.localize(utcnow() - timedelta(minutes=30)).astimezone(pytz.timezone(JAKARTA))
    typed = half_hour_ago.strftime("%Y-%m-%dT%H:%M:%S")
    assert "kim@example.com" in page_text(client.get(f"/sites/{site_id}/reports?at={typed}")), \
        "without a time zone of their own the reader's clock is UTC, hours later: Kim is in"
    set_time_zone(app, "primary@example.com", JAKARTA)
    page = client.get(f"/sites/{site_id}/reports?at={typed}")
    assert "kim@example.com" not in page_text(page)
    heading = page_tree(page).find_all("h2")[0].text
    expected = words(format_datetime(half_hour_ago.replace(tzinfo=None), "medium", tzinfo=pytz.utc, locale="en"))
    assert heading == f"Access on {expected} {JAKARTA}", "exact to the second, the zone named"


@pytest.mark.parametrize("at", ["0001-01-01T00:00", "9999-12-31T23:59:59"])
def test_a_moment_at_the_ends_of_the_calendar_is_refused_not_a_crash(app, client, auth, world, at):
    site_id = world.site("primary@example.com")
    set_time_zone(app, "primary@example.com", "America/Los_Angeles")
    auth.sign_in("primary@example.com")
    assert client.get(f"/sites/{site_id}/reports?at={at}").status_code in (200, 400)
    assert client.get(f"/sites/{site_id}/audit?until={at[:10]}").status_code in (200, 400)


def _invitation_expiry(app):
    with app.app_context():
        return db.session.scalar(sa.select(Invitation.expires_at))


def test_an_invitation_mail_gives_its_expiry_in_the_inviters_zone(app, client, auth, world, smtp):
    world.operator()
    set_time_zone(app, "operator@example.com", JAKARTA)
    auth.sign_in("operator@example.com")
    client.submit("/operator/customers", {"name": "Acme Corp"})
    client.submit("/operator/customers/1/sites", {"site_number": "1001", "name": "Acme Berlin",
                                                  "kind": "originating", "primary_email": "pat@acme.example.com"})
    [message] = smtp.wait_for(1)
    local = pytz.utc.localize(_invitation_expiry(app)).astimezone(pytz.timezone(JAKARTA))
    assert f"{local:%-I:%M}" in body_text(message) and JAKARTA in body_text(message)
    assert JAKARTA in html_text(message) and "UTC" not in body_text(message)


def test_the_instances_time_zone_is_everyones_who_chose_none(database_uri, smtp):
    app = make_test_app(database_uri, smtp, TIMEZONE="America/New_York")
    app.test_client_class = Client
    try:
        client, world = app.test_client(), World(app)
        world.operator()
        Auth(client).sign_in("operator@example.com")
        client.submit("/operator/customers", {"name": "Acme Corp"})
        client.submit("/operator/customers/1/sites", {"site_number": "1001", "name": "Acme Berlin",
                                                      "kind": "originating", "primary_email": "pat@acme.example.com"})
        [message] = smtp.wait_for(1)
        assert "America/New_York" in body_text(message)
        assert "(America/New_York)" in page_text(client.get("/operator/audit"))
    finally:
        join_mail_threads()
        close_database(app)
