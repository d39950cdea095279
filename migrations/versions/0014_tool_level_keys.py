"""Tool levels get a stable key (issue 16): the API names a level by it, so renaming a level in the
catalog (its display name is data) no longer changes what the vendor's tools read. Filled from the
names as the API derived them until now ("Downloads and media" → "downloads_and_media"), so no key
an application already uses changes.

Revision ID: 0014
Revises: 0013
"""
import re

from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tool_level") as batch:
        batch.add_column(sa.Column("key", sa.String(length=64), nullable=True))
    tool_level = sa.table("tool_level", sa.column("tool_id", sa.Integer), sa.column("rank", sa.Integer),
                          sa.column("name", sa.String), sa.column("key", sa.String))
    connection = op.get_bind()
    for tool_id, rank, name in connection.execute(sa.select(tool_level.c.tool_id, tool_level.c.rank,
                                                            tool_level.c.name)).all():
        key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or f"rank_{rank}"
        connection.execute(sa.update(tool_level).where(tool_level.c.tool_id == tool_id, tool_level.c.rank == rank)
                           .values(key=key))
    with op.batch_alter_table("tool_level") as batch:
        batch.alter_column("key", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_tool_level_tool_id_key", ["tool_id", "key"])


def downgrade():
    with op.batch_alter_table("tool_level") as batch:
        batch.drop_constraint("uq_tool_level_tool_id_key", type_="unique")
        batch.drop_column("key")
