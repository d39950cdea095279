"""Signed webhooks (issue 16): per API key, endpoints that receive a POST for each change of access.

Where events come from: every change of access already writes one audit event (models/audit.py
`record()`, called by models/grants.py and the other rules). A `before_flush` listener of the session
turns each new audit event whose action is in ACTION_EVENTS into one WebhookDelivery row per matching
endpoint, in the same flush and so the same transaction as the change: a change that is rolled back
leaves no delivery, a committed one always has its deliveries. No rule has to remember to emit.

How they leave: the scheduler's "deliver-webhooks" job (models/scheduler.py) claims due rows with a
conditional UPDATE, POSTs the JSON body signed with HMAC-SHA256 (header `Sitepass-Signature:
t=<unix time>,v1=<hex HMAC of "t." + body>`), and retries errors and timeouts after 1 min, 5 min,
30 min, 2 h and 6 h before it gives up ("failed", which an operator may resend). Every delivery of an
event carries the same event id, so a receiver drops duplicates.

Server-side request forgery guard: only https:// URLs whose host resolves to public (global) addresses
only, checked when the endpoint is saved and again at every delivery and every redirect (at most 3,
followed here, never by the client); the connection goes to the address that was checked (no second
DNS lookup to rebind) while Host and TLS SNI carry the name. WEBHOOK_ALLOW_LOOPBACK (environment
SITEPASS_WEBHOOK_ALLOW_LOOPBACK=true) also lets loopback addresses through, over http:// as well:
for development and tests only.

The secret: stored as it is in the database, since HMAC needs the secret itself (a hash would not do)
and encrypting it with a key the same process holds would protect only against a leak of the database
alone, which already holds every member's personal data. It is shown once, when the endpoint is added,
like an API key; an operator who lost it deletes the endpoint and adds it again.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
import unicodedata
import uuid
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .api import ApiKey
from .audit import AuditEvent, record
from .base import db, utcnow
from .errors import RuleViolation
from .tables import Site

log = logging.getLogger(__name__)

# The events an endpoint may subscribe to, in the console's order, with their labels.
EVENTS = {
    "member.added": _l("Member added"),
    "access.changed": _l("Access changed"),
    "member.removed": _l("Member removed"),
    "invitation.accepted": _l("Invitation accepted"),
    "primary.changed": _l("Primary contact changed"),
    "contact.changed": _l("Contact changed"),
    "request.decided": _l("Request decided"),
}
# The audit actions (models/audit.py) that are each event.
ACTION_EVENTS = {
    "membership.added": "member.added",
    "membership.changed": "access.changed",
    "membership.removed": "member.removed",
    "membership.left": "member.removed",
    "invitation.accepted": "invitation.accepted",
    "membership.primary_granted": "primary.changed",
    "primary.transferred": "primary.changed",
    "primary.recovered": "primary.changed",
    "contact.added": "contact.changed",
    "contact.saved": "contact.changed",
    "contact.deleted": "contact.changed",
    "request.approved": "request.decided",
    "request.rejected": "request.decided",
}

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
STATUS_LABELS = {PENDING: _l("Pending"), SENDING: _l("Sending"), DELIVERED: _l("Delivered"), FAILED: _l("Failed")}
# After the first attempt fails, the next ones come after these; then the delivery has failed for good.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=6))
# A row left in "sending" by a killed process is tried again after this long.
STALE_CLAIM = timedelta(minutes=10)
CONNECT_TIMEOUT, TOTAL_TIMEOUT = 3.0, 10.0
MAX_REDIRECTS = 3
MAX_URL_LENGTH = 2000
MAX_ENDPOINTS_PER_KEY = 10
SIGNATURE_HEADER = "Sitepass-Signature"
SECRET_PREFIX = "whsec_"
USER_AGENT = "Sitepass-Webhooks/1"


class WebhookEndpoint(db.Model):
    """Where one API key's application wants to hear of changes, and which changes."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_key.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(MAX_URL_LENGTH))
    events: Mapped[list] = mapped_column(sa.JSON)
    secret: Mapped[str] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    api_key: Mapped[ApiKey] = relationship()

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id} {self.url}>"

    @property
    def event_labels(self) -> list[str]:
        return [str(EVENTS[event]) for event in EVENTS if event in self.events]


