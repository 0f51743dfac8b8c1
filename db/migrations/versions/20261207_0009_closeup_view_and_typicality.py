"""Close-ups and typicality: the view "close-up" with an optional `photo.body_site`, and
`analysis.typicality` / `analysis.unusual`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:00:00

A photo of skin without a whole face (a cheek, the chin, the back) is measured as a close-up
(issue 25): its view is "close-up" and where it was taken is `body_site` (NULL: not recorded).
Every analysis carries how close its photo is to the photos the models learnt from
(`typicality`, NULL for analyses stored before it was measured) and whether it was judged
unlike them (`unusual`, false for the old ones: nothing was judged then).
Downgrade: a close-up becomes a front photo (the old schema knows no other view) and loses its
site; the typicality columns go.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_VIEWS = "view IN ('front', 'left', 'right')"
_NEW_VIEWS = "view IN ('front', 'left', 'right', 'close-up')"
_SITES = ("body_site IS NULL OR body_site IN ('left_cheek', 'right_cheek', 'forehead', 'chin', "
          "'nose', 'jaw', 'neck', 'back', 'chest', 'shoulder', 'other')")


def upgrade() -> None:
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_photo_view"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_photo_view"), _NEW_VIEWS)
        batch_op.add_column(sa.Column("body_site", sqlmodel.sql.sqltypes.AutoString(length=20),
                                      nullable=True))
        batch_op.create_check_constraint(batch_op.f("ck_photo_body_site"), _SITES)
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.add_column(sa.Column("typicality", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("unusual", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("analysis", schema=None) as batch_op:
        batch_op.drop_column("unusual")
        batch_op.drop_column("typicality")
    op.execute("UPDATE photo SET view = 'front' WHERE view = 'close-up'")
    with op.batch_alter_table("photo", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_photo_body_site"), type_="check")
        batch_op.drop_column("body_site")
        batch_op.drop_constraint(batch_op.f("ck_photo_view"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_photo_view"), _OLD_VIEWS)
