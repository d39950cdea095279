"""The scheduler inside the service: one lease row (which process schedules) and one row per job
(when it last ran).

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    lease = op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
    )
    jobs = op.create_table(
        "scheduler_job",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_holder", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_job")),
    )
    op.bulk_insert(lease, [{"name": "scheduler"}])
    op.bulk_insert(jobs, [{"name": "deliver-mail"}, {"name": "send-reminders"}, {"name": "backup"}])


def downgrade():
    op.drop_table("scheduler_job")
    op.drop_table("scheduler_lease")