class WebhookDelivery(db.Model):
    """One event for one endpoint: the exact body that is signed and sent, and how its delivery goes."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'sending', 'delivered', 'failed')", name="status"),
        sa.UniqueConstraint("endpoint_id", "event_id"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_delivery_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(36))
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(sa.String(32))
    # The JSON text as sent: the signature covers these very bytes on every attempt.
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.event_type} {self.status}>"

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])


# --- the address guard --------------------------------------------------------------------------

class UnsafeAddress(RuleViolation):
    """A webhook URL that the request-forgery guard refuses."""

    def __init__(self, message):
        super().__init__(message, "url")


class UnresolvedHost(UnsafeAddress):
    """A webhook URL whose host does not resolve (now): refused at save, tried again at delivery."""


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_loopback or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None
                              and ip.ipv4_mapped.is_loopback)


def loopback_allowed() -> bool:
    """Whether WEBHOOK_ALLOW_LOOPBACK is on (development and tests only)."""
    value = current_app.config.get("WEBHOOK_ALLOW_LOOPBACK", False)
    return value is True or str(value).lower() in ("true", "1", "yes")


def address_is_allowed(address: str, allow_loopback: bool = False) -> bool:
    """Whether a webhook may connect to this IP address: only global unicast ones (no loopback, private,
    link-local — the cloud metadata address 169.254.169.254 among them — shared, multicast, reserved or
    unspecified ones; an IPv4-mapped IPv6 address is judged as its IPv4 address), loopback too when allowed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_loopback and ip.is_loopback:
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_private or ip.is_link_local
                                 or ip.is_loopback or ip.is_unspecified)


