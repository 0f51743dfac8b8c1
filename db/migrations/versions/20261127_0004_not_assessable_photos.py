"""Photos that cannot be assessed: `analysis.assessable` and `analysis.not_assessable_reasons`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 19:00:00

A photo with no face, or too little facial skin, gets no count and no grade (core.assessment);
its analysis is kept for the record and left out of trends, comparisons and studies (the
repository joins only assessable analyses). Stored analyses are judged by the same rules from
the columns they already have (`face_found`, `skin_area_px`): no re-analysis, every row kept.
The downgrade drops the two columns (those analyses then count again, as before).
"""
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values of core.assessment when this revision was written (a migration never imports
# code that may change later).
MIN_ASSESSABLE_SKIN_PX = 1000
NO_FACE = "No face was found, so lesions cannot be counted or graded on this photo."
TOO_LITTLE_SKIN = ("Too little facial skin is visible to count lesions or grade this photo (at "
                   f"least {MIN_ASSESSABLE_SKIN_PX:,} pixels of it are needed).")


def _json_literal(value: list[str]) -> str:
    """A JSON list as an SQL string literal (plain SQL, so `alembic upgrade --sql` renders it)."""
    return "'" + json.dumps(value).replace("'", "''") + "'"


def upgrade() -> None:
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assessable", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column("not_assessable_reasons", sa.JSON(none_as_null=True),
                                      nullable=True))
        batch_op.create_index(batch_op.f("ix_analysis_assessable"), ["assessable"], unique=False)
    op.execute(f"UPDATE analysis SET not_assessable_reasons = {_json_literal([])}")
    op.execute(f"UPDATE analysis SET assessable = false, "
               f"not_assessable_reasons = {_json_literal([NO_FACE])} WHERE face_found = false")
    op.execute(f"UPDATE analysis SET assessable = false, "
               f"not_assessable_reasons = {_json_literal([TOO_LITTLE_SKIN])} "
               f"WHERE face_found = true AND skin_area_px < {MIN_ASSESSABLE_SKIN_PX}")
    with op.batch_alter_table("analysis", schema=None) as batch_op:  # every row has its list now
        batch_op.alter_column("not_assessable_reasons", existing_type=sa.JSON(none_as_null=True),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_assessable"))
        batch_op.drop_column("not_assessable_reasons")
        batch_op.drop_column("assessable")
