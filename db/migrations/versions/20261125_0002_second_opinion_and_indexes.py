"""Second-opinion grade on analyses; composite indexes for the repository's queries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:40:00

Columns: `analysis.second_opinion_grade` (0-3, checked), `_label`, `_confidence`, `_source`
(the optional second grader of core.types.Analysis.second_opinion); NULL for older rows.

Indexes, from the filters and sort orders in db/repository/*.py. Each composite index
replaces the single-column index on its leading foreign key, which it also serves:
- visit(patient_id, visit_date): list_visits and the timelines (patient's visits by date);
- treatment_event(patient_id, event_date): list_treatment_events (patient's events by date);
- analysis(photo_id, id): the latest analysis of a photo (max(id) per photo in the timelines
  and the review queue, `latest_analysis`);
- review(analysis_id, id): the latest review of an analysis (max(id) per analysis).
Every other filter already had an index in 0001: photo.visit_id / upload_sha256 /
file_sha256, analysis mask hashes and created_at, lesion.analysis_id, enrolment and
study_member (study_id, ...) unique constraints, patient owner_id / team / code,
account username / role, audit_event.at.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - AutoString
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, single-column index replaced, composite index, its columns)
_COMPOSITES: tuple[tuple[str, str, str, list[str]], ...] = (
    ("visit", "ix_visit_patient_id", "ix_visit_patient_id_visit_date",
     ["patient_id", "visit_date"]),
    ("treatment_event", "ix_treatment_event_patient_id",
     "ix_treatment_event_patient_id_event_date", ["patient_id", "event_date"]),
    ("analysis", "ix_analysis_photo_id", "ix_analysis_photo_id_id", ["photo_id", "id"]),
    ("review", "ix_review_analysis_id", "ix_review_analysis_id_id", ["analysis_id", "id"]),
)
_SECOND_OPINION_CHECK = (
    "second_opinion_grade IS NULL OR (second_opinion_grade >= 0 AND second_opinion_grade <= 3)"
)


def upgrade() -> None:
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.add_column(sa.Column("second_opinion_grade", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("second_opinion_label", sqlmodel.sql.sqltypes.AutoString(length=40),
                      nullable=True)
        )
        batch_op.add_column(sa.Column("second_opinion_confidence", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("second_opinion_source", sqlmodel.sql.sqltypes.AutoString(length=200),
                      nullable=True)
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_analysis_second_opinion_grade"), _SECOND_OPINION_CHECK
        )
    for table, single, composite, columns in _COMPOSITES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(composite), columns, unique=False)
            batch_op.drop_index(batch_op.f(single))


def downgrade() -> None:
    for table, single, composite, columns in reversed(_COMPOSITES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(single), [columns[0]], unique=False)
            batch_op.drop_index(batch_op.f(composite))
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_analysis_second_opinion_grade"), type_="check")
        batch_op.drop_column("second_opinion_source")
        batch_op.drop_column("second_opinion_confidence")
        batch_op.drop_column("second_opinion_label")
        batch_op.drop_column("second_opinion_grade")
