"""Patients: create, find, change, and delete with every row and file they own."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.types import Role
from db.access import Principal, load_principal, visible_patients
from db.errors import DuplicateError, PermissionDenied
from db.models import (
    MASK_COLUMNS,
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    Account,
    Analysis,
    Enrolment,
    LesionRecord,
    Patient,
    PatientCreate,
    PatientUpdate,
    Photo,
    Review,
    TreatmentEvent,
    Visit,
)
from db.photos import PhotoStore
from db.repository._common import (
    add_audit,
    as_subject,
    check_text_length,
    first_enrolments,
    get_or_raise,
    hides_identity,
    subject_label,
    writable_patient,
    write_transaction,
)
from db.repository.files import delete_unreferenced_files


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_team_choice(principal: Principal, team: str | None) -> None:
    # A clinician may share a patient with their own team only, never hand it to another team.
    if principal.role != Role.ADMIN and team is not None and team != principal.team:
        raise PermissionDenied(
            f"account {principal.id} (team {principal.team!r}) may not assign team {team!r}"
        )


def _existing_code(session: Session, code: str, except_id: int | None = None) -> str | None:
    """The stored code equal to `code` without regard to case (a002 and A002 are one code),
    or None."""
    statement = select(Patient.code).where(sa.func.lower(Patient.code) == code.lower())
    if except_id is not None:
        statement = statement.where(Patient.id != except_id)
    return session.exec(statement).first()


def _code_used(code: str, existing: str) -> DuplicateError:
    if existing == code:
        return DuplicateError(f"patient code {code!r} is already used")
    return DuplicateError(
        f"patient code {code!r} differs from the existing code {existing!r} only in capitals; "
        f"codes are compared without case: open {existing!r} or choose another code")


def _check_free_text(fields: dict) -> None:
    if "notes" in fields:
        check_text_length("The notes", fields["notes"], MAX_NOTE_LENGTH)
    if "name" in fields:
        check_text_length("The name", fields["name"], MAX_NAME_LENGTH)


def create_patient(*, session: Session, actor: Account, data: PatientCreate) -> Patient:
    """Add a patient owned by the actor.

    The team defaults to the actor's team when `data.team` is not given; an explicit
    `team=None` keeps the patient private to the owner.
    """
    team_given = "team" in data.model_fields_set
    _check_free_text(data.model_dump())
    data = PatientCreate.model_validate(data.model_dump())
    with write_transaction(session):
        principal = load_principal(session, actor)
        if not principal.can_write:
            raise PermissionDenied(f"account {principal.id} ({principal.role}) may not add patients")
        fields = data.model_dump()
        if not team_given:
            fields["team"] = principal.team
        _check_team_choice(principal, fields["team"])
        existing = _existing_code(session, data.code)
        if existing is not None:
            raise _code_used(data.code, existing)
        patient = Patient(**fields, owner_id=principal.id)
        session.add(patient)
        try:
            session.flush()
        except IntegrityError:
            raise DuplicateError(f"patient code {data.code!r} is already used") from None
        add_audit(
            session, actor_id=principal.id, action="create", target_type="patient",
            target_id=patient.id, detail=f"code={patient.code}",
        )
    return patient


def _subjects(
    session: Session, principal: Principal, where: list[sa.ColumnElement[bool]]
) -> list[Patient]:
    """The patients matching `where` as a researcher sees them: labelled by their first
    enrolment in the researcher's studies, with nothing that identifies the person."""
    first = first_enrolments(principal)
    statement = (
        select(Patient, first.c.enrolment_id)
        .join(first, first.c.patient_id == col(Patient.id))
        .where(visible_patients(principal), *where)
        .order_by(first.c.enrolment_id)
    )
    return [as_subject(patient, subject_label(enrolment_id))
            for patient, enrolment_id in session.exec(statement).all()]


def list_patients(
    *, session: Session, actor: Account, search: str | None = None
) -> list[Patient]:
    """The patients the actor may see, by code; `search` matches part of the code or name.

    Researchers get subjects instead (see `get_patient`), searched by subject label only.
    """
    principal = load_principal(session, actor)
    needle = search.strip() if search is not None else ""
    if hides_identity(principal):
        subjects = _subjects(session, principal, [])
        # Matched in Python on the label: a search in names would tell who is enrolled.
        return [s for s in subjects if needle.casefold() in s.code.casefold()]
    statement = select(Patient).where(visible_patients(principal)).order_by(col(Patient.code))
    if needle:
        pattern = f"%{_escape_like(needle)}%"
        statement = statement.where(
            or_(
                col(Patient.code).ilike(pattern, escape="\\"),
                col(Patient.name).ilike(pattern, escape="\\"),
            )
        )
    return list(session.exec(statement).all())


