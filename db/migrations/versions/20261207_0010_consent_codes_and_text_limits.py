"""Enrolment consent, patient codes without case, text limits, sign-ins kept across reloads.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 02:00:00

Issue 24 and 26:
- Free text has a length limit (db.models: MAX_NOTE_LENGTH and friends): `patient.notes`,
  `visit.treatment_notes`, `review.notes` (5,000 characters), `study.description` (2,000),
  `treatment_event.description` (500). A stored text longer than its limit is shortened to it,
  and an audit row names the row and its former length.
- Researchers see an enrolled patient only while the patient allows research use and has a
  consent date (db.access). Enrolments that lack either are listed here, for the
  administrator: printed by the migration and kept as one audit row each ("enrolment", with
  the study and the patient code), so the clinic can record the consent or end the enrolment.
- Patient codes are compared without case (a002 and A002 are one code). Stored codes that
  clash so are printed and kept as an audit row each ("patient"); nothing is renamed.
- `signin_session`: a browser's sign-in, kept across page reloads by an HttpOnly cookie
  (only the token's SHA-256 is stored), ended at sign-out, timeout and password change.

The reports need the data, so they run only against a database (not `alembic upgrade --sql`).
The downgrade drops the sign-in table and the length limits; shortened text stays shortened.
"""
from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The limits of db.models when this revision was written (a migration never imports code that
# may change later): (table, column, limit).
TEXT_LIMITS: tuple[tuple[str, str, int], ...] = (
    ("patient", "notes", 5000),
    ("visit", "treatment_notes", 5000),
    ("review", "notes", 5000),
    ("study", "description", 2000),
    ("treatment_event", "description", 500),
)
PREFIX = "migration 0010"

_audit = sa.table(
    "audit_event",
    sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("account_id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("target_type", sa.String()),
    sa.column("target_id", sa.Integer()),
    sa.column("detail", sa.String()),
)


def _report(connection: sa.Connection, target_type: str, target_id: int, detail: str) -> None:
    """One line for the administrator: printed now, and kept in the audit trail."""
    print(f"{PREFIX}: {detail}")
    connection.execute(_audit.insert().values(
        at=datetime.now(timezone.utc), account_id=None, action="update",
        target_type=target_type, target_id=target_id, detail=f"{PREFIX}: {detail}"[:1000]))


def _shorten_long_text(connection: sa.Connection) -> None:
    for table, column, limit in TEXT_LIMITS:
        rows = connection.execute(sa.text(
            f"SELECT id, length({column}) FROM {table} WHERE length({column}) > :limit"),
            {"limit": limit}).all()
        for row_id, length in rows:
            connection.execute(sa.text(
                f"UPDATE {table} SET {column} = substr({column}, 1, :limit) WHERE id = :id"),
                {"limit": limit, "id": row_id})
            _report(connection, table, row_id,
                    f"the {column.replace('_', ' ')} of {table.replace('_', ' ')} {row_id} held "
                    f"{length:,} characters and were shortened to the limit of {limit:,}")


def _report_enrolments_without_consent(connection: sa.Connection) -> None:
    rows = connection.execute(sa.text(
        "SELECT enrolment.id, study.name, patient.code, patient.research_consent, "
        "patient.consent_date FROM enrolment "
        "JOIN study ON study.id = enrolment.study_id "
        "JOIN patient ON patient.id = enrolment.patient_id "
        "WHERE patient.research_consent = :no OR patient.consent_date IS NULL "
        "ORDER BY enrolment.id"), {"no": False}).all()
    for enrolment_id, study, code, research, consent_date in rows:
        missing = " and ".join(([] if consent_date else ["no consent date"])
                               + ([] if research else ['"Allows research use" not ticked']))
        _report(connection, "enrolment", enrolment_id,
                f"patient {code} is enrolled in study {study!r} with {missing}: the study's "
                "researchers no longer see this patient until both are recorded on the "
                "patient's record (or end the enrolment)")


def _report_codes_differing_in_case(connection: sa.Connection) -> None:
    rows = connection.execute(sa.text(
        "SELECT a.id, a.code, b.code FROM patient a JOIN patient b "
        "ON lower(a.code) = lower(b.code) AND a.id > b.id ORDER BY a.id")).all()
    for patient_id, code, other in rows:
        _report(connection, "patient", patient_id,
                f"patient code {code} differs from patient code {other} only in capitals; codes "
                "are now compared without case: rename one of them (or merge the two records)")


def upgrade() -> None:
    op.create_table(
        "signin_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("handoff_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"],
                                name=op.f("fk_signin_session_account_id_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_session")),
        sa.UniqueConstraint("handoff_sha256", name=op.f("uq_signin_session_handoff_sha256")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_signin_session_token_sha256")),
    )
    with op.batch_alter_table("signin_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signin_session_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signin_session_created_at"), ["created_at"], unique=False)

    if not context.is_offline_mode():
        connection = op.get_bind()
        _shorten_long_text(connection)
        _report_enrolments_without_consent(connection)
        _report_codes_differing_in_case(connection)
    for table, column, limit in TEXT_LIMITS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sqlmodel.sql.sqltypes.AutoString(),
                                  type_=sqlmodel.sql.sqltypes.AutoString(length=limit),
                                  existing_nullable=False)


def downgrade() -> None:
    for table, column, _limit in TEXT_LIMITS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sqlmodel.sql.sqltypes.AutoString(length=_limit),
                                  type_=sqlmodel.sql.sqltypes.AutoString(),
                                  existing_nullable=False)
    with op.batch_alter_table("signin_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signin_session_created_at"))
        batch_op.drop_index(batch_op.f("ix_signin_session_account_id"))
    op.drop_table("signin_session")
