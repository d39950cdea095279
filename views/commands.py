"""Operator commands: `flask --app app <command>`."""
from __future__ import annotations

import sqlite3

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from models import Customer, RuleViolation, db
from models import person as people
from models import site as sites


def register(app) -> None:
    from .demo import seed_demo

    app.cli.add_command(create_operator)
    app.cli.add_command(create_site)
    app.cli.add_command(deliver_mail)
    app.cli.add_command(backup)
    app.cli.add_command(sweep_documents)
    app.cli.add_command(send_reminders)
    app.cli.add_command(scheduler)
    app.cli.add_command(seed_demo)


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
    """Deliver the outbox mails that are due (the scheduler does this; for cron users, e.g. every minute)."""
    from models.scheduler import deliver_mail as deliver

    click.echo("sent {sent}, deferred {deferred}, failed for good {failed}".format(**deliver()))


@click.command("backup")
@with_appcontext
@click.argument("destination", required=False)
def backup(destination):
    """Copy the live SQLite database safely with SQLite's backup API (never a plain file copy)."""
    from models.backup import BackupError, backup_database

    try:
        result = backup_database(destination)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Backup written to {result.path} (SQLite {sqlite3.sqlite_version}, integrity ok).")
    click.echo(f"Documents: {result.documents_copied} file(s) copied to {result.documents_folder}"
               + (f"; {result.documents_missing} deleted meanwhile" if result.documents_missing else "") + ".")


@click.command("scheduler")
@with_appcontext
def scheduler():
    """Run the scheduler in the foreground (mail, reminders, daily backup) until stopped.

    gunicorn started by `make run` or the systemd unit runs one in every worker already; this command is
    for running it as a process of its own. However many run, one does the work (a lease in the database).
    """
    import signal

    from models.scheduler import Scheduler

    runner = Scheduler(current_app._get_current_object())
    signal.signal(signal.SIGTERM, lambda *_: runner.stopping.set())
    click.echo(f"Scheduler {runner.holder} running; Ctrl-C or SIGTERM stops it.")
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()


@click.command("sweep-documents")
@with_appcontext
def sweep_documents():
    """Remove document files that no document names (left by a crash between writing and committing)."""
    from models.document import sweep_orphan_files

    removed = sweep_orphan_files()
    click.echo(f"Removed {len(removed)} orphan document file(s).")


@click.command("send-reminders")
@with_appcontext
def send_reminders():
    """Mail the reminders that are due (the scheduler does this hourly; for cron users); twice sends nothing new."""
    from models.scheduler import send_reminders as send

    counts = send()
    click.echo(f"invitation reminders: {counts['invitations']}, contact review reminders: {counts['reviews']}, "
               f"coverage reminders: {counts['coverage']}, old limit events pruned: {counts['pruned']}")
