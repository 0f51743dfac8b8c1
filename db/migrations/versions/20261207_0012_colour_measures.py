"""Colour measures: redness and dark marks against the patient's own skin (issue 29).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 02:00:00

Every analysis gains the colour measures of core.types.ColourMeasures: whether a colour card
referenced them (`colour_reference`: "colour-referenced" or "self-referenced"), the red area and
dark-mark area as shares of the measured skin, the mean delta-a* and delta-L* inside them, the
clear skin's L*, a*, b* and ITA, the share of skin measured, the card's residual CIEDE2000, and
`colour_mask_sha256`: the viewer's layers (red area, dark marks, measured skin) as a PNG in the
photo store, indexed like the other masks. Analyses stored before keep NULL in every column: not
measured (re-analysing a photo measures it). Downgrade: the columns go (the layer files are left
to the start-up check, which reports them as orphans).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLOAT_COLUMNS = ("red_area_fraction", "dark_area_fraction", "red_mean_delta_a", "dark_mean_delta_l",
                  "clear_skin_l", "clear_skin_a", "clear_skin_b", "clear_skin_ita",
                  "colour_measured_fraction", "colour_card_delta_e")
_REFERENCE = ("colour_reference IS NULL "
              "OR colour_reference IN ('colour-referenced', 'self-referenced')")


def upgrade() -> None:
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.add_column(sa.Column("colour_reference", sqlmodel.sql.sqltypes.AutoString(length=20),
                                      nullable=True))
        for name in _FLOAT_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch_op.create_check_constraint(batch_op.f("ck_analysis_colour_reference"), _REFERENCE)
        batch_op.add_column(sa.Column("colour_mask_sha256", sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.create_index(batch_op.f("ix_analysis_colour_mask_sha256"), ["colour_mask_sha256"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_colour_mask_sha256"))
        batch_op.drop_column("colour_mask_sha256")
        batch_op.drop_constraint(batch_op.f("ck_analysis_colour_reference"), type_="check")
        for name in reversed(_FLOAT_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("colour_reference")
