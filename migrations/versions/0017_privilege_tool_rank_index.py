"""An index of privileges by tool and rank (issue 15): who holds a level on a tool (a site's support
managers on My access and in request mails) is found from it, instead of probing the privileges of every
member of the site (20 ms at 10,000 members, growing with the site).

Revision ID: 0017
Revises: 0016
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_privilege_tool_rank", "privilege", ["tool_id", "rank", "membership_id"])


def downgrade():
    op.drop_index("ix_privilege_tool_rank", table_name="privilege")
