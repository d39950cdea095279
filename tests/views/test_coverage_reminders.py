"""Coverage reminders: the renewal contact (or the primary) is mailed 90, 60 and 30 days before the
end of a site's support coverage, each once."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from babel.dates import format_date

from models import Site, db
from models import site as sites
from tests.helpers.apps import join_mail_threads

TODAY = date(2027, 1, 10)


@pytest.fixture
def covered_site(app, world):
    site_id = world.site("primary@example.com")
    with app.app_context():
        db.session.get(Site, site_id).coverage_ends_on = TODAY + timedelta(days=100)
        db.session.commit()
    return site_id


def _send(app, day):
    with app.app_context():
        count = sites.send_coverage_reminders(day)
        db.session.commit()
    join_mail_threads()
    return count


def _add_renewal_contact(app, site_id):
    from models.contact import save_contact
    from models.person import find_person
    with app.app_context():
        save_contact(db.session.get(Site, site_id), find_person("primary@example.com"), {
            "first_name": "Rene", "last_name": "Wal", "phone": "+49 30 1234567", "email": "renewals@example.com",
            "address": "Hauptstr. 1", "city": "Berlin", "subdivision": "DE-BE", "postal_code": "10115",
            "country": "DE"}, ["renewal"])
        db.session.commit()


def test_each_reminder_goes_once_at_90_60_and_30_days(app, covered_site, smtp):
    _add_renewal_contact(app, covered_site)
    smtp.wait_for(1)  # the primary's Welcome
    ends = TODAY + timedelta(days=100)
    sent_on = {}
    for offset in range(0, 100):
        day = TODAY + timedelta(days=offset)
        if _send(app, day):
            sent_on[(ends - day).days] = day
    assert sorted(sent_on, reverse=True) == [90, 60, 30]
    reminders = [m for m in smtp.messages if "coverage" in m["Subject"].lower()]
    assert [m["To"] for m in reminders] == ["renewals@example.com"] * 3
    # The date as the recipient's language writes it (English here), like every date of a mail.
    assert "ends on %s" % format_date(ends, "medium", locale="en") in reminders[0].get_body(preferencelist=("plain",)).get_content()


def test_running_twice_the_same_day_sends_nothing_new(app, covered_site, smtp):
    day = TODAY + timedelta(days=15)  # 85 days left: the 90-day reminder is due
    assert _send(app, day) == 1
    assert _send(app, day) == 0


def test_without_renewal_contact_the_primary_is_reminded(app, covered_site, smtp):
    smtp.wait_for(1)
    assert _send(app, TODAY + timedelta(days=75)) == 1  # 25 days left
    [reminder] = [m for m in smtp.messages if "coverage" in m["Subject"].lower()]
    assert reminder["To"] == "primary@example.com"
    assert _send(app, TODAY + timedelta(days=80)) == 0, "the 30-day reminder went already"


def test_a_new_end_date_starts_over(app, covered_site, smtp):
    assert _send(app, TODAY + timedelta(days=75)) == 1
    with app.app_context():
        db.session.get(Site, covered_site).coverage_ends_on = TODAY + timedelta(days=400)
        db.session.commit()
    assert _send(app, TODAY + timedelta(days=320)) == 1  # 80 days before the new end


def test_no_reminder_outside_the_window_or_after_the_end(app, covered_site, smtp):
    assert _send(app, TODAY) == 0  # 100 days left
    assert _send(app, TODAY + timedelta(days=100)) == 0  # ends today: nothing to remind


def test_cli_reports_coverage_reminders(app, covered_site):
    result = app.test_cli_runner().invoke(args=["send-reminders"])
    assert result.exit_code == 0 and "coverage reminders: 0" in result.output
