"""Helpers shared by the repository modules: write transactions, audit rows, row lookups."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from db.access import Principal, require_write
from db.engine import begin_write
from db.errors import NotFound
from db.models import AUDIT_ACTIONS, AuditEvent, Patient, Photo, Visit

RowT = TypeVar("RowT", bound=SQLModel)


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
    patient = get_or_raise(session, Patient, patient_id)
    require_write(principal, patient, what)
    return patient


def writable_visit(session: Session, principal: Principal, visit_id: int, what: str) -> Visit:
    row = session.exec(
        select(Visit, Patient)
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(Visit.id == visit_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no visit with id {visit_id!r}")
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
        raise NotFound(f"no photo with id {photo_id!r}")
    photo, patient = row
    require_write(principal, patient, what)
    return photo
