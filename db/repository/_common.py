"""Helpers shared by the repository modules: write transactions, audit rows, row lookups,
the data version, and the subject labels researchers see instead of patient codes."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, col, select

from core.types import Role
from db.access import Principal, no_access, require_write
from db.engine import begin_write
from db.errors import NotFound
from db.models import (
    AUDIT_ACTIONS,
    Analysis,
    AuditEvent,
    Enrolment,
    Patient,
    Photo,
    StudyMember,
    Visit,
)

RowT = TypeVar("RowT", bound=SQLModel)

# Audit ids are handed out at insert time, so on PostgreSQL a transaction can commit an id
# below the highest one already visible; counting the rows of the last ids catches that.
VERSION_WINDOW = 10_000


class _Unset:
    """Marks a keyword argument that was not given (None is a meaningful value)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@contextmanager
def write_transaction(session: Session) -> Iterator[None]:
    """One unit of work: commit at the end, roll everything back on any error."""
    begin_write(session)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


def check_text_length(what: str, text: str | None, limit: int) -> str | None:
    """`text` unchanged when it has at most `limit` characters; otherwise ValueError with a
    sentence naming the field (`what`, e.g. "The treatment notes") and both lengths."""
    if text is not None and len(text) > limit:
        verb = "are" if what.endswith("s") else "is"
        raise ValueError(f"{what} {verb} {len(text):,} characters long; the limit is {limit:,}. "
                         "Shorten the text and save again.")
    return text


def add_audit(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None = None,
    detail: str = "",
) -> AuditEvent:
    """Add an audit row to the current transaction (it commits with the change it records)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"audit action {action!r} must be one of {', '.join(AUDIT_ACTIONS)}")
    event = AuditEvent(
        account_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail[:1000],
    )
    session.add(event)
    return event


def get_or_raise(session: Session, model: type[RowT], row_id: int) -> RowT:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"no {model.__name__.lower()} with id {row_id!r}")
    return row


def writable_patient(session: Session, principal: Principal, patient_id: int, what: str) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:  # the same answer as a patient the account may not change
        raise NotFound(no_access(what))
    require_write(principal, patient, what)
    return patient


def writable_visit(session: Session, principal: Principal, visit_id: int, what: str) -> Visit:
    row = session.exec(
        select(Visit, Patient)
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(Visit.id == visit_id)
    ).one_or_none()
    if row is None:
        raise NotFound(no_access(what))
    visit, patient = row
    require_write(principal, patient, what)
    return visit


def writable_photo(session: Session, principal: Principal, photo_id: int, what: str) -> Photo:
    row = session.exec(
        select(Photo, Patient)
        .join(Visit, col(Visit.id) == col(Photo.visit_id))
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(Photo.id == photo_id)
    ).one_or_none()
    if row is None:
        raise NotFound(no_access(what))
    photo, patient = row
    require_write(principal, patient, what)
    return photo


# The audit actions that change data. Views, exports and sign-ins are audited too, but change
# nothing a page shows, so they must not empty every page's cache in a busy trial.
CHANGE_ACTIONS: tuple[str, ...] = ("create", "update", "delete")


def get_data_version(*, session: Session) -> tuple[int, int]:
    """A value that changes whenever a change is committed: (highest audit id of a change, change
    rows among the last VERSION_WINDOW ids). Every repository write adds its audit row in the
    same transaction, so pages key cached results on this; audited reads (a visit opened, a CSV
    downloaded) leave it alone. One indexed query, whatever the size."""
    changes = col(AuditEvent.action).in_(CHANGE_ACTIONS)
    latest = select(func.coalesce(func.max(AuditEvent.id), 0)).where(changes).scalar_subquery()
    recent = (
        select(func.count())
        .select_from(AuditEvent)
        .where(changes, col(AuditEvent.id) > latest - VERSION_WINDOW)
        .scalar_subquery()
    )
    highest, count = session.exec(select(latest, recent)).one()
    return int(highest), int(count)


def current_analysis_id(photo_id: Any) -> sa.ScalarSelect:
    """The id of the photo's current analysis: its newest row that is not a withdrawn (undone)
    correction. Correlated on `photo_id` (a column of the outer query); answered from the
    (photo_id, id) index."""
    newer = aliased(Analysis)
    return (
        select(func.max(newer.id))
        .where(newer.photo_id == photo_id, col(newer.withdrawn_at).is_(None))
        .scalar_subquery()
    )


def model_analysis_id(analysis: Any) -> Any:
    """The model's analysis behind an analysis row (itself, or the one a correction corrects):
    a review of the model's analysis also stands for its corrections."""
    return func.coalesce(analysis.corrects_id, analysis.id)


def join_analysis_patient(statement: sa.Select, analysis_id: Any) -> sa.Select:
    """`statement` joined from a row that names an analysis on to its photo, visit and patient,
    so that `visible_patients` can scope it."""
    return (
        statement.join(Analysis, col(Analysis.id) == analysis_id)
        .join(Photo, col(Photo.id) == col(Analysis.photo_id))
        .join(Visit, col(Visit.id) == col(Photo.visit_id))
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
    )


# ------------------------------------------------------------------ researchers see subjects
def subject_label(enrolment_id: int) -> str:
    """How a researcher sees an enrolled patient: S- and the enrolment's number (it says
    nothing about the person, unlike a clinic's patient code)."""
    return f"S-{enrolment_id:04d}"


def hides_identity(principal: Principal) -> bool:
    """Researchers never see a patient's code, name or notes."""
    return principal.role == Role.RESEARCHER


def first_enrolments(principal: Principal) -> sa.Subquery:
    """(patient_id, enrolment_id): each patient's first enrolment in a study the principal is a
    member of, the enrolment that names them for that researcher."""
    return (
        select(
            col(Enrolment.patient_id).label("patient_id"),
            func.min(Enrolment.id).label("enrolment_id"),
        )
        .join(StudyMember, col(StudyMember.study_id) == col(Enrolment.study_id))
        .where(StudyMember.account_id == principal.id)
        .group_by(col(Enrolment.patient_id))
        .subquery("first_enrolment")
    )


def subject_labels(session: Session, principal: Principal, patient_ids: sa.Select) -> dict[int, str]:
    """The subject label of each of these patients for this researcher (one query)."""
    first = first_enrolments(principal)
    rows = session.exec(
        select(first.c.patient_id, first.c.enrolment_id).where(first.c.patient_id.in_(patient_ids))
    ).all()
    return {patient_id: subject_label(enrolment_id) for patient_id, enrolment_id in rows}


def without_free_text(row: RowT, field: str) -> RowT:
    """A detached copy of a visit or review with its free-text field emptied, as a researcher
    sees it (notes may name the person). Never added to a session."""
    return type(row)(**{**row.model_dump(), field: ""})


def as_subject(patient: Patient, label: str) -> Patient:
    """A detached copy of the patient that identifies nobody: the subject label for the code,
    no name and no free-text notes (they may name the person). Never added to a session."""
    return Patient(
        id=patient.id,
        code=label,
        name=None,
        consent_date=patient.consent_date,
        skin_type=patient.skin_type,
        notes="",
        # The same research-use field the clinician recorded (issue 26: the two pages agree).
        research_consent=patient.research_consent,
        team=patient.team,
        owner_id=patient.owner_id,
        created_at=patient.created_at,
    )
