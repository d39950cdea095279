"""Demo data: `flask --app app seed-demo`, a site full of realistic members, for demos and `make bench`."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from models import Customer, db
from models import person as people
from models import site as sites

# Every demo person (the primary included) signs in with this password; their addresses are under
# the reserved .example domain, so no mail can ever reach anyone.
DEMO_PASSWORD = "sitepass-demo-password"
DEMO_CUSTOMER = "Demo Corp"
DEMO_SITE_NUMBER = "DEMO-1"
DEMO_PRIMARY_EMAIL = "pat.primary@democorp.example"
DEMO_BATCH = 5000

_FIRST_NAMES = (
    "Aaliyah Aaron Abdul Ada Adrián Agnieszka Ahmed Aiko Alejandro Alessandro Alexandra Ali Alice Amara "
    "Amelia Amir Ana Anders Andrea Andrés Anna Annika Anouk Antoine Aoife Arjun Astrid Aylin Beatriz "
    "Benjamin Bjørn Bogdan Camille Carlos Carmen Catarina Charlotte Chen Chiara Chloé Christopher Clara "
    "Connor Daniel Dariusz David Deepa Diego Dmitri Elena Elif Elijah Emily Emma Enzo Erik Ethan Fatima "
    "Felix Fernanda Finn Francesca François Freya Gabriel Giulia Grace Hana Hannah Haruto Hassan Helena "
    "Henrik Hiroshi Ibrahim Ingrid Isabel Ivan Jakub James Jana Javier Jia Joanna Johan John Jonas "
    "Jorge José Julia Julien Kai Karin Katarzyna Kenji Kim Kofi Lars Laura Leila Leon Liam Lina Lucas "
    "Lucía Luis Maja Malik Marco María Mariana Marie Mark Martin Mateo Matteo Mei Mia Michael Miguel "
    "Mohammed Nadia Naomi Nikolai Nina Noah Nora Olga Oliver Olivia Omar Oscar Pablo Paolo Patrick "
    "Pedro Pierre Priya Rahul Rania Rafael Ravi Rosa Ruth Ryan Saanvi Samuel Sara Sarah Sebastián Sofia "
    "Sophie Stefan Sven Takumi Thomas Tomás Valentina Victor Wei Wojciech Yasmin Yuki Yusuf Zainab Zoë"
).split()
_LAST_NAMES = tuple(name.replace("_", " ") for name in (
    "Abe Adeyemi Ahmed Alvarez Andersen Andersson Bakker Becker Bernard Bianchi Brown Campbell Castro "
    "Chen Costa Cruz da_Silva Dąbrowski de_Jong Dubois Dupont Eriksson Esposito Fernández Fischer "
    "Fitzgerald Fontaine García Gómez González Gupta Hansen Hernández Hoffmann Ibrahim Ito Ivanov "
    "Jansen Jensen Johansson Johnson Jones Kaczmarek Kato Khan Kim Kobayashi Kowalski Kumar Larsen "
    "Laurent Lefebvre Lewandowski Li Lindqvist Liu López Martin Martínez Meyer Miller Moreau Morris "
    "Müller Murphy Nakamura Navarro Nguyen Nielsen Novak Nowak O'Brien O'Connor Okafor Olsen Ortiz "
    "Patel Pereira Petrov Ramírez Reddy Ricci Rodríguez Romano Rossi Russo Sánchez Santos Sato Schmidt "
    "Schneider Schulz Silva Singh Smith Sokolov Suzuki Takahashi Tanaka Taylor Thomas Torres van_Dijk "
    "Vargas Visser Wagner Walsh Wang Weber Williams Wilson Wójcik Yamamoto Yilmaz Young Zhang Zhao"
).split())
_DOMAINS = (("democorp.example", 70), ("eu.democorp.example", 10), ("us.democorp.example", 10),
            ("democorp-labs.example", 6), ("contractors.example", 4))
_JUSTIFICATIONS = (
    "Downloads product updates for the plant", "Runs the monthly license report", "Service desk lead",
    "Opens support cases for the data centre team", "Finance: renewals and quotes", "Project member, migration",
    "Deploys entitlements to the branch offices", "Audit and compliance reviews", "Procurement",
    "IT operations, night shift", "Contractor for the rollout", "Architect for the new platform",
)


def _ascii_slug(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(ch for ch in plain if ch.isalnum())


def _demo_email(rng, first: str, last: str, used: set[str]) -> str:
    f, l = _ascii_slug(first) or "user", _ascii_slug(last) or "demo"
    pick = rng.random()
    if pick < 0.5:
        local = f"{f}.{l}"
    elif pick < 0.7:
        local = f"{f[0]}{l}"
    elif pick < 0.8:
        local = f"{f}_{l}"
    elif pick < 0.9:
        local = f"{f}{l[0]}"
    else:
        local = f"{f}.{rng.choice('abcdefghijklmnoprstvw')}.{l}"
    domain = rng.choices([d for d, _w in _DOMAINS], weights=[w for _d, w in _DOMAINS])[0]
    email, n = f"{local}@{domain}", 1
    while email in used:
        n += 1
        email = f"{local}{n}@{domain}"
    used.add(email)
    return email


def _next_id(table) -> int:
    return (db.session.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1


def _resync_sequence(table) -> None:
    """Explicit ids bypass PostgreSQL's sequences: move them past the rows just inserted."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"))


