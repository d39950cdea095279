"""My settings (SPEC §6, issue 5) through the client: name, language, notification email (where mail
goes afterwards) and preferences (respected for access-request mails), the password change (current
password required, other sessions end, this one stays), and the login-email change (a single-use link
to the new address, a notice to the old one, old sessions end). Every change is audited. Every test
gets a copy of one world built once for the module."""
from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import AccountToken, AuditEvent, OutboxMail, Person, Site, db
from models.base import utcnow
from tests.helpers.mail import body_text, link_in
from tests.helpers.module_world import SessionHelper, module_world_fixtures
from tests.helpers.catalogs import translation
from tests.helpers.pages import field_error, form_token, parse, text
from tests.helpers.state import let_time_pass
from tests.helpers.world import PASSWORD, World

PAT = "pat@example.com"              # primary of the site, an approver of its requests
MIA = "mia@example.com"              # secondary with Manage access = Update: the other approver
REQUESTER = "requester@example.com"  # member of no site, asks for access
NEW_PASSWORD = "a brand new passphrase"
NAMES = {PAT: ("Pat", "Primary"), MIA: ("Mia", "Manager"), REQUESTER: ("Rita", "Requester")}


def build_world(world: World, app) -> dict:
    for email, (first, last) in NAMES.items():
        world.person(email, first_name=first, last_name=last)
    site = world.site(PAT, customer="Acme Corp", name="Acme Works")
    world.member(site, MIA, "secondary", {"manage_access": 2})
    with app.app_context():
        db.session.execute(sa.update(OutboxMail).values(status="sent", sent_at=utcnow()))
        db.session.commit()
        number = db.session.get(Site, site).site_number
    return {"site": site, "site_number": number}


class Helper(SessionHelper):
    def person(self, email) -> Person | None:
        with self.app.app_context():
            person = db.session.scalar(sa.select(Person).where(Person.email == email))
            db.session.expunge_all()
        return person

    def audit(self, action=None) -> list[AuditEvent]:
        with self.app.app_context():
            statement = sa.select(AuditEvent).order_by(AuditEvent.id)
            if action:
                statement = statement.where(AuditEvent.action == action)
            events = db.session.scalars(statement).all()
            db.session.expunge_all()
        return list(events)

    def outbox(self, template=None) -> list[OutboxMail]:
        """Mail queued by the test (whatever the deliverer has done with it since)."""
        with self.app.app_context():
            statement = sa.select(OutboxMail).where(OutboxMail.id > self.outbox_start).order_by(OutboxMail.id)
            if template:
                statement = sa.select(OutboxMail).where(OutboxMail.template == template).order_by(OutboxMail.id)
            rows = db.session.scalars(statement).all()
            db.session.expunge_all()
        return list(rows)

    def state(self):
        with self.app.app_context():
            result = (
                tuple(tuple(row) for row in db.session.execute(sa.select(
                    Person.email, Person.first_name, Person.last_name, Person.language, Person.time_zone,
                    Person.notification_email, Person.notification_preferences, Person.password_hash, Person.session_version)
                    .order_by(Person.id))),
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)),
                db.session.scalar(sa.select(sa.func.count()).select_from(AccountToken)),
            )
            db.session.rollback()
        return result

    def signed_in(self, client) -> bool:
        response = client.get("/settings/")
        if response.status_code == 200:
            return True
        assert response.status_code == 302 and response.location.startswith("/sign-in"), response.status_code
        return False

    def can_sign_in(self, email, password=PASSWORD) -> bool:
        client = self.app.test_client()
        response = client.submit("/sign-in", {"email": email, "password": password})
        return response.status_code == 303

    def self_nominate(self):
        client = self.become(REQUESTER, self.new_client())
        response = self.post("/request-access", {
            "site_number": self.ids["site_number"], "company_name": "Acme Corp", "first_name": "Rita",
            "last_name": "Requester", "business_justification": "I run the licence renewals."}, client=client)
        assert response.status_code == 303, response.status_code
        return [(m.recipient, m.template) for m in self.outbox("access_request_received")]


# Every person of the world is signed in; the tests' apps offer German as well.
module_world, module_smtp, smtp, shared_app, app, h = module_world_fixtures(build_world, NAMES, Helper,
                                                                            LANGUAGES=["en", "de"])


