"""Lesion types that admit doubt: `lesion.type_confidence`, `lesion.type_uncertain` and
`analysis.inflammatory_type_uncertain`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 19:30:00

An inflammatory lesion whose type the segmenter is unsure of is counted as "inflammatory, type
uncertain" instead of a confident wrong type (core.lesions.mark_type_uncertainty). Analyses
stored before this revision have no type confidence: their lesions keep their types (NULL
confidence, not uncertain) and their uncertain count is 0, so their numbers do not change.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inflammatory_type_uncertain", sa.Integer(), nullable=False,
                                      server_default="0"))
    with op.batch_alter_table("lesion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("type_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("type_uncertain", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("lesion", schema=None) as batch_op:
        batch_op.drop_column("type_uncertain")
        batch_op.drop_column("type_confidence")
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.drop_column("inflammatory_type_uncertain")
