"""At most one access review in progress per site.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("access_review") as batch_op:
        batch_op.create_index("uq_access_review_open", ["site_id"], unique=True,
                              sqlite_where=sa.text("completed_at IS NULL"),
                              postgresql_where=sa.text("completed_at IS NULL"))
    with op.batch_alter_table("access_review_item") as batch_op:
        batch_op.create_index("ix_access_review_item_review_decision", ["review_id", "decision"])


def downgrade():
    with op.batch_alter_table("access_review_item") as batch_op:
        batch_op.drop_index("ix_access_review_item_review_decision")
    with op.batch_alter_table("access_review") as batch_op:
        batch_op.drop_index("uq_access_review_open")
