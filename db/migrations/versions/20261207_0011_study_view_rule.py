"""A study measures one view: `study.measured_view` (and `study.measured_body_site` for a
close-up), chosen when the study is created (issue 26 item 8).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 02:00:00

Before, a study took each visit's front photo when there was one and else any other view, so
arms mixed views silently. Studies stored before this revision measured front photos first:
they become front-view studies (subjects without a front photo are then listed as missing).
Downgrade: the columns go (the old rule comes back).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VIEWS = "measured_view IN ('front', 'left', 'right', 'close-up')"
_SITES = ("measured_body_site IS NULL OR measured_body_site IN ('left_cheek', 'right_cheek', "
          "'forehead', 'chin', 'nose', 'jaw', 'neck', 'back', 'chest', 'shoulder', 'other')")


def upgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("measured_view", sqlmodel.sql.sqltypes.AutoString(length=10),
                                      nullable=False, server_default="front"))
        batch_op.add_column(sa.Column("measured_body_site",
                                      sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.create_check_constraint(batch_op.f("ck_study_measured_view"), _VIEWS)
        batch_op.create_check_constraint(batch_op.f("ck_study_measured_body_site"), _SITES)


def downgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_study_measured_body_site"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_study_measured_view"), type_="check")
        batch_op.drop_column("measured_body_site")
        batch_op.drop_column("measured_view")
