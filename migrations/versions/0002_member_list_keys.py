"""Sort and search keys on membership, kept current by triggers, so that the User list of a site
with 100,000 members reads one index instead of sorting every member; and the reminder link of an
invitation, which works beside the first one.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The keys, as SQL over a person row p: the list orders by sort_name / sort_email and searches search_text.
SORT_NAME = "lower(p.last_name) || ' ' || lower(p.first_name) || ' ' || lower(p.email)"
SORT_EMAIL = "lower(p.email)"
SEARCH_TEXT = "lower(p.first_name) || ' ' || lower(p.last_name) || ' ' || lower(p.email)"

SQLITE = [
    f"""CREATE TRIGGER membership_keys_on_insert AFTER INSERT ON membership BEGIN
        UPDATE membership SET
            sort_name = (SELECT {SORT_NAME} FROM person p WHERE p.id = NEW.person_id),
            sort_email = (SELECT {SORT_EMAIL} FROM person p WHERE p.id = NEW.person_id),
            search_text = (SELECT {SEARCH_TEXT} FROM person p WHERE p.id = NEW.person_id)
        WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER membership_keys_on_person_change AFTER UPDATE OF first_name, last_name, email ON person BEGIN
        UPDATE membership SET
            sort_name = (SELECT {SORT_NAME} FROM person p WHERE p.id = NEW.id),
            sort_email = (SELECT {SORT_EMAIL} FROM person p WHERE p.id = NEW.id),
            search_text = (SELECT {SEARCH_TEXT} FROM person p WHERE p.id = NEW.id)
        WHERE person_id = NEW.id; END""",
]
POSTGRESQL = [
    f"""CREATE FUNCTION membership_keys() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            SELECT {SORT_NAME}, {SORT_EMAIL}, {SEARCH_TEXT} INTO NEW.sort_name, NEW.sort_email, NEW.search_text
            FROM person p WHERE p.id = NEW.person_id;
            RETURN NEW;
        END $$""",
    "CREATE TRIGGER membership_keys_on_insert BEFORE INSERT ON membership "
    "FOR EACH ROW EXECUTE FUNCTION membership_keys()",
    f"""CREATE FUNCTION membership_keys_of_person() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE membership m SET sort_name = {SORT_NAME}, sort_email = {SORT_EMAIL}, search_text = {SEARCH_TEXT}
            FROM person p WHERE p.id = NEW.id AND m.person_id = NEW.id;
            RETURN NEW;
        END $$""",
    "CREATE TRIGGER membership_keys_on_person_change AFTER UPDATE OF first_name, last_name, email ON person "
    "FOR EACH ROW EXECUTE FUNCTION membership_keys_of_person()",
]


def upgrade():
    with op.batch_alter_table("membership") as batch_op:
        batch_op.add_column(sa.Column("sort_name", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("sort_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("search_text", sa.String(length=500), nullable=True))
    op.execute(f"""UPDATE membership SET
        sort_name = (SELECT {SORT_NAME} FROM person p WHERE p.id = membership.person_id),
        sort_email = (SELECT {SORT_EMAIL} FROM person p WHERE p.id = membership.person_id),
        search_text = (SELECT {SEARCH_TEXT} FROM person p WHERE p.id = membership.person_id)""")
    # search_text rides along in the name index so that a search reads the index only.
    op.create_index("ix_membership_site_sort_name", "membership", ["site_id", "sort_name", "id", "search_text"])
    op.create_index("ix_membership_site_role_sort_name", "membership", ["site_id", "role", "sort_name", "id"])
    op.create_index("ix_membership_site_sort_email", "membership", ["site_id", "sort_email", "id"])
    op.create_index("ix_membership_site_granted", "membership", ["site_id", "granted_at", "id"])
    for statement in (POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE):
        op.execute(statement)
    with op.batch_alter_table("invitation") as batch_op:
        batch_op.add_column(sa.Column("reminder_token_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_invitation_reminder_token_hash", ["reminder_token_hash"])


def downgrade():
    with op.batch_alter_table("invitation") as batch_op:
        batch_op.drop_constraint("uq_invitation_reminder_token_hash", type_="unique")
        batch_op.drop_column("reminder_token_hash")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER membership_keys_on_person_change ON person")
        op.execute("DROP TRIGGER membership_keys_on_insert ON membership")
        op.execute("DROP FUNCTION membership_keys_of_person()")
        op.execute("DROP FUNCTION membership_keys()")
    else:
        op.execute("DROP TRIGGER membership_keys_on_person_change")
        op.execute("DROP TRIGGER membership_keys_on_insert")
    for name in ("ix_membership_site_granted", "ix_membership_site_sort_email", "ix_membership_site_role_sort_name",
                 "ix_membership_site_sort_name"):
        op.drop_index(name, table_name="membership")
    with op.batch_alter_table("membership") as batch_op:
        batch_op.drop_column("search_text")
        batch_op.drop_column("sort_email")
        batch_op.drop_column("sort_name")