def section(markup: str, heading: str) -> str:
    """The <article> of My settings whose heading is `heading`."""
    for article in parse(markup).find_all("article"):
        if any(title.text == heading for title in article.find_all("h2")):
            return article.html
    raise AssertionError(f"no section {heading!r}")


def settings_form(**changes) -> dict:
    form = {"first_name": "Pat", "last_name": "Primary", "language": "", "notification_email": "",
            "access_requests": "y", "privilege_changes": "y"}
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def link_of(row: OutboxMail, prefix: str) -> str:
    match = re.search(rf"http://localhost({re.escape(prefix)}\S+)", row.text_body)
    assert match, f"no link to {prefix} in {row.template}"
    return match.group(1)


def set_notification_email(h, address="pat.alerts@example.com", client=None):
    """Ask for a notification email in My settings and open the link mailed to it (issue 10, Low 8)."""
    response = h.post("/settings/", settings_form(notification_email=address), client=client)
    assert response.status_code == 303, response.status_code
    link = link_of(h.outbox("notification_email")[-1], "/settings/notification-email/")
    assert h.new_client().submit(link).status_code == 303
    return link


# --- the page -----------------------------------------------------------------------------------

def test_my_settings_shows_the_person_and_every_part(h):
    h.become(PAT)
    response = h.client.get("/settings/")
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert "<h1>My settings</h1>" in markup and "Login email: pat@example.com" in text(markup)
    profile = section(markup, "Profile and notifications")
    assert 'id="first_name"' in profile and 'value="Pat"' in profile and 'value="Primary"' in profile
    assert re.search(r'<input checked id="access_requests"', profile), "preferences are on by default"
    assert re.search(r'<input checked id="privilege_changes"', profile)
    assert "It is not a contact email and does not change with one." in text(profile)
    assert 'name="current_password"' in section(markup, "Password")
    assert 'name="new_email"' in section(markup, "Login email")


def test_the_labels_of_my_settings_point_at_one_control_each(h):
    # Two forms on one page each have a "Current password": their ids must differ, or a label (and an
    # error's aria-describedby) points at the other form's field.
    h.become(PAT)
    markup = h.client.get("/settings/").get_data(as_text=True)
    targets = Counter(re.findall(r'<label for="([^"]+)"', markup))
    ids = Counter(re.findall(r'\bid="([^"]+)"', markup))
    assert {target: ids[target] for target in targets if ids[target] != 1} == {}


def test_a_person_without_any_site_has_my_settings_too(h):
    h.become(REQUESTER)
    assert h.client.get("/settings/").status_code == 200


def test_my_settings_needs_sign_in(h):
    response = h.new_client().get("/settings/")
    assert response.status_code == 302 and response.location.startswith("/sign-in")


# --- name, language, notification email and preferences -----------------------------------------

def test_saving_name_language_and_notification_email_is_audited(h):
    h.become(PAT)
    response = h.post("/settings/", settings_form(first_name=" Patricia ", last_name="Prime", language="de",
                                                  time_zone="Europe/Berlin", notification_email="Pat.Alerts@example.com",
                                                  privilege_changes=None))
    assert response.status_code == 303 and response.location == "/settings/"
    person = h.person(PAT)
    assert (person.first_name, person.last_name, person.language, person.time_zone) == \
        ("Patricia", "Prime", "de", "Europe/Berlin")
    assert person.notification_email is None, "a new notification email waits for its link (issue 10)"
    assert person.notification_preferences == {"access_requests": True, "privilege_changes": False}
    assert person.email == PAT, "the login email does not change with the notification email"
    [event] = h.audit("person.settings_changed")
    assert event.actor_label == PAT and event.target_id == person.id
    assert event.before == {"first_name": "Pat", "last_name": "Primary", "language": None, "time_zone": None,
                            "notification_email": None, "preferences": {}}
    assert event.after == {"first_name": "Patricia", "last_name": "Prime", "language": "de",
                           "time_zone": "Europe/Berlin", "notification_email": None,
                           "preferences": {"access_requests": True, "privilege_changes": False}}
    [requested] = h.audit("person.notification_email_requested")
    assert requested.after == {"notification_email": "pat.alerts@example.com"}
    page = h.client.get("/settings/").get_data(as_text=True)
    assert '<html lang="de">' in page, "the chosen language is used from the next page on"
    assert translation("de", "Settings saved.") in text(page)
    assert translation("de", "A link was sent to %(email)s: mail goes there once it is opened. Until then it goes "
                             "to %(current)s.", email="pat.alerts@example.com", current=PAT) in text(page)
    assert 'value="Patricia"' in page
    assert re.search(r'<input id="privilege_changes"', page), "an unchecked preference shows unchecked"
    link = link_of(h.outbox("notification_email")[0], "/settings/notification-email/")
    assert h.post(link).status_code == 303
    assert h.person(PAT).notification_email == "pat.alerts@example.com"
    [changed] = h.audit("person.notification_email_changed")
    assert changed.before == {"notification_email": None} and changed.after == {"notification_email": "pat.alerts@example.com"}
    page = h.client.get("/settings/").get_data(as_text=True)
    assert 'value="pat.alerts@example.com"' in page and "A link was sent" not in text(page)


