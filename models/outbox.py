"""The mail outbox: every mail is a row written in the transaction of the change that causes it,
delivered through Flask-Mail after the commit, retried with backoff, and sent at most once."""
from __future__ import annotations

import logging
import smtplib
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.utils import make_msgid

import flask_babel
import pytz
import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from flask_mail import Connection, Mail, Message
from sqlalchemy.orm import Mapped, mapped_column

from .base import TIME_ZONES, db, utcnow

log = logging.getLogger(__name__)
mail = Mail()

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
# A row left in "sending" by a killed process is tried again after this long.
STALE_CLAIM = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=6)

SUBJECTS = {
    "invitation": _l("You are invited to site %(site_number)s on Sitepass"),
    "invitation_reminder": _l("Reminder: your invitation to site %(site_number)s expires soon"),
    "welcome": _l("Welcome to site %(site_number)s on Sitepass"),
    "verify_email": _l("Confirm your email address for Sitepass"),
    "reset_password": _l("Reset your Sitepass password"),
    "access_request_received": _l("Access request for site %(site_number)s"),
    "contacts_review_reminder": _l("Please review the contacts of site %(site_number)s"),
    "primary_transfer_offer": _l("You are offered the primary contact role of site %(site_number)s"),
    "primary_transferred": _l("The primary contact of site %(site_number)s changed"),
    "email_change": _l("Confirm your new Sitepass login email"),
    "email_change_notice": _l("Your Sitepass login email is being changed"),
    "account_exists": _l("Someone tried to create a Sitepass account with your address"),
    "notification_email": _l("Confirm your Sitepass notification email"),
    "coverage_reminder": _l("Support coverage of site %(site_number)s ends soon"),
    "privilege_changed": _l("Your access to site %(site_number)s changed"),
    "request_approved": _l("Your access request for site %(site_number)s is approved"),
    "request_rejected": _l("Your access request for site %(site_number)s is rejected"),
    "document_uploaded": _l("A new account document for site %(site_number)s"),
}


class OutboxMail(db.Model):
    __tablename__ = "outbox_mail"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        sa.Index("ix_outbox_mail_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text)
    template: Mapped[str] = mapped_column(sa.String(64), default="")
    # Stable across retries so that a receiving server can drop a duplicate.
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    def __repr__(self) -> str:
        return f"<OutboxMail {self.id} {self.template} to={self.recipient} {self.status}>"


def mail_language(person, on_behalf_of=None) -> str:
    """The language a mail is written in (issue 14): the recipient's choice in My settings, else the
    instance default (the browser's preference is unknown when mail is written, by the scheduler too).
    For an address without an account (`person` None), the language of the person on whose behalf it
    goes, such as the inviter (the operator for a new site): their choice, else the language they are
    using right now (their page's, in their request), else the instance default."""
    languages = current_app.config["LANGUAGES"]
    if person is not None:
        return person.language if person.language in languages else current_app.config["DEFAULT_LANGUAGE"]
    chosen = getattr(on_behalf_of, "language", None)
    if chosen in languages:
        return chosen
    current = get_locale()
    if on_behalf_of is not None and current is not None and str(current) in languages:
        return str(current)
    return current_app.config["DEFAULT_LANGUAGE"]


def mail_time_zone(person, on_behalf_of=None) -> str:
    """The time zone a mail's times are written in: the recipient's choice, for an address without an
    account the choice of the person it goes on behalf of (as mail_language), else the instance's."""
    for who in (person,) if person is not None else (on_behalf_of,):
        if getattr(who, "time_zone", None) in TIME_ZONES:
            return who.time_zone
    return current_app.config["TIMEZONE"]


@contextmanager
def force_time_zone(name: str):
    """Like flask_babel.force_locale, for the time zone that its date formatters convert to."""
    context = flask_babel._get_current_context()
    if context is None:
        yield
        return
    before = getattr(context, "babel_tzinfo", None)
    context.babel_tzinfo = pytz.timezone(name)
    try:
        yield
    finally:
        context.babel_tzinfo = before


def compose_mail(person, template: str, *, to: str | None = None, on_behalf_of=None, **context) -> OutboxMail:
    """Render a mail in the recipient's language into an outbox row, without queueing it.

    `person` (or None for an address without account) decides language (mail_language, with
    `on_behalf_of` for an address without account) and, unless `to` is given, the address: their
    notification email when set. A rule that must do the same work whether or not it sends (so that
    timing does not tell) composes in both cases and queues in one.
    """
    recipient = to or person.mail_address
    language = mail_language(person, on_behalf_of)
    site = context.get("site")
    with force_locale(language), force_time_zone(mail_time_zone(person, on_behalf_of)):
        subject = str(SUBJECTS[template] % {"site_number": getattr(site, "site_number", "")})
        context.update(person=person, recipient=recipient, subject=subject)
        text = render_template(f"email/{template}.txt", **context)
        html = render_template(f"email/{template}.html", **context)
    domain = recipient.rpartition("@")[2] or "sitepass"
    return OutboxMail(recipient=recipient, subject=subject, text_body=text, html_body=html, template=template,
                      message_id=make_msgid(domain=_sender_domain(domain)), status=PENDING, next_attempt_at=utcnow())


def queue(row: OutboxMail) -> OutboxMail:
    """Add a composed mail to the outbox of this transaction (delivered after the commit)."""
    db.session.add(row)
    wake_deliverer()
    return row


def wake_deliverer() -> None:
    """Have the deliverer run after this transaction commits (queue() does; so may a rule that must
    look, and take as long, as if it had queued a mail)."""
    db.session.info["outbox_app"] = current_app._get_current_object()


def queue_mail(person, template: str, *, to: str | None = None, on_behalf_of=None, **context) -> OutboxMail:
    """Render a mail in the recipient's language and add it to the outbox of this transaction."""
    return queue(compose_mail(person, template, to=to, on_behalf_of=on_behalf_of, **context))


def _sender_domain(fallback: str) -> str:
    sender = current_app.config.get("MAIL_DEFAULT_SENDER") or ""
    if isinstance(sender, (tuple, list)):
        sender = sender[-1]
    return sender.rpartition("@")[2].strip(">") or fallback


class TimedConnection(Connection):
    """Flask-Mail's SMTP connection with a timeout: a hung relay must not block a worker forever."""

    def configure_host(self):
        timeout = current_app.config["MAIL_TIMEOUT"]
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def _claim_due(now: datetime, limit: int) -> list[int]:
    ids = list(db.session.scalars(
        sa.select(OutboxMail.id).where(
            sa.or_(sa.and_(OutboxMail.status == PENDING, OutboxMail.next_attempt_at <= now),
                   sa.and_(OutboxMail.status == SENDING, OutboxMail.claimed_at < now - STALE_CLAIM)))
        .order_by(OutboxMail.id).limit(limit)
    ))
    claimed = []
    for mail_id in ids:
        # Conditional update: a row is claimed by one deliverer only.
        won = db.session.execute(
            sa.update(OutboxMail).where(
                OutboxMail.id == mail_id,
                sa.or_(OutboxMail.status == PENDING,
                       sa.and_(OutboxMail.status == SENDING, OutboxMail.claimed_at < now - STALE_CLAIM)))
            .values(status=SENDING, claimed_at=now)
        ).rowcount
        if won:
            claimed.append(mail_id)
    db.session.commit()
    return claimed


def deliver_due(limit: int = 100) -> dict[str, int]:
    """Deliver the mails that are due; return how many were sent, deferred and failed for good."""
    counts = {"sent": 0, "deferred": 0, "failed": 0}
    claimed = _claim_due(utcnow(), limit)
    if not claimed:
        return counts
    state = current_app.extensions["mail"]
    connection = None
    try:
        for mail_id in claimed:
            row = db.session.get(OutboxMail, mail_id)
            outcome, error = "sent", None
            try:
                if connection is None:
                    connection = TimedConnection(state).__enter__()
                connection.send(_message(row))
            except smtplib.SMTPResponseException as exc:
                outcome, error = ("failed" if exc.smtp_code >= 500 else "deferred"), f"{exc.smtp_code} {exc.smtp_error!r}"
                connection = _close(connection)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _msg in exc.recipients.values()]
                outcome, error = ("failed" if all(c >= 500 for c in codes) else "deferred"), repr(exc.recipients)
                connection = _close(connection)
            except (OSError, smtplib.SMTPException) as exc:
                outcome, error = "deferred", f"{type(exc).__name__}: {exc}"
                connection = _close(connection)
            _finish(row, outcome, error)
            counts[outcome] += 1
    finally:
        _close(connection)
    return counts


