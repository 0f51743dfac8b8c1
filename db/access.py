"""Who may see and change which patient.

- admin: every patient, read and write;
- clinician: patients they own, or whose team equals their team (no team: own only);
- researcher: read-only, patients enrolled in studies where they are a study member, and only
  while the patient allows research use and has a consent date (issue 24: an enrolment made
  without them, or consent withdrawn later, shows the researcher nothing).
Inactive accounts see nothing. The role is read from the database on every call, so a
demoted or deactivated account loses its rights at once, even with a stale `Account` object.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.types import Right, Role, role_may
from db.errors import PermissionDenied
from db.models import Account, Enrolment, Patient, Study, StudyMember


@dataclass(frozen=True)
class Principal:
    """The acting account's current rights, fresh from the database."""

    id: int
    role: str
    team: str | None
    is_active: bool

    def may(self, right: Right) -> bool:
        """The role's right (core.types.ROLE_RIGHTS), and only while the account is active."""
        return self.is_active and role_may(self.role, right)

    @property
    def is_admin(self) -> bool:
        return self.may(Right.ADMINISTER)

    @property
    def can_write(self) -> bool:
        """Researchers never write patient data."""
        return self.may(Right.RECORD)


def load_principal(session: Session, actor: Account) -> Principal:
    """The actor's current role, team and active flag (one query)."""
    if actor is None or actor.id is None:
        raise PermissionDenied("no signed-in account")
    row = session.exec(
        select(Account.role, Account.team, Account.is_active).where(Account.id == actor.id)
    ).one_or_none()
    if row is None:
        return Principal(id=actor.id, role="", team=None, is_active=False)
    role, team, is_active = row
    return Principal(id=actor.id, role=role, team=team, is_active=bool(is_active))


def visible_patients(principal: Principal) -> sa.ColumnElement[bool]:
    """A WHERE clause on `Patient` that keeps the patients the principal may read."""
    if not principal.is_active:
        return sa.false()
    if principal.role == Role.ADMIN:
        return sa.true()
    if principal.role == Role.CLINICIAN:
        own = col(Patient.owner_id) == principal.id
        if principal.team is None:
            return own
        return sa.or_(own, col(Patient.team) == principal.team)
    if principal.role == Role.RESEARCHER:
        enrolled = (
            select(Enrolment.patient_id)
            .join(StudyMember, col(StudyMember.study_id) == col(Enrolment.study_id))
            .where(StudyMember.account_id == principal.id)
        )
        return sa.and_(col(Patient.id).in_(enrolled), col(Patient.research_consent).is_(True),
                       col(Patient.consent_date).is_not(None))
    return sa.false()


def may_write_patient(principal: Principal, patient: Patient) -> bool:
    if not principal.can_write:
        return False
    if principal.role == Role.ADMIN:
        return True
    if patient.owner_id == principal.id:
        return True
    return principal.team is not None and patient.team == principal.team


def no_access(what: str) -> str:
    """The one answer to a change of a row the account may not change, or that does not exist
    (issue 24: "patient 22" told another team's patient exists): no id, no code."""
    return f"No such patient or no access: this account may not {what} here."


def require_write(principal: Principal, patient: Patient, what: str) -> None:
    """Raise PermissionDenied unless the principal may change this patient's data (the
    message names no patient: it may be one the account may not even see)."""
    if not may_write_patient(principal, patient):
        raise PermissionDenied(no_access(what))


def visible_studies(principal: Principal) -> sa.ColumnElement[bool]:
    """A WHERE clause on `Study`: admins see all; others the studies they created or joined,
    and clinicians also the studies where a patient they may see is enrolled."""
    if not principal.is_active:
        return sa.false()
    if principal.role == Role.ADMIN:
        return sa.true()
    member_of = select(StudyMember.study_id).where(StudyMember.account_id == principal.id)
    clauses = [
        col(Study.created_by_id) == principal.id,
        col(Study.id).in_(member_of),
    ]
    if principal.role == Role.CLINICIAN:
        with_my_patients = (
            select(Enrolment.study_id)
            .join(Patient, col(Patient.id) == col(Enrolment.patient_id))
            .where(visible_patients(principal))
        )
        clauses.append(col(Study.id).in_(with_my_patients))
    return sa.or_(*clauses)


def may_manage_study(principal: Principal, study: Study) -> bool:
    """Admins and the study's creator (a clinician) manage arms, members and enrolments."""
    if not principal.can_write:
        return False
    return principal.role == Role.ADMIN or study.created_by_id == principal.id