def get_patient(*, session: Session, actor: Account, patient_id: int) -> Patient | None:
    """The patient, or None when the actor may not see them.

    For a researcher: a detached copy labelled "S-0001" (their first enrolment in one of the
    researcher's studies) with no name, code or notes.
    """
    principal = load_principal(session, actor)
    if hides_identity(principal):
        found = _subjects(session, principal, [col(Patient.id) == patient_id])
        return found[0] if found else None
    statement = select(Patient).where(Patient.id == patient_id, visible_patients(principal))
    return session.exec(statement).one_or_none()


def update_patient(
    *, session: Session, actor: Account, patient_id: int, data: PatientUpdate
) -> Patient:
    """Change the fields set in `data`; only admins may change the owner."""
    _check_free_text(data.model_dump(exclude_unset=True))
    changes = PatientUpdate.model_validate(data.model_dump(exclude_unset=True)).model_dump(
        exclude_unset=True
    )
    with write_transaction(session):
        principal = load_principal(session, actor)
        patient = writable_patient(session, principal, patient_id, "change the record")
        if "team" in changes:
            _check_team_choice(principal, changes["team"])
        if "owner_id" in changes:
            if principal.role != Role.ADMIN:
                raise PermissionDenied(f"account {principal.id} may not change a patient's owner")
            owner = get_or_raise(session, Account, changes["owner_id"])
            if owner.role != Role.CLINICIAN or not owner.is_active:
                raise ValueError(f"new owner {owner.username!r} is not an active clinician")
        existing = ("code" in changes
                    and _existing_code(session, changes["code"], except_id=patient.id))
        if existing:
            raise _code_used(changes["code"], existing)
        for name, value in changes.items():
            setattr(patient, name, "" if name == "notes" and value is None else value)
        session.flush()
        add_audit(
            session, actor_id=principal.id, action="update", target_type="patient",
            target_id=patient.id, detail="changed " + ", ".join(sorted(changes)),
        )
    return patient


def delete_patient(
    *, session: Session, actor: Account, photo_store: PhotoStore, patient_id: int
) -> None:
    """Remove the patient and every row that belongs to them, then their unreferenced files.

    Rows go in one transaction; files are removed only after it committed, so a failure
    never leaves a row without its file.
    """
    visit_ids = select(Visit.id).where(Visit.patient_id == patient_id)
    photo_ids = select(Photo.id).where(col(Photo.visit_id).in_(visit_ids))
    analysis_ids = select(Analysis.id).where(col(Analysis.photo_id).in_(photo_ids))
    with write_transaction(session):
        principal = load_principal(session, actor)
        patient = writable_patient(session, principal, patient_id, "delete the record")
        photo_files = session.exec(
            select(Photo.file_sha256, Photo.file_extension).where(col(Photo.id).in_(photo_ids))
        ).all()
        mask_rows = session.exec(
            select(*(getattr(Analysis, name) for name in MASK_COLUMNS)).where(
                col(Analysis.photo_id).in_(photo_ids)
            )
        ).all()
        files = {(sha, ext) for sha, ext in photo_files}
        files |= {(sha, ".png") for row in mask_rows for sha in row if sha is not None}
        # Children before parents: foreign keys are enforced.
        session.exec(delete(Review).where(col(Review.analysis_id).in_(analysis_ids)))
        session.exec(delete(LesionRecord).where(col(LesionRecord.analysis_id).in_(analysis_ids)))
        session.exec(delete(Analysis).where(col(Analysis.photo_id).in_(photo_ids)))
        session.exec(delete(Photo).where(col(Photo.visit_id).in_(visit_ids)))
        session.exec(delete(Enrolment).where(Enrolment.patient_id == patient_id))
        session.exec(delete(TreatmentEvent).where(TreatmentEvent.patient_id == patient_id))
        session.exec(delete(Visit).where(Visit.patient_id == patient_id))
        session.delete(patient)
        add_audit(
            session, actor_id=principal.id, action="delete", target_type="patient",
            target_id=patient_id,
            detail=f"code={patient.code}; {len(photo_files)} photos, {len(files)} files",
        )
    delete_unreferenced_files(session, photo_store, files)
