"""The database's own id, which the photo store records (issue 24: no photo lost to a setting).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:00:00

- `clinic_identity`: one row, written the first time the database is opened with a photo
  folder (db.store_identity), never by this migration, so an empty database stays empty for a
  restore. A photo folder that records another database's id is refused on every open.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinic_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("database_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_identity")),
    )


def downgrade() -> None:
    op.drop_table("clinic_identity")