def _insert_batches(table, rows) -> None:
    for start in range(0, len(rows), DEMO_BATCH):
        db.session.execute(sa.insert(table), rows[start:start + DEMO_BATCH])


def _demo_site(site_number: str, password_hash: str, now):
    """Return (site, primary membership, what was created), creating customer, site and primary if missing.

    Built directly rather than through create_site so that no Welcome mail is queued for a demo address.
    """
    from models import AccessProfile, Membership, Person, Site
    from models.membership import PRIMARY
    from models.tool import create_default_profiles

    created = []
    site = db.session.scalar(sa.select(Site).where(Site.site_number == site_number))
    if site is None:
        if not sites.SITE_NUMBER_PATTERN.match(site_number):
            raise click.ClickException("A site number is 1 to 32 letters, digits or dashes.")
        customer = db.session.scalar(sa.select(Customer).where(sa.func.lower(Customer.name) == DEMO_CUSTOMER.lower()))
        if customer is None:
            customer = Customer(name=DEMO_CUSTOMER, created_at=now)
            db.session.add(customer)
            db.session.flush()
            created.append("customer")
        has_originating = db.session.scalar(sa.select(Site.id).where(Site.customer_id == customer.id,
                                                                     Site.kind == sites.ORIGINATING))
        site = Site(customer_id=customer.id, site_number=site_number, name=f"{DEMO_CUSTOMER} {site_number}",
                    kind=sites.ADDITIONAL if has_originating else sites.ORIGINATING, created_at=now)
        db.session.add(site)
        db.session.flush()
        created.append("site")
    if not db.session.scalar(sa.select(sa.func.count()).select_from(AccessProfile)
                             .where(AccessProfile.site_id == site.id)):
        create_default_profiles(site)
        db.session.flush()
    primary = db.session.scalar(sa.select(Membership).where(Membership.site_id == site.id, Membership.role == PRIMARY))
    if primary is None:
        person = people.find_person(DEMO_PRIMARY_EMAIL)
        if person is None:
            person = Person(email=DEMO_PRIMARY_EMAIL, first_name="Pat", last_name="Primary",
                            password_hash=password_hash, notification_preferences={},
                            email_verified_at=now, created_at=now)
            db.session.add(person)
            db.session.flush()
            created.append("primary person")
        primary = Membership(site_id=site.id, person_id=person.id, role=PRIMARY, granted_at=now,
                             business_justification="Demo primary contact")
        db.session.add(primary)
        db.session.flush()
        created.append("primary membership")
    return site, primary, created


@click.command("seed-demo")
@with_appcontext
@click.option("--members", "count", type=click.IntRange(min=0), required=True, help="How many members to add.")
@click.option("--site-number", default=DEMO_SITE_NUMBER, show_default=True,
              help=f"The site to fill; created (with customer {DEMO_CUSTOMER!r} and a primary) when missing.")
