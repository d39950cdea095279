"""API keys (issue 16): one row per application's key, stored hashed, and the customers a key is
limited to.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("all_sites", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["person.id"], name=op.f("fk_api_key_created_by_id_person"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_table(
        "api_key_customer",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], name=op.f("fk_api_key_customer_api_key_id_api_key"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_api_key_customer_customer_id_customer"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", "customer_id", name=op.f("pk_api_key_customer")),
    )
    op.create_index("ix_api_key_customer_customer_id", "api_key_customer", ["customer_id"])


def downgrade():
    op.drop_index("ix_api_key_customer_customer_id", table_name="api_key_customer")
    op.drop_table("api_key_customer")
    op.drop_table("api_key")
