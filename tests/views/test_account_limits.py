"""Issue 10: abuse limits of account mail (Low 1), counted in the database: to one address at most one
new link every 5 minutes and 5 a day, shared by sign-up, password reset, verification resend, login-email
change and notification email; from one client address at most 20 such requests an hour. A limited
request gets the same answer as a sent one."""
from __future__ import annotations

import itertools
from datetime import timedelta

import sqlalchemy as sa

from models import OutboxMail, Person, db
from tests.helpers.client import Auth
from tests.helpers.pages import page_text
from tests.helpers.state import let_time_pass
from tests.helpers.world import PASSWORD

PAT = "pat@example.com"


def _queued(app, recipient=None) -> list[str]:
    with app.app_context():
        statement = sa.select(OutboxMail.template).order_by(OutboxMail.id)
        if recipient:
            statement = statement.where(OutboxMail.recipient == recipient)
        return list(db.session.scalars(statement))


_CLIENTS = itertools.count(1)


def _forgot(client, email, remote_addr=None):
    """Ask for a reset link, from a client address of its own unless one is given."""
    number = next(_CLIENTS)
    remote_addr = remote_addr or f"10.1.{number // 250}.{number % 250 + 1}"
    response = client.submit("/forgot-password", {"email": email}, follow_redirects=True,
                             environ_base={"REMOTE_ADDR": remote_addr})
    assert response.status_code == 200
    return page_text(response)


def test_reset_mails_to_one_address_one_per_five_minutes_and_five_a_day(client, app, world):
    # Before the fix 25 posts sent 25 mails.
    world.person(PAT)
    answers = {_forgot(client, PAT) for _ in range(25)}
    assert len(answers) == 1, "a limited request gets the same answer as a sent one"
    assert _queued(app, PAT) == ["reset_password"]
    for sent in range(2, 6):
        let_time_pass(app, timedelta(minutes=5, seconds=1))
        _forgot(client, PAT)
        _forgot(client, PAT)
        assert len(_queued(app, PAT)) == sent
    let_time_pass(app, timedelta(minutes=5, seconds=1))
    _forgot(client, PAT)
    assert len(_queued(app, PAT)) == 5, "at most five a day"
    let_time_pass(app, timedelta(days=1))
    _forgot(client, PAT)
    assert len(_queued(app, PAT)) == 6, "the next day again"


def test_the_address_limit_is_shared_by_every_kind_of_account_mail(client, app, world):
    world.person(PAT)
    _forgot(client, PAT)
    # A sign-up with the same address (its owner would get a mail) and a resend inside the 5 minutes.
    client.submit("/sign-up", {"first_name": "M", "last_name": "M", "email": PAT, "password": PASSWORD,
                               "confirm": PASSWORD})
    assert _queued(app, PAT) == ["reset_password"]
    world.person("uma@example.com", verified=False)
    Auth(client).sign_in("uma@example.com")
    client.submit("/verify-email/resend")
    client.submit("/verify-email/resend")
    assert _queued(app, "uma@example.com") == ["verify_email"]
    # A login-email change to an address that just got a reset link waits too.
    _forgot(client, "new.address@example.com")
    response = client.submit("/settings/email", {"new_email": "new.address@example.com",
                                                 "current_password": PASSWORD}, follow_redirects=True)
    assert "We sent a link to new.address@example.com" in page_text(response)
    assert _queued(app, "new.address@example.com") == []


def test_sign_up_within_the_limit_creates_nothing(client, app, world):
    _forgot(client, "sam@example.com")  # unknown: nothing sent, but the address's link budget is used
    response = client.submit("/sign-up", {"first_name": "S", "last_name": "S", "email": "sam@example.com",
                                          "password": PASSWORD, "confirm": PASSWORD}, follow_redirects=True)
    assert "We sent a mail to sam@example.com" in page_text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0
    let_time_pass(app, timedelta(minutes=5, seconds=1))
    client.submit("/sign-up", {"first_name": "S", "last_name": "S", "email": "sam@example.com",
                               "password": PASSWORD, "confirm": PASSWORD})
    assert _queued(app, "sam@example.com") == ["verify_email"]


def test_one_client_address_gets_twenty_account_mail_requests_an_hour(client, app, world):
    for number in range(21):
        world.person(f"person{number}@example.com")
    answers = {_forgot(client, f"person{number}@example.com", "10.0.0.7").replace(f"person{number}@", "X@")
               for number in range(21)}
    assert len(answers) == 1
    assert len(_queued(app)) == 20, "the 21st request from one client address sends nothing"
    _forgot(client, "person20@example.com", "10.0.0.8")
    assert len(_queued(app)) == 21, "another client address is not limited by the first"
    let_time_pass(app, timedelta(hours=1, seconds=1))
    _forgot(client, "person19@example.com", "10.0.0.7")
    assert len(_queued(app)) == 22


def test_send_reminders_prunes_limit_events_older_than_two_days(client, app, world):
    from models.throttle import ThrottleEvent
    _forgot(client, "old@example.com", "10.2.0.1")
    let_time_pass(app, timedelta(days=2, minutes=1))
    _forgot(client, "new@example.com", "10.2.0.2")
    result = app.test_cli_runner().invoke(args=["send-reminders"])
    assert result.exit_code == 0, result.output
    assert "old limit events pruned: 2" in result.output
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(ThrottleEvent.key))) == ["10.2.0.2", "new@example.com"]

