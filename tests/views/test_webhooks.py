"""The Operator console's webhooks page (issue 16): add an endpoint (secret shown once), the URL guard's
messages next to the field, delete with confirmation, recent deliveries and Resend; operators only."""
from __future__ import annotations

import html
import json

import pytest
import sqlalchemy as sa

from examples.webhook_receiver import verify_signature
from models import AuditEvent, Membership, db
from models import api, webhook
from models.person import find_person


@pytest.fixture
def setup(app, world, auth):
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = True
    operator = world.operator()
    site = world.site("primary@example.com", number="1001")
    world.member(site, "user@example.com", role="user")
    with app.app_context():
        key, _plain = api.create_api_key(db.session.get(api.Person, operator), "Portal")
        other, _plain = api.create_api_key(db.session.get(api.Person, operator), "Other")
        db.session.commit()
        return {"key": key.id, "other": other.id, "site": site}


def page_of(key_id):
    return f"/operator/api-keys/{key_id}/webhooks/"


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_api_keys_page_links_each_key_to_its_webhooks(client, auth, setup):
    auth.sign_in("operator@example.com")
    listing = client.get("/operator/api-keys").get_data(as_text=True)
    assert page_of(setup["key"]).rstrip("/") in listing and page_of(setup["other"]).rstrip("/") in listing


def test_add_an_endpoint_shows_its_secret_once_and_it_signs_real_deliveries(app, client, auth, setup, receiver):
    auth.sign_in("operator@example.com")
    assert "No webhook endpoints yet." in client.get(page_of(setup["key"])).get_data(as_text=True)
    response = client.submit(page_of(setup["key"]), {"url": receiver.url, "events": ["member.removed",
                                                                                      "access.changed"]})
    assert response.status_code == 201
    text = response.get_data(as_text=True)
    secret = text.split('id="new-webhook-secret" type="text" readonly value="')[1].split('"')[0]
    assert secret.startswith("whsec_")
    assert secret not in client.get(page_of(setup["key"])).get_data(as_text=True), "shown only once"
    with app.app_context():
        endpoint = db.session.scalar(sa.select(webhook.WebhookEndpoint))
        assert endpoint.events == ["access.changed", "member.removed"] and endpoint.api_key_id == setup["key"]
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "webhook.added"))
        assert event.actor_label == "operator@example.com" and secret not in str(event.after)
    # The primary removes the user in the app: the receiver gets it, signed with the shown secret.
    auth.sign_out()
    auth.sign_in("primary@example.com")
    with app.app_context():
        membership_id = db.session.scalar(sa.select(Membership.id).where(
            Membership.person_id == find_person("user@example.com").id))
    from models.scheduler import deliver_webhooks
    with app.app_context():
        from models import Site
        from models.membership import remove_member
        remove_member(db.session.get(Site, setup["site"]), find_person("primary@example.com"),
                      db.session.get(Membership, membership_id))
        db.session.commit()
        assert deliver_webhooks()["delivered"] == 1
    [request] = receiver.received
    assert verify_signature(secret, request["body"], request["headers"]["Sitepass-Signature"])
    assert json.loads(request["body"])["type"] == "member.removed"
    auth.sign_out()
    auth.sign_in("operator@example.com")
    listing = client.get(page_of(setup["key"])).get_data(as_text=True)
    assert "Recent deliveries" in listing and "Delivered" in listing and "Member removed" in listing


@pytest.mark.parametrize("url, message", [
    ("", "Enter the endpoint"),
    ("https://127.0.0.1/hook", "public internet address"),
    ("https://169.254.169.254/latest/meta-data", "public internet address"),
    ("https://10.0.0.8/", "public internet address"),
    ("https://[::1]/", "public internet address"),
    ("https://localhost/", "public internet address"),
    ("http://example.com/", "https://"),
    ("https://exa\tmple.com/", "spaces or control characters"),
    ("https://exa\x01mple.com/", "spaces or control characters"),
    ("\u202ehttps://x", "spaces or control characters"),
    ("https://" + "a" * 3000, "longer than"),
    ("not a url at all", "spaces or control"),
    ("mailto:x@example.com", "https://"),
])
def test_a_refused_url_gets_its_message_next_to_the_field_and_changes_nothing(app, client, auth, setup, url, message):
    app.config["WEBHOOK_ALLOW_LOOPBACK"] = False
    auth.sign_in("operator@example.com")
    response = client.submit(page_of(setup["key"]), {"url": url, "events": ["member.added"]})
    assert response.status_code == 422
    text = html.unescape(response.get_data(as_text=True))
    error = text.split('id="url-error" class="field-error">')[1].split("</small>")[0]
    assert message in error
    assert 'aria-invalid="true"' in text
    assert count(app, webhook.WebhookEndpoint) == 0


