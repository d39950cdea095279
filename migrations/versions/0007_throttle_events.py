"""Abuse limits counted in the database; a token purpose for confirming a notification email.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_PURPOSES = "purpose IN ('verify_email', 'reset_password', 'change_email')"
NEW_PURPOSES = "purpose IN ('verify_email', 'reset_password', 'change_email', 'notification_email')"


def upgrade():
    op.create_table(
        "throttle_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_throttle_event")),
    )
    op.create_index("ix_throttle_event_kind_key_created", "throttle_event", ["kind", "key", "created_at"])
    with op.batch_alter_table("account_token") as batch_op:
        batch_op.drop_constraint(op.f("ck_account_token_purpose"), type_="check")
        batch_op.create_check_constraint("purpose", sa.text(NEW_PURPOSES))


def downgrade():
    op.execute("DELETE FROM account_token WHERE purpose = 'notification_email'")
    with op.batch_alter_table("account_token") as batch_op:
        batch_op.drop_constraint(op.f("ck_account_token_purpose"), type_="check")
        batch_op.create_check_constraint("purpose", sa.text(OLD_PURPOSES))
    op.drop_index("ix_throttle_event_kind_key_created", table_name="throttle_event")
    op.drop_table("throttle_event")
