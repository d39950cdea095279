"""Which coverage reminder (90, 60 or 30 days before the end) a site last got, for which end date,
so that `send-reminders` sends each of them once.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("site") as batch_op:
        batch_op.add_column(sa.Column("coverage_reminded_for", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("coverage_reminded_days", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("site") as batch_op:
        batch_op.drop_column("coverage_reminded_days")
        batch_op.drop_column("coverage_reminded_for")
