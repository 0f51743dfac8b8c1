"""Clinician lesion corrections and the patient's research consent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 21:00:00

- `analysis.corrects_id`, `corrected_by_id`, `correction`, `withdrawn_at`: a clinician's
  correction of the lesions (add, remove, retype) is stored as an analysis of its own beside the
  model's, and undoing it withdraws it (the row stays).
- `analysis.grade_evidence`: the centre-heatmap peak heights the grader saw, so a correction is
  regraded by the same grader. Older analyses have none (NULL): their lesions' scores stand in.
- `lesion.added_by_clinician`: a lesion a clinician added by hand.
- `patient.research_consent` (default off): the patient allows de-identified research use.
Nothing stored before changes: every new column is empty or false.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.add_column(sa.Column("corrects_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("corrected_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("correction", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("grade_evidence", sa.JSON(none_as_null=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_analysis_corrects_id"), ["corrects_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_analysis_corrects_id_analysis"), "analysis",
                                    ["corrects_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_analysis_corrected_by_id_account"), "account",
                                    ["corrected_by_id"], ["id"])
    with op.batch_alter_table("lesion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("added_by_clinician", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.add_column(sa.Column("research_consent", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.create_index(batch_op.f("ix_patient_research_consent"), ["research_consent"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_research_consent"))
        batch_op.drop_column("research_consent")
    with op.batch_alter_table("lesion", schema=None) as batch_op:
        batch_op.drop_column("added_by_clinician")
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_analysis_corrected_by_id_account"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_analysis_corrects_id_analysis"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_analysis_corrects_id"))
        batch_op.drop_column("grade_evidence")
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("correction")
        batch_op.drop_column("corrected_by_id")
        batch_op.drop_column("corrects_id")
