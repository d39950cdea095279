"""A person's time zone (issue 14), in which every time is shown to them; NULL means the instance's
(SITEPASS_TIMEZONE).

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("person") as batch:
        batch.drop_column("time_zone")
