"""Whether a study's researchers may see identifiable photos.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00

- `study.identifiable_photos_for_researchers` (default off): researchers see study photos with
  the eyes and mouth masked unless an administrator allows identifiable photos for the study
  (with a reason, kept in the audit trail). Every existing study starts masked.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identifiable_photos_for_researchers", sa.Boolean(),
                                      nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("identifiable_photos_for_researchers")
