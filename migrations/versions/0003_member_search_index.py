"""A trigram full-text index over membership.search_text on SQLite, so that a search for a rare
name finds its few members without scanning all of a large site. PostgreSQL searches with LIKE.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE VIRTUAL TABLE membership_search USING fts5(search_text, tokenize='trigram')",
    "INSERT INTO membership_search(rowid, search_text) SELECT id, search_text FROM membership",
    # search_text is written by the triggers of 0002 right after each insert, hence ON UPDATE.
    """CREATE TRIGGER membership_search_on_update AFTER UPDATE OF search_text ON membership BEGIN
        DELETE FROM membership_search WHERE rowid = OLD.id;
        INSERT INTO membership_search(rowid, search_text) VALUES (NEW.id, NEW.search_text); END""",
    """CREATE TRIGGER membership_search_on_delete AFTER DELETE ON membership BEGIN
        DELETE FROM membership_search WHERE rowid = OLD.id; END""",
]


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER membership_search_on_delete")
        op.execute("DROP TRIGGER membership_search_on_update")
        op.execute("DROP TABLE membership_search")