def _message(row: OutboxMail) -> Message:
    message = Message(subject=row.subject, recipients=[row.recipient], body=row.text_body, html=row.html_body)
    message.msgId = row.message_id
    return message


def _close(connection):
    if connection is not None:
        try:
            connection.__exit__(None, None, None)
        except (OSError, smtplib.SMTPException):
            pass
    return None


def _finish(row: OutboxMail, outcome: str, error: str | None) -> None:
    now = utcnow()
    row.attempts += 1
    row.claimed_at = None
    if outcome == "sent":
        row.status, row.sent_at, row.last_error = SENT, now, None
    elif outcome == "failed":
        row.status, row.last_error = FAILED, error
        log.error("mail %s to %s refused for good: %s", row.id, row.recipient, error)
    else:
        row.status, row.last_error = PENDING, error
        # MAIL_RETRY_SECONDS (a minute) doubled per attempt, up to MAX_BACKOFF; the scheduler retries it then.
        first = current_app.config.get("MAIL_RETRY_SECONDS", 60)
        row.next_attempt_at = now + min(timedelta(seconds=first * 2 ** min(row.attempts - 1, 10)), MAX_BACKOFF)
        log.warning("mail %s to %s deferred (attempt %s): %s", row.id, row.recipient, row.attempts, error)
    db.session.commit()


def _deliver_in_background(app) -> None:
    def run():
        with app.app_context():
            try:
                deliver_due()
            except Exception:  # a failure here must never reach the request that caused the mail
                log.exception("background mail delivery failed; the scheduler will retry")
            finally:
                db.session.remove()

    threading.Thread(target=run, name="sitepass-mail", daemon=True).start()


def install_delivery_after_commit() -> None:
    """Start delivery in a background thread after every commit that queued mail."""

    @sa.event.listens_for(db.session, "after_commit")
    def after_commit(session):
        app = session.info.pop("outbox_app", None)
        if app is not None and app.config["MAIL_DELIVER_AFTER_COMMIT"]:
            _deliver_in_background(app)

    @sa.event.listens_for(db.session, "after_rollback")
    def after_rollback(session):
        session.info.pop("outbox_app", None)
