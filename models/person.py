"""People: one login per email address, passwords, sign-in throttling and account tokens."""
from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from .audit import current_address, record
from .base import TIME_ZONES, db, utcnow
from .email_address import EmailNotValidError, email_problem, valid_email_address
from .errors import RuleViolation
from .outbox import compose_mail, queue, queue_mail, wake_deliverer
from .throttle import count_events, note_event, take
from .tokens import hash_token, new_token

# argon2id, memory 19 MiB, time 2, parallelism 1 (RELIABILITY.md): about 25 ms here.
password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified for unknown emails so that their answer takes as long as a wrong password.
_DUMMY_HASH = password_hasher.hash("sitepass-dummy-password-for-timing")

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
THROTTLE_FAILURES = 10
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_LOCK = timedelta(minutes=15)
# Failed sign-ins from one client address across all accounts (spraying one password over many):
# 30 within 15 minutes, and that client's sign-ins are refused until its failures age out.
CLIENT_FAILURES = 30
CLIENT_FAILURE_WINDOW = timedelta(minutes=15)

# Account mails (sign-up, password reset, verification resend, login-email change, notification
# email), shared across those kinds: to one address at most one new link every 5 minutes and 5 a
# day; from one client address at most 20 such requests an hour.
ADDRESS_MAIL_LIMITS = [(1, timedelta(minutes=5)), (5, timedelta(days=1))]
CLIENT_MAIL_LIMITS = [(20, timedelta(hours=1))]

RESET_VALIDITY = timedelta(hours=1)
VERIFY_VALIDITY = timedelta(hours=48)
EMAIL_CHANGE_VALIDITY = timedelta(hours=24)
NOTIFICATION_EMAIL_VALIDITY = timedelta(hours=24)


def _load_common_passwords() -> frozenset[str]:
    text = resources.files("models").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


COMMON_PASSWORDS = _load_common_passwords()


def display_name(first_name: str | None, last_name: str | None, email: str) -> str:
    """Return how a person is named on screen and in mail: their first and last name, else their email
    (Person.display_name, and the User list's plain rows that read these three columns)."""
    name = f"{first_name or ''} {last_name or ''}".strip()
    return name or email


