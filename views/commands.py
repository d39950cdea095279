"""Operator commands: `flask --app app <command>`."""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from models import Customer, RuleViolation, db
from models import person as people
from models import site as sites
from models.outbox import deliver_due


def register(app) -> None:
    app.cli.add_command(create_operator)
    app.cli.add_command(create_site)
    app.cli.add_command(deliver_mail)
    app.cli.add_command(backup)
    app.cli.add_command(send_reminders)


def _fail(violation: RuleViolation):
    db.session.rollback()
    raise click.ClickException(str(violation.message))


@click.command("create-operator")
@with_appcontext
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted for when not given.")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
def create_operator(email, password, first_name, last_name):
    """Create an operator account (the first one, or another)."""
    try:
        person = people.create_operator(email, password, first_name, last_name)
    except RuleViolation as violation:
        _fail(violation)
    db.session.commit()
    click.echo(f"Operator {person.email} created.")


@click.command("create-site")
@with_appcontext
@click.option("--customer", "customer_name", required=True, help="Customer name; created when new.")
@click.option("--site-number", required=True)
@click.option("--name", required=True, help="The site's name.")
@click.option("--primary-email", required=True)
@click.option("--kind", type=click.Choice(sites.SITE_KINDS), default=None,
              help="Default: originating for a new customer, additional otherwise.")
def create_site(customer_name, site_number, name, primary_email, kind):
    """Create a site with its primary contact (invited by mail when unknown)."""
    try:
        customer = db.session.scalar(sa.select(Customer).where(sa.func.lower(Customer.name) == customer_name.lower()))
        if customer is None:
            customer = sites.create_customer(customer_name)
        kind = kind or (sites.ORIGINATING if not customer.sites else sites.ADDITIONAL)
        site = sites.create_site(customer, site_number, name, kind, primary_email)
    except RuleViolation as violation:
        _fail(violation)
    db.session.commit()
    click.echo(f"Site {site.site_number} ({site.name}) created for {customer.name}; "
               f"primary contact {primary_email} invited or welcomed by mail.")


@click.command("deliver-mail")
@with_appcontext
def deliver_mail():
    """Deliver the outbox mails that are due (run from cron, e.g. every minute)."""
    totals = {"sent": 0, "deferred": 0, "failed": 0}
    while True:
        counts = deliver_due()
        for key, value in counts.items():
            totals[key] += value
        if sum(counts.values()) == 0 or counts["sent"] == 0:
            break
    click.echo("sent {sent}, deferred {deferred}, failed for good {failed}".format(**totals))


@click.command("backup")
@with_appcontext
@click.argument("destination", required=False)
def backup(destination):
    """Copy the live SQLite database safely with SQLite's backup API (never a plain file copy)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise click.ClickException("backup is for SQLite; use pg_dump for PostgreSQL.")
    if destination is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        destination = os.path.join(current_app.instance_path, "backups", f"sitepass-{stamp}.sqlite3")
    os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
    source = sqlite3.connect(url.database)
    target = sqlite3.connect(destination)
    try:
        with target:
            source.backup(target)
        result = target.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        source.close()
        target.close()
    if result != "ok":
        raise click.ClickException(f"backup written to {destination} but its integrity check said: {result}")
    click.echo(f"Backup written to {destination} (SQLite {sqlite3.sqlite_version}, integrity ok).")


@click.command("send-reminders")
@with_appcontext
def send_reminders():
    """Mail the reminders that are due (run daily or hourly from cron); running it twice sends nothing new."""
    from models.invitation import send_invitation_reminders

    invitations = send_invitation_reminders()
    db.session.commit()
    click.echo(f"invitation reminders: {invitations}")