def check_url(url: str) -> tuple[str, str, int, str, str]:
    """Check a webhook URL against the request-forgery guard and resolve it; return (scheme, host, port,
    path with query, the checked address to connect to). Raises UnsafeAddress with the reason.

    https:// only, no user name or password in it, and every address its host resolves to
    (socket.getaddrinfo) must pass address_is_allowed(); with WEBHOOK_ALLOW_LOOPBACK, http:// too,
    but to loopback addresses only."""
    url = url or ""
    if not url.strip():
        raise UnsafeAddress(_l("Enter the endpoint's URL."))
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeAddress(_l("The URL is longer than %(most)d characters.", most=MAX_URL_LENGTH))
    if any(unicodedata.category(char)[0] in "CZ" for char in url):
        raise UnsafeAddress(_l("The URL must not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise UnsafeAddress(_l("This is not a valid URL.")) from None
    loopback = loopback_allowed()
    if parts.scheme not in ("https", "http") or not host:
        raise UnsafeAddress(_l("The URL must start with https:// and name a host."))
    if parts.scheme == "http" and not loopback:
        raise UnsafeAddress(_l("The URL must start with https://."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeAddress(_l("The URL must not contain a user name or password."))
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        host.encode("idna")
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise UnresolvedHost(_l("The host of this URL cannot be found.")) from None
    addresses = [info[4][0] for info in found]
    if not addresses or not all(address_is_allowed(address, loopback) for address in addresses):
        raise UnsafeAddress(_l("The URL must lead to a public internet address, not a private, local or "
                               "reserved one."))
    if parts.scheme == "http" and not all(_is_loopback(address) for address in addresses):
        raise UnsafeAddress(_l("The URL must start with https://."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port, path, addresses[0]


# --- the events ---------------------------------------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def _endpoints_for(event_type: str, site: Site | None) -> list[WebhookEndpoint]:
    candidates = db.session.scalars(_usable_endpoints_statement(), {"now": utcnow()})
    chosen = []
    for endpoint in candidates:
        key = endpoint.api_key
        if event_type not in endpoint.events:
            continue
        if not key.all_sites and (site is None or site.customer_id not in {c.id for c in key.customers}):
            continue
        chosen.append(endpoint)
    return chosen


@functools.cache
def _usable_endpoints_statement():
    # Built once (every change of access runs it; building it cost more than running it), run with "now".
    return (sa.select(WebhookEndpoint).join(ApiKey, WebhookEndpoint.api_key_id == ApiKey.id)
            .where(ApiKey.revoked_at.is_(None),
                   sa.or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > sa.bindparam("now")))
            .order_by(WebhookEndpoint.id))


def event_body(event_id: str, event_type: str, audit: AuditEvent, site: Site | None) -> str:
    """The JSON text of one event: its id, type, site number, time, who or what it is about, and the
    access (or record) before and after, as the audit event keeps them."""
    body = {
        "id": event_id,
        "type": event_type,
        "action": audit.action,
        "site_number": site.site_number if site is not None else None,
        "occurred_at": _iso(audit.occurred_at),
        "subject": {"type": audit.target_type, "label": audit.target_label},
        "before": audit.before,
        "after": audit.after,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def emit(audit: AuditEvent) -> list[WebhookDelivery]:
    """Add a delivery of this audit event to every endpoint that subscribed to its webhook event and whose
    key is usable and reaches its site; nothing for an action that is no webhook event. The caller's
    transaction holds them (no commit here)."""
    event_type = ACTION_EVENTS.get(audit.action)
    if event_type is None:
        return []
    site = db.session.get(Site, audit.site_id) if audit.site_id is not None else None
    endpoints = _endpoints_for(event_type, site)
    if not endpoints:
        return []
    if audit.occurred_at is None:
        audit.occurred_at = utcnow()
    event_id = str(uuid.uuid4())
    body = event_body(event_id, event_type, audit, site)
    deliveries = [WebhookDelivery(event_id=event_id, endpoint_id=endpoint.id, event_type=event_type, body=body,
                                  status=PENDING, attempts=0, next_attempt_at=audit.occurred_at)
                  for endpoint in endpoints]
    db.session.add_all(deliveries)
    return deliveries


@sa.event.listens_for(db.session, "before_flush")
def _emit_for_new_audit_events(session, _context, _instances):
    """Every audit event of a change of access becomes its webhook deliveries in the same flush."""
    fresh = [obj for obj in session.new if isinstance(obj, AuditEvent) and obj.action in ACTION_EVENTS]
    if not fresh:
        return
    with session.no_autoflush:
        for audit in fresh:
            emit(audit)


# --- the operators' commands --------------------------------------------------------------------

def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def add_endpoint(actor, key: ApiKey, url: str, events) -> tuple[WebhookEndpoint, str]:
    """Add a webhook endpoint to a usable key; return it and its secret (shown once). The URL must pass
    check_url(); at least one known event; at most MAX_ENDPOINTS_PER_KEY per key."""
    if not key.is_usable():
        raise RuleViolation(_l("This API key is revoked or expired: it can have no webhooks."))
    chosen = [event for event in EVENTS if event in set(events or [])]
    if not events or len(chosen) != len(set(events)):
        raise RuleViolation(_l("Choose at least one event."), "events")
    url = (url or "").strip()
    check_url(url)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)
                              .where(WebhookEndpoint.api_key_id == key.id))
    if count >= MAX_ENDPOINTS_PER_KEY:
        raise RuleViolation(_l("A key can have at most %(most)d webhook endpoints.", most=MAX_ENDPOINTS_PER_KEY))
    secret = new_secret()
    endpoint = WebhookEndpoint(api_key_id=key.id, url=url, events=chosen, secret=secret,
                               created_by_id=getattr(actor, "id", None))
    db.session.add(endpoint)
    db.session.flush()
    record(actor, "webhook.added", target=("webhook_endpoint", endpoint.id, url),
           after={"api_key": key.prefix, "url": url, "events": chosen})
    return endpoint, secret


def delete_endpoint(actor, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its deliveries (pending ones are not sent any more)."""
    record(actor, "webhook.deleted", target=("webhook_endpoint", endpoint.id, endpoint.url),
           before={"api_key": endpoint.api_key.prefix, "url": endpoint.url, "events": endpoint.events})
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)


def resend_delivery(actor, delivery: WebhookDelivery) -> None:
    """Send a delivery again, at once and with a fresh count of attempts (same event id and body)."""
    if delivery.status == SENDING:
        raise RuleViolation(_l("This delivery is being sent right now."))
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status, delivery.attempts, delivery.next_attempt_at = PENDING, 0, utcnow()
    delivery.claimed_at = None
    record(actor, "webhook.resent", target=("webhook_delivery", delivery.id, delivery.event_id), before=before,
           after={"status": PENDING})


def endpoints_of(key: ApiKey) -> list[WebhookEndpoint]:
    return list(db.session.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.api_key_id == key.id)
                                   .order_by(WebhookEndpoint.id)))


def recent_deliveries(key: ApiKey, limit: int = 50) -> list[WebhookDelivery]:
    """The key's newest deliveries, newest first."""
    return list(db.session.scalars(
        sa.select(WebhookDelivery).join(WebhookEndpoint, WebhookDelivery.endpoint_id == WebhookEndpoint.id)
        .where(WebhookEndpoint.api_key_id == key.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)))


# --- delivery -----------------------------------------------------------------------------------

def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The Sitepass-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body with the secret>."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the guard checked, while the Host header names the host."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), CONNECT_TIMEOUT)
        self.sock.settimeout(self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked address; TLS checks the certificate against the host name (SNI too)."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), CONNECT_TIMEOUT)
        sock.settimeout(self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post_once(url: str, body: bytes, headers: dict, deadline: float) -> tuple[int, str | None]:
    """POST to one URL after the guard; return the status code and the Location of a redirect."""
    scheme, host, port, path, address = check_url(url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("timed out")
    kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, address, remaining)
    # The whole exchange ends at the deadline, however slowly the receiver trickles its answer: a timer
    # shuts the socket down (a blocked read returns then), and the per-read timeout alone could not.
    fired = threading.Event()

    def cut():
        fired.set()
        if connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(remaining, cut)
    timer.start()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        if fired.is_set():  # an answer cut short is no answer
            raise TimeoutError(f"no complete answer within {TOTAL_TIMEOUT:g} s")
        return response.status, response.getheader("Location")
    except TimeoutError:
        raise
    except (OSError, http.client.HTTPException, AttributeError, ValueError) as exc:
        if fired.is_set():
            raise TimeoutError(f"no complete answer within {TOTAL_TIMEOUT:g} s") from exc
        raise
    finally:
        timer.cancel()
        connection.close()


def post(url: str, secret: str, event_id: str, body: str) -> int:
    """POST a signed body, following up to MAX_REDIRECTS redirects with the guard on each hop; return the
    final status code. Raises UnsafeAddress, OSError (timeouts among them) or http.client errors."""
    raw = body.encode("utf-8")
    deadline = time.monotonic() + TOTAL_TIMEOUT
    for _hop in range(MAX_REDIRECTS + 1):
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Sitepass-Event-Id": event_id,
                   SIGNATURE_HEADER: sign(secret, raw, int(time.time()))}
        status, location = _post_once(url, raw, headers, deadline)
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        return status
    return status


def _claim_due(now: datetime, limit: int) -> list[int]:
    due = sa.or_(sa.and_(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now),
                 sa.and_(WebhookDelivery.status == SENDING, WebhookDelivery.claimed_at < now - STALE_CLAIM))
    ids = list(db.session.scalars(sa.select(WebhookDelivery.id).where(due).order_by(WebhookDelivery.id).limit(limit)))
    claimed = []
    for delivery_id in ids:
        # Conditional update: a row is claimed by one deliverer only.
        won = db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, due)
                                 .values(status=SENDING, claimed_at=now)).rowcount
        if won:
            claimed.append(delivery_id)
    db.session.commit()
    return claimed


def _finish(delivery: WebhookDelivery, status_code: int | None, error: str | None, for_good: bool = False) -> str:
    now = utcnow()
    delivery.attempts += 1
    delivery.claimed_at = None
    delivery.last_status_code = status_code
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = DELIVERED, now, None
        outcome = "delivered"
    elif for_good or delivery.attempts > len(RETRY_DELAYS):
        delivery.status, delivery.last_error = FAILED, error
        outcome = "failed"
        log.error("webhook delivery %s failed for good: %s", delivery.id, error)
    else:
        delivery.status, delivery.last_error = PENDING, error
        delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
        outcome = "deferred"
        log.warning("webhook delivery %s deferred (attempt %s): %s", delivery.id, delivery.attempts, error)
    db.session.commit()
    return outcome


def deliver_due(limit: int = 50) -> dict[str, int]:
    """Send the webhook deliveries that are due; return how many were delivered, deferred and failed. Commits."""
    counts = {"delivered": 0, "deferred": 0, "failed": 0}
    for delivery_id in _claim_due(utcnow(), limit):
        delivery = db.session.get(WebhookDelivery, delivery_id)
        endpoint = delivery.endpoint
        url, secret, event_id, body = endpoint.url, endpoint.secret, delivery.event_id, delivery.body
        db.session.commit()  # no transaction stays open during the request
        status_code, error, for_good = None, None, False
        if not endpoint.api_key.is_usable():
            counts[_finish(delivery, None, "the API key is revoked or expired", for_good=True)] += 1
            continue
        try:
            status_code = post(url, secret, event_id, body)
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except UnresolvedHost as exc:
            error = f"{exc.message}"
        except UnsafeAddress as exc:
            error, for_good = f"refused: {exc.message}", True
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
        counts[_finish(delivery, status_code, error, for_good)] += 1
    return counts