@click.option("--seed", "random_seed", type=int, default=1, show_default=True, help="Random seed (same seed, same people).")
def seed_demo(count, site_number, random_seed):
    """Fill a site with realistic demo members and a few open and expired invitations.

    Every demo person, the primary contact pat.primary@democorp.example included, signs in with the
    password "sitepass-demo-password" (DEMO_PASSWORD); all addresses are under the reserved .example
    domain and no mail is queued. Rows go in with bulk inserts in one transaction, so 100,000 members
    take seconds. Running it again on the same site adds more members (never a 5th secondary).
    """
    import random
    import time
    from datetime import timedelta

    from models import Invitation, Membership, Person, Privilege, record, utcnow
    from models.invitation import INVITATION_VALIDITY
    from models.policy import profile_levels
    from models.tables import MAX_SECONDARIES, SECONDARY, USER
    from models.tokens import new_token
    from models.tool import catalog, profiles_of

    started = time.perf_counter()
    rng = random.Random(random_seed)
    now = utcnow()
    # One hash for everybody: hashing 100,000 passwords with argon2 would take most of an hour.
    password_hash = people.password_hasher.hash(DEMO_PASSWORD)
    site, primary, created = _demo_site(site_number, password_hash, now)
    sites.lock_site(site.id)
    tools = catalog()
    profiles = profiles_of(site.id)
    if not profiles:
        raise click.ClickException("The site has no access profiles to draw levels from.")
    secondaries_now = db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
        Membership.site_id == site.id, Membership.role == SECONDARY)) or 0
    secondaries = min(MAX_SECONDARIES - secondaries_now, count // 10 if count >= 10 else 0)
    # Most users hold exactly one profile (Basic the most common); some have custom levels.
    user_profile_weights = [5 if i == 0 else 30 if i == 1 else 55 for i in range(len(profiles))]
    open_tools = [tool for tool in tools if not tool.secondary_only]

    used = set(db.session.scalars(sa.select(sa.func.lower(Person.email))))
    person_table, membership_table = Person.__table__, Membership.__table__
    privilege_table, invitation_table = Privilege.__table__, Invitation.__table__
    next_person, next_membership = _next_id(person_table), _next_id(membership_table)
    person_rows, membership_rows, privilege_rows = [], [], []
    six_years = timedelta(days=6 * 365).total_seconds()
    for i in range(count):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        role = SECONDARY if i < secondaries else USER
        granted_at = now - timedelta(seconds=rng.random() * six_years)
        created_at = granted_at - timedelta(days=rng.random() * 30)
        person_id, membership_id = next_person + i, next_membership + i
        person_rows.append(dict(
            id=person_id, email=_demo_email(rng, first, last, used), first_name=first, last_name=last,
            password_hash=password_hash, language=None, notification_email=None, notification_preferences={},
            is_operator=False, active=True, email_verified_at=created_at, session_version=1, failed_sign_ins=0,
            failed_window_started_at=None, locked_until=None,
            last_sign_in_at=now - timedelta(seconds=rng.random() * 90 * 86400) if rng.random() < 0.6 else None,
            created_at=created_at))
        membership_rows.append(dict(
            id=membership_id, site_id=site.id, person_id=person_id, role=role,
            business_justification=rng.choice(_JUSTIFICATIONS), granted_by_id=primary.person_id,
            granted_at=granted_at, last_confirmed_at=None))
        if role == SECONDARY:
            levels = profile_levels(profiles[0] if i == 0 else rng.choice(profiles), tools, SECONDARY)
        else:
            levels = profile_levels(rng.choices(profiles, weights=user_profile_weights)[0], tools, USER)
            if rng.random() < 0.12:  # custom: one or two tools changed by hand
                for tool in rng.sample(open_tools, k=min(2, len(open_tools))):
                    levels[tool.id] = rng.randint(0, tool.top_rank)
        privilege_rows.extend(dict(membership_id=membership_id, tool_id=tool_id, rank=rank)
                              for tool_id, rank in levels.items() if rank)

    invitation_rows = []
    for k in range(8):
        expired = k >= 5  # five still open, three expired unanswered
        created_at = now - (timedelta(days=3 + rng.random() * 20) if expired else timedelta(hours=rng.random() * 20))
        profile = rng.choice(profiles)
        invitation_rows.append(dict(
            site_id=site.id, email=_demo_email(rng, rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES), used),
            role=USER, business_justification=rng.choice(_JUSTIFICATIONS),
            levels={str(tool_id): rank for tool_id, rank in profile_levels(profile, tools, USER).items() if rank},
            invited_by_id=primary.person_id, token_hash=new_token()[1], created_at=created_at,
            expires_at=created_at + INVITATION_VALIDITY, reminded_at=None, accepted_at=None,
            accepted_by_id=None, revoked_at=None))

    _insert_batches(person_table, person_rows)
    _insert_batches(membership_table, membership_rows)
    _insert_batches(privilege_table, privilege_rows)
    _insert_batches(invitation_table, invitation_rows)
    _resync_sequence(person_table)
    _resync_sequence(membership_table)
    summary = {"members": count, "secondaries": secondaries, "users": count - secondaries,
               "privileges": len(privilege_rows), "invitations_open": 5, "invitations_expired": 3,
               "created": created, "primary": primary.person.email, "random_seed": random_seed}
    record(None, "demo.seeded", site=site, target=site, after=summary)
    db.session.commit()
    elapsed = time.perf_counter() - started
    click.echo(f"Site {site.site_number} (id {site.id}): {count} members added ({secondaries} secondary, "
               f"{count - secondaries} users, {len(privilege_rows)} privileges), 5 open and 3 expired invitations, "
               f"in {elapsed:.1f} s. Sign in as {primary.person.email} (or any demo member) with "
               f"password {DEMO_PASSWORD!r}.")
