"""The tool catalog's version (issue 15): one row that triggers count up on every insert, update or
delete of a tool or a tool level, so that the app keeps the catalog per version (models.tool.catalog)
and reads one number per request instead of the catalog, while a change still shows at once.

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("tool", "tool_level")
EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade():
    op.create_table("catalog_version", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("version", sa.Integer, nullable=False))
    op.execute("INSERT INTO catalog_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_catalog_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"CREATE TRIGGER {table}_{event.lower()}_catalog_version AFTER {event} ON {table} "
                           "BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_catalog_version ON {table}")
        op.execute("DROP FUNCTION bump_catalog_version()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER {table}_{event.lower()}_catalog_version")
    op.drop_table("catalog_version")