class Person(db.Model):
    __tablename__ = "person"
    __table_args__ = (sa.Index("uq_person_email_lower", sa.func.lower(sa.text("email")), unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    first_name: Mapped[str] = mapped_column(sa.String(100), default="")
    last_name: Mapped[str] = mapped_column(sa.String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    language: Mapped[str | None] = mapped_column(sa.String(16))
    # An IANA name of TIME_ZONES; None: the instance's (TIMEZONE).
    time_zone: Mapped[str | None] = mapped_column(sa.String(64))
    notification_email: Mapped[str | None] = mapped_column(sa.String(254))
    notification_preferences: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    is_operator: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None]
    # Raised to end every session of this person at once (sign-out, password change, deactivation).
    session_version: Mapped[int] = mapped_column(default=1)
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    failed_window_started_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.email}>"

    @property
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.email)

    @property
    def is_verified(self) -> bool:
        """Whether the person proved they read the mailbox of their login email (until then a stranger)."""
        return self.email_verified_at is not None

    @property
    def mail_address(self) -> str:
        """Where mail for this person goes: the notification email when set, else the login email."""
        return self.notification_email or self.email

    # Flask-Login protocol. The id carries the session version so that raising it ends old cookies.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class AccountToken(db.Model):
    """A single-use link sent to a person: email verification, password reset, email change, notification email."""

    __tablename__ = "account_token"
    __table_args__ = (
        sa.CheckConstraint("purpose IN ('verify_email', 'reset_password', 'change_email', 'notification_email')",
                           name="purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(32))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    person: Mapped[Person] = db.relationship()

    def __repr__(self) -> str:
        return f"<AccountToken {self.purpose} person={self.person_id}>"

    def is_usable(self, now: datetime | None = None) -> bool:
        return self.used_at is None and (now or utcnow()) < self.expires_at


# --- email and password rules -------------------------------------------------------------------

def normalize_email(raw: str, field: str = "email") -> str:
    """Return the canonical (lower-case) form of an email address, or refuse it."""
    try:
        normalized = valid_email_address(raw)
    except EmailNotValidError as exc:
        raise RuleViolation(_l("Enter a valid email address (%(reason)s)", reason=email_problem(exc)), field) from None
    return normalized.lower()


def check_password(password: str, field: str = "password") -> None:
    """Refuse a password that is too short, too long or among the most common ones."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise RuleViolation(_l("Use at least %(n)d characters.", n=PASSWORD_MIN_LENGTH), field)
    if len(password) > PASSWORD_MAX_LENGTH:
        raise RuleViolation(_l("Use at most %(n)d characters.", n=PASSWORD_MAX_LENGTH), field)
    if password.lower() in COMMON_PASSWORDS:
        raise RuleViolation(_l("This password is too common; choose another."), field)


def set_password(person: Person, password: str) -> None:
    """Hash and store a new password, end every other session and every unused link of this person."""
    check_password(password)
    person.password_hash = password_hasher.hash(password)
    person.session_version += 1
    end_account_tokens(person)


def end_account_tokens(person: Person) -> int:
    """End every unused account token (reset, verification, email changes) of a person; return how many.

    Called on every change of login email or password (My settings, a reset link, an invitation
    taking an account over), so that no link mailed before the change still works after it.
    """
    return db.session.execute(
        sa.update(AccountToken).where(AccountToken.person_id == person.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount or 0


def find_person(email: str) -> Person | None:
    """Return the person with this login email (case-insensitive), if any."""
    return db.session.scalar(sa.select(Person).where(sa.func.lower(Person.email) == email.strip().lower()))


def find_proven_person(email: str) -> Person | None:
    """Return the person whose login email this is only when they proved that mailbox.

    Everywhere access is granted, an account whose email is not verified is treated as unknown:
    whoever registered an address first does not own what is later given to that address.
    """
    person = find_person(email)
    return person if person is not None and person.is_verified else None


def claim_account(email: str, password: str, first_name: str, last_name: str) -> Person:
    """Give the account of an email to whoever just proved its mailbox (an invitation link).

    A new account is created; an unverified one is taken over: its name and password are set anew,
    every session of it ends and every link sent for it stops working (set_password, through
    end_account_tokens), so that someone who
    registered the address before its owner keeps nothing. A verified account is not touched here:
    its owner signs in.
    """
    person = find_person(email)
    if person is None:
        person = create_person(email, password, first_name, last_name, verified=True)
        record(person, "person.created_by_invitation", target=person, after={"email": person.email})
        return person
    if person.is_verified:
        raise RuleViolation(_l("An account with this email address exists. Sign in to accept."))
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    before = {"first_name": person.first_name, "last_name": person.last_name}
    set_password(person, password)
    person.first_name, person.last_name = first_name, last_name
    person.email_verified_at = utcnow()
    person.failed_sign_ins, person.failed_window_started_at, person.locked_until = 0, None, None
    record(person, "person.claimed", target=person, before=before,
           after={"first_name": first_name, "last_name": last_name, "email_verified": True})
    return person


def create_person(email: str, password: str | None, first_name: str = "", last_name: str = "",
                  *, is_operator: bool = False, verified: bool = False, language: str | None = None) -> Person:
    """Create an account; refuse an email that already has one."""
    email = normalize_email(email)
    if find_person(email) is not None:
        raise RuleViolation(_l("An account with this email address already exists."), "email")
    person = Person(email=email, first_name=first_name.strip(), last_name=last_name.strip(),
                    is_operator=is_operator, language=language, notification_preferences={},
                    email_verified_at=utcnow() if verified else None)
    if password is not None:
        check_password(password)
        person.password_hash = password_hasher.hash(password)
    db.session.add(person)
    db.session.flush()
    return person


class WrongPassword(RuleViolation):
    """A password check that failed: the caller keeps the failure counted (commits) and changes nothing else."""


def verify_password(person: Person, candidate: str) -> bool:
    """Tell whether this is the person's password, counting a wrong one as a failed sign-in.

    The one password check of sign-in, account confirmation and My settings (password and
    login-email change). Failures are counted per account in the database: 10 within 15 minutes
    lock it for 15 minutes, and while it is locked even the right password is refused. A locked and
    a wrong answer take the same time (the hash is always verified). The caller commits, also when
    the answer is no, so that the failure stays counted.
    """
    now = utcnow()
    ok = _verify(person.password_hash, candidate or "") if person.password_hash else _verify(_DUMMY_HASH, "")
    if not client_may_try():
        return False  # neither counted against the account: a sprayer cannot lock more accounts
    if person.locked_until is not None and now < person.locked_until:
        return False
    if ok:
        person.failed_sign_ins = 0
        person.failed_window_started_at = None
        person.locked_until = None
        return True
    if person.failed_window_started_at is None or now - person.failed_window_started_at > THROTTLE_WINDOW:
        person.failed_window_started_at = now
        person.failed_sign_ins = 0
    person.failed_sign_ins += 1
    note_client_failure()
    if person.failed_sign_ins >= THROTTLE_FAILURES:
        person.locked_until = now + THROTTLE_LOCK
        person.failed_sign_ins = 0
        person.failed_window_started_at = None
        record(None, "person.locked", target=person, after={"locked_until": person.locked_until.isoformat()})
    return False


def client_may_try() -> bool:
    """Tell whether the client (current_address()) is within its budget of failed sign-ins across all accounts.

    CLIENT_FAILURES within CLIENT_FAILURE_WINDOW, counted in the database (models/throttle.py); beyond
    it every password check from that client fails, with the answer of a wrong password, until its
    failures age out. Operators get no exception.
    """
    return count_events("sign_in_failure", current_address() or "", CLIENT_FAILURE_WINDOW) \
        < CLIENT_FAILURES


def note_client_failure() -> None:
    """Count one failed password check against the client, current_address() (in the caller's transaction)."""
    note_event("sign_in_failure", current_address() or "")


def authenticate(email: str, password: str) -> Person | None:
    """Return the person when email and password match and the account is not locked.

    The password is checked by verify_password (per-account throttle). An unknown email, a locked
    account and a wrong password take the same time and give the same answer (None), so the answer
    never tells whether an account exists. The caller commits.
    """
    person = find_person(email) if email else None
    if person is None or person.password_hash is None or not person.active:
        _verify(_DUMMY_HASH, password)
        if client_may_try():
            note_client_failure()
        return None
    if not verify_password(person, password):
        return None
    person.last_sign_in_at = utcnow()
    if password_hasher.check_needs_rehash(person.password_hash):
        person.password_hash = password_hasher.hash(password)
    return person


def _verify(password_hash: str, password: str) -> bool:
    try:
        return password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- account mail limits ------------------------------------------------------------------------

def may_send_account_mail(address: str) -> bool:
    """Count one request for an account mail to an address and tell whether its mail may go.

    Counted in the database (models/throttle.py) for the five kinds of account mail together:
    ADDRESS_MAIL_LIMITS per recipient address, CLIENT_MAIL_LIMITS per client address (current_address()).
    A refused request gets the same answer as a sent one from its caller; it only sends nothing. Called
    in the transaction that queues the mail.
    """
    if not take("account_mail_client", current_address() or "", CLIENT_MAIL_LIMITS):
        return False
    return take("account_mail", address, ADDRESS_MAIL_LIMITS)


# --- account tokens -----------------------------------------------------------------------------

def issue_account_token(person: Person, purpose: str, validity: timedelta, new_email: str | None = None) -> str:
    """Create a token for a link and kill any earlier unused one of the same purpose; return it raw."""
    now = utcnow()
    db.session.execute(
        sa.update(AccountToken)
        .where(AccountToken.person_id == person.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=now)
    )
    raw, digest = new_token()
    db.session.add(AccountToken(person_id=person.id, purpose=purpose, token_hash=digest,
                                new_email=new_email, expires_at=now + validity))
    return raw


def find_account_token(raw: str, purpose: str) -> AccountToken | None:
    """Return the token of this purpose matching a link, usable or not."""
    return db.session.scalar(
        sa.select(AccountToken).where(AccountToken.token_hash == hash_token(raw or ""), AccountToken.purpose == purpose)
    )


def use_account_token(raw: str, purpose: str) -> AccountToken:
    """Spend a token exactly once; refuse an unknown, used or expired one."""
    token = find_account_token(raw, purpose)
    now = utcnow()
    if token is None or not token.is_usable(now):
        raise RuleViolation(_l("This link is invalid, expired or already used."))
    # Conditional update: of two simultaneous uses only one changes a row.
    spent = db.session.execute(
        sa.update(AccountToken).where(AccountToken.id == token.id, AccountToken.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if spent != 1:
        raise RuleViolation(_l("This link is invalid, expired or already used."))
    return token


def sign_up(email: str, password: str, first_name: str, last_name: str, language: str | None = None) -> None:
    """Open an account and mail the link that confirms it; for a taken address, mail its owner instead.

    Nobody is signed in: the account is confirmed by its link together with its password. The
    answer is the same whether or not the address has an account, and so is the work (the password
    hashed, a mail composed and queued), so that neither the page nor its timing tells.
    """
    email = normalize_email(email)
    check_password(password)
    password_hash = password_hasher.hash(password)
    owner = find_person(email)
    if not may_send_account_mail(email):
        return
    if owner is None:
        person = create_person(email, None, first_name, last_name, language=language)
        person.password_hash = password_hash
        raw = issue_account_token(person, "verify_email", VERIFY_VALIDITY)
        queue(compose_mail(person, "verify_email", token=raw, to=person.email))
        record(person, "person.signed_up", target=person, after={"email": person.email})
    else:
        queue(compose_mail(owner, "account_exists", to=owner.email))
        record(None, "person.sign_up_of_taken_address", target=owner)


def send_verification(person: Person) -> None:
    """Mail a fresh email-verification link (the previous one stops working), within the mail limits."""
    if not may_send_account_mail(person.email):
        return
    raw = issue_account_token(person, "verify_email", VERIFY_VALIDITY)
    queue_mail(person, "verify_email", token=raw, to=person.email)


def confirm_account(raw: str, password: str) -> Person:
    """Mark the email of the link's account verified when the account's password comes with it.

    A link alone never signs anyone in: whoever opens it must also know the password. A wrong
    password raises WrongPassword (counted as a failed sign-in, the link stays usable); a spent,
    expired or unknown link raises RuleViolation.
    """
    token = find_account_token(raw, "verify_email")
    if token is None or not token.is_usable():
        raise RuleViolation(_l("This link is invalid, expired or already used."))
    person = token.person
    if not verify_password(person, password) or not person.active:
        raise WrongPassword(_l("Wrong password, or the account is locked for a while. "
                               "Try again later or reset your password."), "password")
    use_account_token(raw, "verify_email")
    person.email_verified_at = person.email_verified_at or utcnow()
    record(person, "person.email_verified", target=person)
    return person


def request_password_reset(email: str) -> None:
    """Mail a reset link (valid 1 hour) if an active account has this email; say nothing otherwise.

    The same work either way (the request counted, a token made, a mail composed, the deliverer
    woken), so that the time of the answer does not tell whether the address has an account; only a
    known address gets the mail queued.
    """
    address = (email or "").strip().lower()
    person = find_person(address)
    if not may_send_account_mail(address):
        return
    known = person is not None and person.active
    if known:
        raw = issue_account_token(person, "reset_password", RESET_VALIDITY)
    else:
        raw, _digest = new_token()
        # A stand-in that is never added to the session: the mail is rendered as for an account.
        person = Person(email=address, first_name="", last_name="")
    mail = compose_mail(person, "reset_password", token=raw, to=person.email if known else address)
    if known:
        queue(mail)
    else:
        wake_deliverer()


def reset_password(raw: str, password: str) -> Person:
    """Set a new password through a reset link, spending the link, and end all sessions."""
    check_password(password)
    token = use_account_token(raw, "reset_password")
    person = token.person
    set_password(person, password)
    # Whoever reads the mailbox could have signed up; the link proves the address too.
    person.email_verified_at = person.email_verified_at or utcnow()
    person.locked_until = None
    person.failed_sign_ins = 0
    record(person, "person.password_reset", target=person)
    return person


def end_all_sessions(person: Person) -> None:
    """Invalidate every signed-in copy of this person's session cookie."""
    person.session_version += 1


def count_operators() -> int:
    """Return how many operators exist."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.is_operator)) or 0


def create_operator(email: str, password: str, first_name: str = "", last_name: str = "", *,
                    first_run: bool = False, actor=None) -> Person:
    """Create an operator account; through the first-run page only while no operator exists."""
    if first_run and count_operators():
        raise RuleViolation(_l("An operator already exists; sign in instead."))
    person = create_person(email, password, first_name, last_name, is_operator=True, verified=True)
    record(actor or person, "operator.created", target=person, after={"email": person.email, "first_run": first_run})
    return person


WRONG_CURRENT_PASSWORD = _l("The current password is not right. Too many wrong passwords lock the account "
                            "for a while.")

NOTIFICATION_CHOICES = {
    # Mails beyond the mandatory ones (invitations, decisions on one's own requests, security mails).
    "access_requests": _l("New access requests for sites I approve"),
    "privilege_changes": _l("Changes to my own access"),
}


def update_settings(person: Person, first_name: str, last_name: str, language: str | None,
                    notification_email: str | None, preferences: dict[str, bool], languages: list[str],
                    time_zone: str | None = None) -> str | None:
    """Change a person's name, language, time zone and preferences (not the login email); ask for a new
    notification email. An empty language or time zone means the browser's language and the instance's zone.

    A new notification email takes effect only when the link mailed to it is opened
    (confirm_notification_email): until then mail keeps going where it went. Clearing it, or
    choosing the login email, takes effect at once. Return the address a link was sent to, if any
    (also when the mail limits kept it back: the answer is the same).
    """
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    if not first_name:
        raise RuleViolation(_l("This field is required."), "first_name")
    if not last_name:
        raise RuleViolation(_l("This field is required."), "last_name")
    if language and language not in languages:
        raise RuleViolation(_l("Choose a language."), "language")
    if time_zone and time_zone not in TIME_ZONES:
        raise RuleViolation(_l("Choose a time zone."), "time_zone")
    notification_email = (notification_email or "").strip()
    if notification_email:
        notification_email = normalize_email(notification_email, "notification_email")
    before = {"first_name": person.first_name, "last_name": person.last_name, "language": person.language,
              "time_zone": person.time_zone, "notification_email": person.notification_email, "preferences": dict(person.notification_preferences)}
    person.first_name, person.last_name = first_name, last_name
    person.language = language or None
    person.time_zone = time_zone or None
    person.notification_preferences = {key: bool(preferences.get(key)) for key in NOTIFICATION_CHOICES}
    requested = None
    if notification_email in ("", person.email):
        person.notification_email = None
        _end_notification_email_links(person)
    elif notification_email != person.notification_email:
        requested = notification_email
        request_notification_email(person, notification_email)
    record(person, "person.settings_changed", target=person, before=before,
           after={"first_name": first_name, "last_name": last_name, "language": person.language,
                  "time_zone": person.time_zone,
                  "notification_email": person.notification_email,
                  "preferences": person.notification_preferences})
    return requested


def request_notification_email(person: Person, address: str) -> None:
    """Mail a link (24 hours, single use) to a would-be notification email, within the mail limits."""
    if not may_send_account_mail(address):
        return
    raw = issue_account_token(person, "notification_email", NOTIFICATION_EMAIL_VALIDITY, new_email=address)
    queue_mail(person, "notification_email", to=address, token=raw, new_email=address)
    record(person, "person.notification_email_requested", target=person, after={"notification_email": address})


def pending_notification_email(person: Person) -> str | None:
    """Return the notification email waiting for its link to be opened, if any."""
    token = db.session.scalar(
        sa.select(AccountToken).where(AccountToken.person_id == person.id, AccountToken.purpose == "notification_email",
                                      AccountToken.used_at.is_(None), AccountToken.expires_at > utcnow())
        .order_by(AccountToken.id.desc()).limit(1))
    return token.new_email if token is not None else None


def _end_notification_email_links(person: Person) -> None:
    db.session.execute(
        sa.update(AccountToken).where(AccountToken.person_id == person.id, AccountToken.purpose == "notification_email",
                                      AccountToken.used_at.is_(None)).values(used_at=utcnow()))


def confirm_notification_email(raw: str) -> Person:
    """Make the address of the link the person's notification email: its mailbox is proven now."""
    token = use_account_token(raw, "notification_email")
    person = token.person
    before = person.notification_email
    person.notification_email = token.new_email
    record(person, "person.notification_email_changed", target=person, before={"notification_email": before},
           after={"notification_email": person.notification_email})
    return person


def change_password(person: Person, current: str, new: str) -> None:
    """Change the password after checking the current one; every session of the person ends.

    A wrong current password counts as a failed sign-in (verify_password) and raises WrongPassword.
    """
    if not verify_password(person, current):
        raise WrongPassword(WRONG_CURRENT_PASSWORD, "current_password")
    set_password(person, new)
    record(person, "person.password_changed", target=person)


def request_email_change(person: Person, new_email: str, password: str) -> None:
    """Mail a confirmation link to the new login address (valid 24 hours) and tell the old address."""
    if not verify_password(person, password):
        raise WrongPassword(WRONG_CURRENT_PASSWORD, "current_password")
    new_email = normalize_email(new_email, "new_email")
    if new_email == person.email:
        raise RuleViolation(_l("This is already your login email."), "new_email")
    if find_person(new_email) is not None:
        raise RuleViolation(_l("Another account uses this address."), "new_email")

    if not may_send_account_mail(new_email):
        return
    raw = issue_account_token(person, "change_email", EMAIL_CHANGE_VALIDITY, new_email=new_email)
    record(person, "person.email_change_requested", target=person, after={"new_email": new_email})
    queue_mail(person, "email_change", to=new_email, token=raw, new_email=new_email)
    queue_mail(person, "email_change_notice", to=person.email, new_email=new_email)


def confirm_email_change(raw: str) -> Person:
    """Make the new address the login email through its link; every session of the person ends."""
    token = use_account_token(raw, "change_email")
    person = token.person
    if find_person(token.new_email) is not None:
        raise RuleViolation(_l("Another account uses this address now."))
    old = person.email
    person.email = token.new_email
    person.email_verified_at = utcnow()
    end_all_sessions(person)
    end_account_tokens(person)
    record(person, "person.email_changed", target=person, before={"email": old}, after={"email": person.email})
    return person
