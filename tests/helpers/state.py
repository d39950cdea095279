"""The database as a whole: every row of every table, and its clock moved forward."""
from __future__ import annotations

import sqlalchemy as sa

from models import Person, db
from models.throttle import ThrottleEvent


def let_time_pass(app, delta) -> None:
    """Move the clock of an app's database forward: every throttle event, account lock and failure window
    happened `delta` earlier (tests of limits counted over minutes or days never sleep). Shifted in Python:
    date arithmetic in SQL is not portable (SQLite would turn the stored text into a number)."""
    with app.app_context():
        for event in db.session.scalars(sa.select(ThrottleEvent)):
            event.created_at -= delta
        for person in db.session.scalars(sa.select(Person)):
            if person.locked_until is not None:
                person.locked_until -= delta
            if person.failed_window_started_at is not None:
                person.failed_window_started_at -= delta
        db.session.commit()


def snapshot(app) -> dict:
    """Every row of every table, in a comparable form: what a refused request must leave as it was."""
    with app.app_context():
        with db.engine.connect() as conn:
            state = {table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
                     for table in db.metadata.sorted_tables}
        db.session.remove()
    return state