def test_no_events_or_an_unknown_one_is_refused_next_to_the_events(app, client, auth, setup, receiver):
    auth.sign_in("operator@example.com")
    for events in ([], ["member.added", "everything"]):
        response = client.submit(page_of(setup["key"]), {"url": receiver.url, "events": events})
        assert response.status_code == 422
        assert "Choose at least one event." in response.get_data(as_text=True).split('id="events-error"')[1]
    assert count(app, webhook.WebhookEndpoint) == 0


def add(app, setup, receiver, key="key"):
    with app.app_context():
        operator = find_person("operator@example.com")
        endpoint, _secret = webhook.add_endpoint(operator, db.session.get(api.ApiKey, setup[key]), receiver.url,
                                                 ["member.added"])
        db.session.commit()
        return endpoint.id


def test_delete_asks_first_then_deletes_and_audits(app, client, auth, setup, receiver):
    endpoint_id = add(app, setup, receiver)
    auth.sign_in("operator@example.com")
    listing = client.get(page_of(setup["key"])).get_data(as_text=True)
    confirm_url = f"{page_of(setup['key'])}{endpoint_id}/delete"
    assert confirm_url in listing
    confirm = client.get(confirm_url)
    assert confirm.status_code == 200 and receiver.url in confirm.get_data(as_text=True)
    assert count(app, webhook.WebhookEndpoint) == 1, "a GET changes nothing"
    response = client.submit(confirm_url)
    assert response.status_code == 303 and response.headers["Location"].endswith(page_of(setup["key"]))
    assert count(app, webhook.WebhookEndpoint) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "webhook.deleted"))


def test_an_endpoint_or_delivery_of_another_key_is_404(app, client, auth, setup, receiver):
    endpoint_id = add(app, setup, receiver, key="other")
    auth.sign_in("operator@example.com")
    assert client.get(f"{page_of(setup['key'])}{endpoint_id}/delete").status_code == 404
    assert client.submit(f"{page_of(setup['key'])}{endpoint_id}/delete").status_code == 404
    assert client.get(page_of(999999)).status_code == 404
    assert count(app, webhook.WebhookEndpoint) == 1


def test_resend_queues_the_delivery_again_and_is_audited(app, client, auth, setup, receiver):
    add(app, setup, receiver)
    with app.app_context():
        from models import Site
        from models.membership import add_member
        from models.person import create_person
        create_person("new@example.com", None, "New", "Member", verified=True)
        add_member(db.session.get(Site, setup["site"]), find_person("primary@example.com"), "new@example.com",
                   "user", "needs it", {})
        db.session.commit()
        delivery = db.session.scalar(sa.select(webhook.WebhookDelivery))
        delivery.status, delivery.attempts = webhook.FAILED, 6
        db.session.commit()
        delivery_id = delivery.id
    auth.sign_in("operator@example.com")
    listing = client.get(page_of(setup["key"])).get_data(as_text=True)
    assert "Failed" in listing and "Resend" in listing
    response = client.submit(f"{page_of(setup['key'])}deliveries/{delivery_id}/resend")
    assert response.status_code == 303
    with app.app_context():
        delivery = db.session.get(webhook.WebhookDelivery, delivery_id)
        assert delivery.status == webhook.PENDING and delivery.attempts == 0
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "webhook.resent"))
    assert client.submit(f"{page_of(setup['other'])}deliveries/{delivery_id}/resend").status_code == 404


def test_only_operators_and_only_with_csrf(app, client, auth, setup, receiver):
    endpoint_id = add(app, setup, receiver)
    assert client.get(page_of(setup["key"])).status_code in (302, 303)
    auth.sign_in("primary@example.com")
    assert client.get(page_of(setup["key"])).status_code == 403
    assert client.submit(page_of(setup["key"]), {"url": receiver.url, "events": ["member.added"]}).status_code == 403
    assert client.submit(f"{page_of(setup['key'])}{endpoint_id}/delete").status_code == 403
    auth.sign_out()
    auth.sign_in("operator@example.com")
    assert client.post(page_of(setup["key"]), data={"url": receiver.url, "events": ["member.added"]}).status_code == 400
    assert client.post(f"{page_of(setup['key'])}{endpoint_id}/delete").status_code == 400
    assert count(app, webhook.WebhookEndpoint) == 1
