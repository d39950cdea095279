"""Contact addresses as each country writes them (issue 14): a city area (district, neighbourhood,
suburb…) and a sorting code (CEDEX) where a country's addresses use them, and room for the
subdivision names of Google's address data (e.g. "Daerah Istimewa Yogyakarta"), which replace the
ISO 3166-2 codes stored so far (those are still understood when shown or edited).

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contact_record") as batch:
        batch.add_column(sa.Column("city_area", sa.String(length=100), nullable=False, server_default=""))
        batch.add_column(sa.Column("sorting_code", sa.String(length=16), nullable=False, server_default=""))
        batch.alter_column("subdivision", existing_type=sa.String(length=16), type_=sa.String(length=100),
                           existing_nullable=False)


def downgrade():
    with op.batch_alter_table("contact_record") as batch:
        batch.alter_column("subdivision", existing_type=sa.String(length=100), type_=sa.String(length=16),
                           existing_nullable=False)
        batch.drop_column("sorting_code")
        batch.drop_column("city_area")