def test_the_browser_language_is_used_until_one_is_chosen(h):
    h.become(PAT)
    page = h.client.get("/settings/", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert '<html lang="de">' in page
    h.post("/settings/", settings_form(language="en"))
    page = h.client.get("/settings/", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in page


@pytest.mark.parametrize("changes, field_id, message", [
    ({"first_name": ""}, "first_name", "This field is required."),
    ({"first_name": "   "}, "first_name", "This field is required."),
    ({"last_name": ""}, "last_name", "This field is required."),
    ({"first_name": "x" * 101}, "first_name", "100"),
    ({"language": "xx"}, "language", "Choose a language."),
    ({"time_zone": "Mars/Olympus"}, "time_zone", "Choose a time zone."),
    ({"time_zone": "../../etc/passwd"}, "time_zone", "Choose a time zone."),
    ({"time_zone": "Europe/Berlin" * 50}, "time_zone", "Choose a time zone."),
    ({"time_zone": "localtime"}, "time_zone", "Choose a time zone."),
    ({"notification_email": "not-an-address"}, "notification_email", "valid email address"),
    ({"notification_email": "pat@localhost"}, "notification_email", "valid email address"),
])
def test_invalid_settings_are_refused_in_place_and_nothing_is_written(h, changes, field_id, message):
    h.become(PAT)
    before = h.state()
    response = h.post("/settings/", settings_form(**changes))
    assert response.status_code == 422
    profile = section(response.get_data(as_text=True), "Profile and notifications")
    assert message in field_error(profile, field_id)
    assert h.state() == before


def test_mail_goes_to_the_notification_email_once_it_is_set(h, smtp):
    h.become(PAT)
    set_notification_email(h)
    smtp.wait_for(1)
    smtp.sink.messages.clear()
    assert sorted(h.self_nominate()) == [(MIA, "access_request_received"),
                                         ("pat.alerts@example.com", "access_request_received")]
    arrived = {m["To"] for m in smtp.wait_for(2)}
    assert arrived == {MIA, "pat.alerts@example.com"}
    # The login stays the login email.
    assert h.can_sign_in(PAT) and not h.can_sign_in("pat.alerts@example.com")


def test_clearing_the_notification_email_sends_mail_to_the_login_email_again(h):
    h.become(PAT)
    set_notification_email(h)
    h.post("/settings/", settings_form(notification_email=""))
    assert h.person(PAT).notification_email is None
    assert sorted(h.self_nominate()) == [(MIA, "access_request_received"), (PAT, "access_request_received")]


def test_turning_off_access_request_mail_stops_it_but_not_the_request(h):
    h.become(PAT)
    h.post("/settings/", settings_form(access_requests=None))
    assert h.person(PAT).notification_preferences["access_requests"] is False
    assert h.self_nominate() == [(MIA, "access_request_received")]
    # The request still waits in the app for Pat.
    page = h.client.get(f"/sites/{h.ids['site']}/requests").get_data(as_text=True)
    assert "Rita Requester" in text(page)


def test_preferences_are_per_person(h):
    h.become(MIA)
    h.post("/settings/", settings_form(first_name="Mia", last_name="Manager", access_requests=None))
    assert h.self_nominate() == [(PAT, "access_request_received")]


# --- password -----------------------------------------------------------------------------------

def password_form(current=PASSWORD, new=NEW_PASSWORD, confirm=None) -> dict:
    return {"current_password": current, "password": new, "confirm": new if confirm is None else confirm}


@pytest.mark.parametrize("form, field_id, message", [
    (password_form(current="wrong password here"), "current_password", "The current password is not right."),
    (password_form(current=""), "current_password", "This field is required."),
    (password_form(new="short"), "password", "at least 12 characters"),
    (password_form(new="password1234"), "password", "too common"),
    (password_form(confirm="something else entirely"), "confirm", "do not match"),
])
def test_a_refused_password_change_shows_why_in_place_and_changes_nothing(h, form, field_id, message):
    h.become(PAT)
    before = h.state()
    response = h.post("/settings/password", form)
    assert response.status_code == 422
    part = section(response.get_data(as_text=True), "Password")
    assert message in field_error(part, field_id)
    assert h.state() == before
    assert h.can_sign_in(PAT) and h.signed_in(h.client)


def test_changing_the_password_ends_other_sessions_and_keeps_this_one(h):
    here = h.become(PAT, h.new_client())
    elsewhere = h.become(PAT, h.new_client())
    assert h.signed_in(here) and h.signed_in(elsewhere)
    response = h.post("/settings/password", password_form(), client=here)
    assert response.status_code == 303 and response.location == "/settings/"
    page = here.get("/settings/")
    assert page.status_code == 200, "the session that changed the password stays signed in"
    assert "Your password is changed; other sessions are signed out." in text(page.get_data(as_text=True))
    assert h.signed_in(here)
    assert not h.signed_in(elsewhere), "another session is signed out"
    assert h.can_sign_in(PAT, NEW_PASSWORD) and not h.can_sign_in(PAT, PASSWORD)
    [event] = h.audit("person.password_changed")
    assert event.actor_label == PAT and event.target_id == h.person(PAT).id
    assert PASSWORD not in repr((event.before, event.after)) and NEW_PASSWORD not in repr((event.before, event.after))


def test_the_new_password_session_can_still_post_forms(h):
    here = h.become(PAT, h.new_client())
    h.post("/settings/password", password_form(), client=here)
    # The old CSRF token went with the old session: a fresh page gives a fresh one that works.
    page = here.get("/settings/").get_data(as_text=True)
    token = form_token(page)
    saved = here.post("/settings/", data={**settings_form(first_name="Patty"), "csrf_token": token})
    assert saved.status_code == 303 and h.person(PAT).first_name == "Patty"


# --- login email --------------------------------------------------------------------------------

def request_change(h, new_email="pat.new@example.com", client=None):
    return h.post("/settings/email", {"new_email": new_email, "current_password": PASSWORD}, client=client)


def test_an_email_change_sends_a_link_to_the_new_address_and_a_notice_to_the_old(h, smtp):
    h.become(PAT)
    set_notification_email(h)
    smtp.wait_for(1)
    smtp.sink.messages.clear()
    response = request_change(h)
    assert response.status_code == 303
    assert "We sent a link to pat.new@example.com." in text(h.client.get("/settings/").get_data(as_text=True))
    rows = {m.template: m for m in h.outbox() if m.template.startswith("email_change")}
    assert rows["email_change"].recipient == "pat.new@example.com"
    assert rows["email_change_notice"].recipient == PAT, "the old login address is told"
    assert "pat.new@example.com" in rows["email_change_notice"].text_body
    assert h.person(PAT).email == PAT, "nothing changes before the link is opened"
    assert h.can_sign_in(PAT) and not h.can_sign_in("pat.new@example.com")
    messages = {m["To"]: m for m in smtp.wait_for(2)}
    assert set(messages) == {"pat.new@example.com", PAT}
    assert link_in(messages["pat.new@example.com"], "/settings/email/")
    assert "/settings/email/" not in body_text(messages[PAT]), "the old address gets no link"


def test_the_link_changes_the_login_email_once_and_ends_every_session(h):
    here = h.become(PAT, h.new_client())
    elsewhere = h.become(PAT, h.new_client())
    set_notification_email(h, client=here)
    request_change(h, client=here)
    link = link_of(h.outbox("email_change")[0], "/settings/email/")
    opened = here.get(link)
    assert opened.status_code == 200
    assert "Your login email becomes pat.new@example.com." in text(opened.get_data(as_text=True))
    assert h.person(PAT).email == PAT, "opening the page changes nothing; confirming does"
    confirmed = h.post(link, client=here)
    assert confirmed.status_code == 303 and confirmed.location.startswith("/sign-in")
    person = h.person("pat.new@example.com")
    assert person is not None and h.person(PAT) is None
    assert person.notification_email == "pat.alerts@example.com", "the notification email stays as it was"
    assert person.email_verified_at is not None
    assert not h.signed_in(elsewhere) and not h.signed_in(here), "old sessions end"
    assert h.can_sign_in("pat.new@example.com") and not h.can_sign_in(PAT)
    [event] = h.audit("person.email_changed")
    assert event.before == {"email": PAT} and event.after == {"email": "pat.new@example.com"}
    # Second use: the link is spent.
    again = h.new_client()
    assert again.get(link).status_code == 410
    assert again.submit(link).status_code == 410
    assert h.person("pat.new@example.com") is not None


def test_the_link_works_without_being_signed_in(h):
    h.become(PAT)
    request_change(h)
    link = link_of(h.outbox("email_change")[0], "/settings/email/")
    anonymous = h.new_client()
    assert anonymous.get(link).status_code == 200
    assert anonymous.submit(link).status_code == 303
    assert h.person("pat.new@example.com") is not None


def test_a_lapsed_link_is_refused(h):
    h.become(PAT)
    request_change(h)
    link = link_of(h.outbox("email_change")[0], "/settings/email/")
    with h.app.app_context():
        token = db.session.scalar(sa.select(AccountToken).where(AccountToken.purpose == "change_email"))
        assert abs(token.expires_at - token.created_at - timedelta(hours=24)) < timedelta(seconds=5)
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert h.client.get(link).status_code == 410
    assert h.post(link).status_code == 410
    assert h.person(PAT) is not None and h.person("pat.new@example.com") is None


def test_a_second_request_makes_the_first_link_stop_working(h):
    h.become(PAT)
    request_change(h, "pat.first@example.com")
    request_change(h, "pat.second@example.com")
    first, second = (link_of(row, "/settings/email/") for row in h.outbox("email_change"))
    assert h.post(first).status_code == 410
    assert h.person("pat.first@example.com") is None
    assert h.post(second).status_code == 303
    assert h.person("pat.second@example.com") is not None


def test_an_address_taken_meanwhile_is_refused_on_confirmation(h):
    h.become(PAT)
    request_change(h, "pat.new@example.com")
    link = link_of(h.outbox("email_change")[0], "/settings/email/")
    World(h.app).person("pat.new@example.com")
    assert h.post(link).status_code == 410
    assert h.person(PAT) is not None


@pytest.mark.parametrize("new_email, password, field_id, message", [
    # Its own id: the password form on the same page has a current_password field too.
    ("pat.new@example.com", "wrong password here", "email-current-password", "The current password is not right."),
    (MIA, PASSWORD, "new_email", "Another account uses this address."),
    ("MIA@example.com", PASSWORD, "new_email", "Another account uses this address."),
    (PAT, PASSWORD, "new_email", "This is already your login email."),
    ("not-an-address", PASSWORD, "new_email", "valid email address"),
    ("", PASSWORD, "new_email", "This field is required."),
])
def test_a_refused_email_change_shows_why_in_place_and_sends_nothing(h, new_email, password, field_id, message):
    h.become(PAT)
    before = h.state()
    response = h.post("/settings/email", {"new_email": new_email, "current_password": password})
    assert response.status_code == 422
    part = section(response.get_data(as_text=True), "Login email")
    assert message in field_error(part, field_id)
    assert h.state() == before


# --- every change of password or login email ends earlier links (issue 10, Low 2) ----------------

def reset_link(h) -> str:
    """Ask for a reset link for Pat, from a client that is not signed in; return its path."""
    assert h.new_client().submit("/forgot-password", {"email": PAT}).status_code == 303
    return link_of(h.outbox("reset_password")[-1], "/reset-password/")


def test_a_password_change_ends_earlier_reset_and_email_change_links(h):
    h.become(PAT)
    reset = reset_link(h)
    request_change(h)
    change = link_of(h.outbox("email_change")[0], "/settings/email/")
    assert h.new_client().get(reset).status_code == 200 and h.new_client().get(change).status_code == 200
    assert h.post("/settings/password", password_form()).status_code == 303
    assert h.new_client().get(reset).status_code == 410, "a reset link from before the change is dead"
    assert h.new_client().get(change).status_code == 410, "an email change from before it is dead"
    assert h.new_client().submit(change).status_code == 410 and h.person(PAT) is not None


def test_an_email_change_ends_earlier_reset_links(h):
    h.become(PAT)
    reset = reset_link(h)
    request_change(h)
    change = link_of(h.outbox("email_change")[0], "/settings/email/")
    assert h.post(change).status_code == 303
    anonymous = h.new_client()
    assert anonymous.get(reset).status_code == 410
    assert anonymous.submit(reset, {"password": "someone else's passphrase",
                                    "confirm": "someone else's passphrase"}).status_code == 410
    assert h.can_sign_in("pat.new@example.com")


# --- the current-password checks count as failed sign-ins (issue 10, Low 3) -----------------------

@pytest.mark.parametrize("url, form", [
    ("/settings/password", password_form(current="wrong password here")),
    ("/settings/email", {"new_email": "pat.new@example.com", "current_password": "wrong password here"}),
])
def test_wrong_current_passwords_in_my_settings_lock_the_account_like_sign_in(h, url, form):
    h.become(PAT)
    for _attempt in range(10):
        assert h.post(url, form).status_code == 422
    assert h.person(PAT).locked_until is not None, "ten wrong current passwords lock the account"
    assert not h.can_sign_in(PAT), "the right password does not sign in while locked"
    refused = h.post("/settings/password", password_form())
    assert refused.status_code == 422, "nor does it change the password while locked"
    assert "The current password is not right." in field_error(section(refused.get_data(as_text=True), "Password"),
                                                                "current_password")
    assert h.can_sign_in(PAT, PASSWORD) is False and h.person(PAT).email == PAT
    let_time_pass(h.app, timedelta(minutes=15, seconds=1))
    assert h.can_sign_in(PAT)


def test_nine_wrong_current_passwords_and_a_right_one_do_not_lock(h):
    h.become(PAT)
    for _attempt in range(9):
        h.post("/settings/password", password_form(current="wrong password here"))
    assert h.person(PAT).failed_sign_ins == 9
    assert h.post("/settings/password", password_form()).status_code == 303
    assert h.person(PAT).failed_sign_ins == 0 and h.can_sign_in(PAT, NEW_PASSWORD)


# --- a new notification email takes effect when its link is opened (issue 10, Low 8) --------------

def test_a_new_notification_email_takes_effect_only_through_its_link(h, smtp):
    # Before the fix the address was set at once: mail about a site could be routed anywhere.
    h.become(PAT)
    set_notification_email(h, "pat.alerts@example.com")
    response = h.post("/settings/", settings_form(notification_email="elsewhere@attacker.example"))
    assert response.status_code == 303
    page = text(h.client.get("/settings/").get_data(as_text=True))
    assert "We sent a link to elsewhere@attacker.example. Mail goes there once you open it." in page
    assert "A link was sent to elsewhere@attacker.example" in page
    assert h.person(PAT).notification_email == "pat.alerts@example.com", "the old one stays until the link"
    assert sorted(h.self_nominate())[1] == ("pat.alerts@example.com", "access_request_received")
    [row] = [m for m in h.outbox("notification_email") if m.recipient == "elsewhere@attacker.example"]
    assert row.subject == "Confirm your Sitepass notification email"
    link = link_of(row, "/settings/notification-email/")
    opened = h.new_client().get(link)
    assert opened.status_code == 200 and h.person(PAT).notification_email == "pat.alerts@example.com"
    assert h.new_client().submit(link).status_code == 303
    assert h.person(PAT).notification_email == "elsewhere@attacker.example"
    assert h.new_client().submit(link).status_code == 410, "single use"


def test_a_notification_email_link_lapses_after_24_hours(h):
    h.become(PAT)
    h.post("/settings/", settings_form(notification_email="pat.alerts@example.com"))
    link = link_of(h.outbox("notification_email")[0], "/settings/notification-email/")
    with h.app.app_context():
        token = db.session.scalar(sa.select(AccountToken).where(AccountToken.purpose == "notification_email"))
        assert abs(token.expires_at - token.created_at - timedelta(hours=24)) < timedelta(seconds=5)
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert h.new_client().get(link).status_code == 410
    assert h.new_client().submit(link).status_code == 410
    assert h.person(PAT).notification_email is None
