"""Contact types that carry rights (the site technical contact manages support levels).

A site technical contact manages the site's support levels (SPEC §7), so such a type is given or
taken only by a support manager, never to oneself.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RIGHTS_TYPES = ("technical",)  # the site technical contact


def upgrade():
    with op.batch_alter_table("contact_type") as batch_op:
        batch_op.add_column(sa.Column("carries_rights", sa.Boolean(), nullable=False, server_default=sa.false()))
    contact_type = sa.table("contact_type", sa.column("key", sa.String), sa.column("carries_rights", sa.Boolean))
    op.execute(contact_type.update().where(contact_type.c.key.in_(RIGHTS_TYPES)).values(carries_rights=True))


def downgrade():
    with op.batch_alter_table("contact_type") as batch_op:
        batch_op.drop_column("carries_rights")
