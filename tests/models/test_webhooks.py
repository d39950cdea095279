"""Signed webhooks (issue 16), against a real HTTP receiver on loopback: the events each change emits in
its own transaction, delivery once and signed, retries with backoff, and the request-forgery guard."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from examples.webhook_receiver import verify_signature
from models import Membership, RuleViolation, Site, db, utcnow
from models import api, webhook
from models.person import find_person


@pytest.fixture
def hooks(app, world, receiver):
    """Loopback allowed; an operator, site 1001 with its primary and a user; a key with an endpoint for
    every event at the receiver."""
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = True
    operator = world.operator()
    site_id = world.site("primary@example.com", number="1001")
    membership_id = world.member(site_id, "user@example.com", role="user", levels={"software": 1})
    with app.app_context():
        actor = db.session.get(api.Person, operator)
        key, _plain = api.create_api_key(actor, "Portal")
        endpoint, secret = webhook.add_endpoint(actor, key, receiver.url, list(webhook.EVENTS))
        db.session.commit()
        return {"operator": operator, "site": site_id, "membership": membership_id, "key": key.id,
                "endpoint": endpoint.id, "secret": secret}


def remove_user(app):
    from models.membership import remove_member
    with app.app_context():
        site = db.session.scalar(sa.select(Site).where(Site.site_number == "1001"))
        membership = db.session.scalar(sa.select(Membership).where(
            Membership.person_id == find_person("user@example.com").id))
        remove_member(site, find_person("primary@example.com"), membership)
        db.session.commit()


def deliveries(app) -> list[webhook.WebhookDelivery]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(webhook.WebhookDelivery).order_by(webhook.WebhookDelivery.id)))
        db.session.expunge_all()
        return rows


def deliver(app) -> dict:
    """Run the delivery job as the scheduler does."""
    from models.scheduler import deliver_webhooks
    with app.app_context():
        try:
            return deliver_webhooks()
        finally:
            db.session.remove()


def test_a_removal_reaches_the_receiver_once_signed(app, hooks, receiver):
    remove_user(app)
    [row] = deliveries(app)
    assert row.event_type == "member.removed" and row.status == webhook.PENDING
    assert deliver(app)["delivered"] == 1
    assert deliver(app) == {"delivered": 0, "deferred": 0, "failed": 0}
    [request] = receiver.received
    assert request["path"] == "/hooks/sitepass"
    assert request["headers"]["Content-Type"] == "application/json"
    assert verify_signature(hooks["secret"], request["body"], request["headers"]["Sitepass-Signature"])
    event = json.loads(request["body"])
    assert event["id"] == row.event_id == request["headers"]["Sitepass-Event-Id"]
    assert event["type"] == "member.removed" and event["site_number"] == "1001"
    assert event["subject"]["label"] == "user@example.com"
    assert event["before"]["role"] == "user" and event["before"]["levels"]["software"] == 1
    assert event["after"] is None and event["occurred_at"].endswith("Z")
    [row] = deliveries(app)
    assert row.status == webhook.DELIVERED and row.attempts == 1 and row.last_status_code == 204


def test_receiver_down_then_up_is_delivered_with_the_same_event_id(app, hooks, receiver):
    receiver.stop()
    remove_user(app)
    assert deliver(app)["deferred"] == 1
    [row] = deliveries(app)
    assert row.status == webhook.PENDING and row.attempts == 1 and row.last_error
    assert row.next_attempt_at > utcnow() + timedelta(seconds=50)
    receiver.start()
    assert deliver(app)["delivered"] == 0, "not due yet: backoff"
    assert receiver.received == []
    with app.app_context():
        db.session.execute(sa.update(webhook.WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert deliver(app)["delivered"] == 1
    [request] = receiver.received
    assert json.loads(request["body"])["id"] == row.event_id
    assert deliveries(app)[0].status == webhook.DELIVERED and deliveries(app)[0].attempts == 2


def test_errors_back_off_then_fail_for_good(app, hooks, receiver):
    receiver.status = 500
    remove_user(app)
    delays = []
    for _attempt in range(len(webhook.RETRY_DELAYS) + 1):
        before = utcnow()
        deliver(app)
        row = deliveries(app)[0]
        delays.append(round((row.next_attempt_at - before).total_seconds() / 60))
        with app.app_context():
            db.session.execute(sa.update(webhook.WebhookDelivery).values(next_attempt_at=utcnow()))
            db.session.commit()
    row = deliveries(app)[0]
    assert row.status == webhook.FAILED and row.attempts == 6 and row.last_status_code == 500
    assert delays[:5] == [1, 5, 30, 120, 360]
    assert len(receiver.received) == 6


def test_a_tampered_body_an_other_secret_or_an_old_signature_fail_the_check(app, hooks, receiver):
    remove_user(app)
    deliver(app)
    [request] = receiver.received
    body, header = request["body"], request["headers"]["Sitepass-Signature"]
    assert verify_signature(hooks["secret"], body, header)
    assert not verify_signature(hooks["secret"], body.replace(b"user@example.com", b"boss@example.com"), header)
    assert not verify_signature(hooks["secret"] + "x", body, header)
    assert not verify_signature(hooks["secret"], body, header, now=time.time() + 301)
    assert not verify_signature(hooks["secret"], body, "v1=" + header.split("v1=")[1])
    assert not verify_signature(hooks["secret"], body, "garbage")


def test_the_delivery_is_rolled_back_with_the_change(app, hooks):
    from models.membership import remove_member
    with app.app_context():
        site = db.session.get(Site, hooks["site"])
        remove_member(site, find_person("primary@example.com"), db.session.get(Membership, hooks["membership"]))
        db.session.flush()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(webhook.WebhookDelivery)) == 1
        db.session.rollback()
    assert deliveries(app) == []


def test_a_revoked_key_or_a_site_outside_its_scope_gets_nothing(app, world, hooks):
    with app.app_context():
        key = db.session.get(api.ApiKey, hooks["key"])
        acme = db.session.get(Site, hooks["site"]).customer_id
        api.set_api_key_scope(db.session.get(api.Person, hooks["operator"]), key, [acme])
        db.session.commit()
    other = world.site("primary.b@example.com", number="2002", customer="Beta Corp")
    from models.membership import add_member
    with app.app_context():
        add_member(db.session.get(Site, other), find_person("primary.b@example.com"), "user@example.com", "user",
                   "help", {})
        db.session.commit()
    assert deliveries(app) == [], "site 2002 is outside the key's scope"
    with app.app_context():
        api.revoke_api_key(db.session.get(api.Person, hooks["operator"]), db.session.get(api.ApiKey, hooks["key"]))
        db.session.commit()
    remove_user(app)
    assert deliveries(app) == []


# --- every event is emitted by its change ------------------------------------------------------------

def _added(site, primary, operator):
    from models.membership import add_member
    from models.person import create_person
    create_person("new@example.com", None, "New", "Member", verified=True)
    add_member(site, primary, "new@example.com", "user", "needs it", {})


def _changed(site, primary, operator):
    from models.membership import update_member
    from models.tool import tool_by_key
    membership = db.session.scalar(sa.select(Membership).where(
        Membership.person_id == find_person("user@example.com").id))
    update_member(site, primary, membership, "user", {tool_by_key("software").id: 2})


def _removed(site, primary, operator):
    from models.membership import remove_member
    remove_member(site, primary, db.session.scalar(sa.select(Membership).where(
        Membership.person_id == find_person("user@example.com").id)))


def _accepted(site, primary, operator):
    from models.invitation import accept_invitation, invite
    from models.person import create_person
    invitation, _token = invite(site, "invitee@example.com", "user", primary, "needs it")
    accept_invitation(invitation, create_person("invitee@example.com", None, "In", "Vitee", verified=True))


def _primary(site, primary, operator):
    from models.primary_transfer import recover_site
    recover_site(site, operator, "the primary left", membership=db.session.scalar(sa.select(Membership).where(
        Membership.person_id == find_person("user@example.com").id)))


def _contact(site, primary, operator):
    from models.contact import save_contact
    save_contact(site, primary, {
        "first_name": "Bill", "last_name": "Payer", "phone": "+49 30 1234567", "email": "billing@example.com",
        "address": "Hauptstr. 1", "city": "Berlin", "subdivision": "DE-BE", "postal_code": "10115",
        "country": "DE"}, ["billing"])


def _decided(site, primary, operator):
    from models.access_request import reject_request, submit_privilege_request
    from models.tool import tool_by_key
    membership = db.session.scalar(sa.select(Membership).where(
        Membership.person_id == find_person("user@example.com").id))
    request = submit_privilege_request(membership, tool_by_key("software"), 2, "for the new line")
    reject_request(site, primary, request, "not_required")


@pytest.mark.parametrize("event, change", [
    ("member.added", _added), ("access.changed", _changed), ("member.removed", _removed),
    ("invitation.accepted", _accepted), ("primary.changed", _primary), ("contact.changed", _contact),
    ("request.decided", _decided)])
def test_every_event_is_emitted_by_its_change(app, hooks, event, change):
    assert set(webhook.EVENTS) == {"member.added", "access.changed", "member.removed", "invitation.accepted",
                                   "primary.changed", "contact.changed", "request.decided"}
    with app.app_context():
        site = db.session.get(Site, hooks["site"])
        change(site, find_person("primary@example.com"), db.session.get(api.Person, hooks["operator"]))
        db.session.commit()
    rows = deliveries(app)
    assert event in {row.event_type for row in rows}
    for row in rows:
        body = json.loads(row.body)
        assert body["type"] == row.event_type and body["site_number"] == "1001" and body["id"] == row.event_id


def test_an_endpoint_gets_only_the_events_it_chose(app, hooks, receiver):
    with app.app_context():
        actor = db.session.get(api.Person, hooks["operator"])
        key = db.session.get(api.ApiKey, hooks["key"])
        only_added, _secret = webhook.add_endpoint(actor, key, receiver.url, ["member.added"])
        db.session.commit()
        only_added = only_added.id
    remove_user(app)
    assert [row.endpoint_id for row in deliveries(app)] == [hooks["endpoint"]]


# --- the request-forgery guard --------------------------------------------------------------------------

REFUSED = ["https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://192.168.0.5/", "https://172.16.0.1/",
           "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[::ffff:127.0.0.1]/",
           "https://[fe80::1]/", "https://0.0.0.0/", "https://224.0.0.1/", "https://100.64.0.1/",
           "https://localhost/hook", "https://user:pw@example.com/", "ftp://example.com/", "javascript:alert(1)",
           "https://exa mple.com/", "", "https://" + "a" * 2000 + ".com/", "https://example.com:99999/"]


@pytest.mark.parametrize("url", REFUSED)
def test_unsafe_urls_are_refused_at_save(app, hooks, url):
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = False
    with app.app_context():
        key = db.session.get(api.ApiKey, hooks["key"])
        with pytest.raises(RuleViolation) as refused:
            webhook.add_endpoint(db.session.get(api.Person, hooks["operator"]), key, url, ["member.added"])
        assert refused.value.field == "url" and str(refused.value.message)


def test_http_is_refused_without_the_loopback_setting_and_to_public_addresses_with_it(app, hooks, receiver):
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = False
    with app.app_context():
        with pytest.raises(webhook.UnsafeAddress):
            webhook.check_url(receiver.url)
        with pytest.raises(webhook.UnsafeAddress):
            webhook.check_url("http://93.184.215.14/")
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = True
    with app.app_context():
        assert webhook.check_url(receiver.url)[4] == "127.0.0.1"
        with pytest.raises(webhook.UnsafeAddress):
            webhook.check_url("http://93.184.215.14/")
        with pytest.raises(webhook.UnsafeAddress):
            webhook.check_url("https://10.0.0.1/")
    assert webhook.address_is_allowed("93.184.215.14") and webhook.address_is_allowed("2606:4700::1111")
    assert not webhook.address_is_allowed("::ffff:10.0.0.1") and not webhook.address_is_allowed("fc00::1")


def test_a_hostname_that_resolves_to_loopback_is_refused_at_delivery(app, hooks, receiver):
    remove_user(app)
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = False  # the endpoint was saved while loopback was allowed
    assert deliver(app)["failed"] == 1
    assert receiver.received == []
    [row] = deliveries(app)
    assert row.status == webhook.FAILED and "refused" in row.last_error


def test_a_redirect_is_followed_with_the_guard_on_every_hop(app, hooks, receiver):
    receiver.redirect_to = f"http://localhost:{receiver.port}/final"
    remove_user(app)
    assert deliver(app)["delivered"] == 1
    assert [request["path"] for request in receiver.received] == ["/hooks/sitepass", "/final"]
    assert verify_signature(hooks["secret"], receiver.received[1]["body"],
                            receiver.received[1]["headers"]["Sitepass-Signature"])
    receiver.received.clear()
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data"
    with app.app_context():
        _added(db.session.get(Site, hooks["site"]), find_person("primary@example.com"), None)
        db.session.commit()
    assert deliver(app)["failed"] == 1
    assert [request["path"] for request in receiver.received] == ["/hooks/sitepass"]
    assert "refused" in deliveries(app)[-1].last_error


def test_redirects_stop_after_three(app, hooks, receiver):
    receiver.redirect_to = "/again"
    remove_user(app)
    assert deliver(app)["deferred"] == 1
    assert len(receiver.received) == 4
    assert deliveries(app)[0].last_status_code == 307


def test_resend_sends_again_with_the_same_event_id(app, hooks, receiver):
    remove_user(app)
    deliver(app)
    with app.app_context():
        delivery = db.session.scalar(sa.select(webhook.WebhookDelivery))
        webhook.resend_delivery(db.session.get(api.Person, hooks["operator"]), delivery)
        db.session.commit()
    assert deliver(app)["delivered"] == 1
    first, second = receiver.received
    assert json.loads(first["body"])["id"] == json.loads(second["body"])["id"]


def test_the_readme_quotes_the_receiver_check_the_tests_use():
    import inspect
    import pathlib

    import examples.webhook_receiver as receiver_module
    readme = pathlib.Path(__file__).parents[2].joinpath("README.md").read_text()
    assert inspect.getsource(receiver_module.verify_signature) in readme
    assert "SITEPASS_WEBHOOK_ALLOW_LOOPBACK" in readme


def test_a_slow_receiver_is_cut_at_the_total_timeout_and_retried(app, hooks, receiver, monkeypatch):
    monkeypatch.setattr(webhook, "TOTAL_TIMEOUT", 1.0)
    receiver.trickle_seconds = 4.0  # every byte comes well within the per-read timeout
    remove_user(app)
    started = time.monotonic()
    assert deliver(app)["deferred"] == 1
    assert time.monotonic() - started < 3
    [row] = deliveries(app)
    assert row.status == webhook.PENDING and "within 1 s" in row.last_error


def test_a_revoked_key_stops_its_pending_deliveries(app, hooks, receiver):
    remove_user(app)
    with app.app_context():
        api.revoke_api_key(db.session.get(api.Person, hooks["operator"]), db.session.get(api.ApiKey, hooks["key"]))
        db.session.commit()
    assert deliver(app)["failed"] == 1
    assert receiver.received == []
