"""Inflammatory lesions include nodules/cysts: the stored groups recomputed (no re-analysis).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 18:40:00

Guidelines and trials count papules, pustules and nodules/cysts as inflammatory and comedones
as non-inflammatory (CLINICAL.md); analyses stored before this revision counted papules and
pustules only. `analysis.inflammatory` is recomputed from each analysis's stored lesions, by
type (`papule`, `pustule`, `nodule`, the per-type counts written with them in one unit); every
other column and row is kept as it was, so the history of analyses stays whole. Downgrading
restores the old definition from the same columns.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE analysis SET inflammatory = papule + pustule + nodule, "
               "non_inflammatory = comedone")


def downgrade() -> None:
    op.execute("UPDATE analysis SET inflammatory = papule + pustule, non_inflammatory = comedone")
