"""When a site's contact-review reminder last went out, so that `send-reminders` sends it once a month.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("site") as batch_op:
        batch_op.add_column(sa.Column("contacts_reminded_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("site") as batch_op:
        batch_op.drop_column("contacts_reminded_at")
