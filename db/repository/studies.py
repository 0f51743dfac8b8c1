"""Studies: arms, members (researchers with read access), enrolments and measurements."""
from __future__ import annotations

from collections import defaultdict, namedtuple
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.types import BODY_SITES, CLOSE_UP_VIEW, VIEWS, Role
from db.access import (
    Principal,
    load_principal,
    may_manage_study,
    may_write_patient,
    no_access,
    visible_patients,
    visible_studies,
)
from db.errors import DuplicateError, PermissionDenied
from db.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_NAME_LENGTH,
    Account,
    AuditEvent,
    Enrolment,
    Patient,
    Photo,
    Study,
    StudyArm,
    StudyCreate,
    StudyMember,
    Visit,
)
from db.repository._common import (
    add_audit,
    check_text_length,
    get_or_raise,
    hides_identity,
    subject_label,
    write_transaction,
)
from db.repository.measurements import parsed_date, parsed_reasons, photo_measure_rows


def _clean_arms(arms: list[str]) -> list[str]:
    cleaned = [arm.strip() for arm in arms]
    if not cleaned or any(not arm for arm in cleaned):
        raise ValueError(f"arms {arms!r}: a study needs at least one arm, each with a name")
    if len({arm.casefold() for arm in cleaned}) != len(cleaned):
        raise ValueError(f"arms {arms!r}: arm names must differ")
    return cleaned


def _check_measured_view(view: str, body_site: str | None) -> str | None:
    """The study's view (one of VIEWS) and, for a close-up, its body site (None: any site is
    refused only for other views); returns the site kept."""
    if view not in VIEWS:
        raise ValueError(f"view {view!r} must be one of {', '.join(VIEWS)}")
    if view != CLOSE_UP_VIEW:
        if body_site is not None:
            raise ValueError(f"only a close-up has a body site, not the {view} view")
        return None
    if body_site is not None and body_site not in BODY_SITES:
        raise ValueError(f"body site {body_site!r} must be one of {', '.join(BODY_SITES)}")
    return body_site


def create_study(
    *, session: Session, actor: Account, name: str, description: str = "", arms: list[str],
    measured_view: str = "front", measured_body_site: str | None = None,
) -> Study:
    """A new study with its arms (admins and clinicians; the creator manages it). It measures
    one view (`measured_view`; a close-up of `measured_body_site`), chosen now: a subject
    without a photo of that view is missing, never measured on another."""
    measured_body_site = _check_measured_view(measured_view, measured_body_site)
    check_text_length("The study name", name.strip(), MAX_NAME_LENGTH)
    check_text_length("The study description", description.strip(), MAX_DESCRIPTION_LENGTH)
    data = StudyCreate(name=name.strip(), description=description.strip(), arms=_clean_arms(arms))
    with write_transaction(session):
        principal = load_principal(session, actor)
        if not principal.can_write:
            raise PermissionDenied(f"account {principal.id} ({principal.role}) may not create studies")
        if session.exec(select(Study.id).where(Study.name == data.name)).first() is not None:
            raise DuplicateError(f"study name {data.name!r} is already used")
        study = Study(name=data.name, description=data.description, created_by_id=principal.id,
                      measured_view=measured_view, measured_body_site=measured_body_site)
        session.add(study)
        try:
            session.flush()
        except IntegrityError:
            raise DuplicateError(f"study name {data.name!r} is already used") from None
        session.add_all(StudyArm(study_id=study.id, name=arm) for arm in data.arms)
        add_audit(
            session, actor_id=principal.id, action="create", target_type="study",
            target_id=study.id, detail=f"arms={len(data.arms)}",
        )
    return study


def list_studies(*, session: Session, actor: Account) -> list[Study]:
    principal = load_principal(session, actor)
    statement = select(Study).where(visible_studies(principal)).order_by(col(Study.name))
    return list(session.exec(statement).all())


def _visible_study(session: Session, principal: Principal, study_id: int) -> Study | None:
    statement = select(Study).where(Study.id == study_id, visible_studies(principal))
    return session.exec(statement).one_or_none()


def get_study(*, session: Session, actor: Account, study_id: int) -> Study | None:
    return _visible_study(session, load_principal(session, actor), study_id)


def list_arms(*, session: Session, actor: Account, study_id: int) -> list[StudyArm]:
    principal = load_principal(session, actor)
    statement = (
        select(StudyArm)
        .join(Study, col(Study.id) == col(StudyArm.study_id))
        .where(StudyArm.study_id == study_id, visible_studies(principal))
        .order_by(col(StudyArm.id))
    )
    return list(session.exec(statement).all())


# ------------------------------------------------- identifiable photos for a study's researchers
PHOTO_DECISION = "identifiable photos for researchers"  # how the audit rows of this switch begin
MAX_REASON_LENGTH = 500


def set_identifiable_photos(
    *, session: Session, actor: Account, study_id: int, allowed: bool, reason: str
) -> Study:
    """Allow (True) or stop (False) identifiable photos for the study's researchers: off, they
    see photos with the eyes and mouth masked. Administrators only (PermissionDenied for anyone
    else); the reason is required (ValueError without one) and goes, with who and when, into
    the audit trail, both ways. Setting the value it already has changes and records nothing."""
    text = " ".join(reason.split())
    with write_transaction(session):
        principal = load_principal(session, actor)
        if not principal.is_admin:
            raise PermissionDenied(
                f"account {principal.id} ({principal.role or 'unknown'}) may not change whether "
                f"researchers see identifiable photos of study {study_id}: administrators only"
            )
        if not text:
            raise ValueError("Give a reason: it is kept in the audit trail with your name.")
        if len(text) > MAX_REASON_LENGTH:
            raise ValueError(f"The reason is {len(text)} characters long; keep it under "
                             f"{MAX_REASON_LENGTH}.")
        study = get_or_raise(session, Study, study_id)
        if study.identifiable_photos_for_researchers == allowed:
            return study
        study.identifiable_photos_for_researchers = allowed
        session.add(study)
        add_audit(
            session, actor_id=principal.id, action="update", target_type="study",
            target_id=study_id,
            detail=f"{PHOTO_DECISION}: {'allowed' if allowed else 'masked'}; reason: {text}",
        )
    return study


def list_photo_decisions(*, session: Session, actor: Account, study_id: int) -> list[AuditEvent]:
    """The audit rows of `set_identifiable_photos` for this study, newest first (administrators
    only: raises PermissionDenied for others, as the audit trail does)."""
    principal = load_principal(session, actor)
    if not principal.is_admin:
        raise PermissionDenied(f"account {principal.id} is not an admin: the audit log is closed")
    statement = (
        select(AuditEvent)
        .where(AuditEvent.target_type == "study", AuditEvent.target_id == study_id,
               col(AuditEvent.detail).startswith(PHOTO_DECISION + ":"))
        .order_by(col(AuditEvent.id).desc())
    )
    return list(session.exec(statement).all())


def must_mask_photo(*, session: Session, actor: Account, photo_id: int) -> bool:
    """Whether this account sees the photo with its eyes and mouth masked. Clinicians and
    administrators see their patients' photos as taken. A researcher sees them masked unless a
    study that enrols the photo's patient, and has the researcher as a member, allows
    identifiable photos. Any other account (no role, deactivated) is masked. One query."""
    principal = load_principal(session, actor)
    if principal.is_active and principal.role in (Role.ADMIN, Role.CLINICIAN):
        return False
    if not principal.is_active or principal.role != Role.RESEARCHER:
        return True
    allowing = session.exec(
        select(Study.id)
        .join(Enrolment, col(Enrolment.study_id) == col(Study.id))
        .join(StudyMember, col(StudyMember.study_id) == col(Study.id))
        .join(Visit, col(Visit.patient_id) == col(Enrolment.patient_id))
        .join(Photo, col(Photo.visit_id) == col(Visit.id))
        .where(Photo.id == photo_id, StudyMember.account_id == principal.id,
               col(Study.identifiable_photos_for_researchers))
        .limit(1)
    ).first()
    return allowing is None


def _managed_study(session: Session, principal: Principal, study_id: int, what: str) -> Study:
    study = get_or_raise(session, Study, study_id)
    if not may_manage_study(principal, study):
        raise PermissionDenied(f"account {principal.id} may not {what} of study {study_id}")
    return study


def add_study_member(
    *, session: Session, actor: Account, study_id: int, account_id: int
) -> StudyMember:
    """Give an account read access to the study's enrolled patients (idempotent)."""
    with write_transaction(session):
        principal = load_principal(session, actor)
        _managed_study(session, principal, study_id, "change the members")
        member = get_or_raise(session, Account, account_id)
        if not member.is_active:
            raise ValueError(f"account {member.username!r} is deactivated")
        existing = session.exec(
            select(StudyMember).where(
                StudyMember.study_id == study_id, StudyMember.account_id == account_id
            )
        ).one_or_none()
        if existing is not None:
            return existing
        row = StudyMember(study_id=study_id, account_id=account_id)
        session.add(row)
        session.flush()
        add_audit(
            session, actor_id=principal.id, action="create", target_type="study_member",
            target_id=row.id, detail=f"study={study_id} account={account_id}",
        )
    return row


def list_study_members(*, session: Session, actor: Account, study_id: int) -> list[Account]:
    principal = load_principal(session, actor)
    if _visible_study(session, principal, study_id) is None:
        return []
    statement = (
        select(Account)
        .join(StudyMember, col(StudyMember.account_id) == col(Account.id))
        .where(StudyMember.study_id == study_id)
        .order_by(col(Account.username))
    )
    return list(session.exec(statement).all())


def enrol_patient(
    *,
    session: Session,
    actor: Account,
    study_id: int,
    arm_id: int,
    patient_id: int,
    baseline_visit_id: int | None = None,
) -> Enrolment:
    """Put a patient in a study arm. The actor must be allowed to change the patient and
    manage (or be a member of) the study. No baseline visit: the first measured visit."""
    with write_transaction(session):
        principal = load_principal(session, actor)
        study = get_or_raise(session, Study, study_id)
        patient = get_or_raise(session, Patient, patient_id)
        is_member = session.exec(
            select(StudyMember.id).where(
                StudyMember.study_id == study_id, StudyMember.account_id == principal.id
            )
        ).first() is not None
        if not may_write_patient(principal, patient) or not (
            may_manage_study(principal, study) or (principal.can_write and is_member)
        ):
            raise PermissionDenied(no_access("enrol this patient in this study"))
        if not patient.research_consent or patient.consent_date is None:
            missing = " and ".join(
                ([] if patient.consent_date else ["a consent date"])
                + ([] if patient.research_consent else ['"Allows research use" ticked']))
            raise ValueError(
                f"Patient {patient.code} cannot be enrolled in a study without {missing} on "
                "the patient's record: researchers see only patients who consented to research use.")
        arm = get_or_raise(session, StudyArm, arm_id)
        if arm.study_id != study_id:
            raise ValueError(f"arm {arm_id} belongs to study {arm.study_id}, not {study_id}")
        if baseline_visit_id is not None:
            visit = get_or_raise(session, Visit, baseline_visit_id)
            if visit.patient_id != patient_id:
                raise ValueError(f"baseline visit {baseline_visit_id} is not a visit of patient {patient_id}")
        if session.exec(
            select(Enrolment.id).where(
                Enrolment.study_id == study_id, Enrolment.patient_id == patient_id
            )
        ).first() is not None:
            raise DuplicateError(f"patient {patient_id} is already enrolled in study {study_id}")
        enrolment = Enrolment(
            study_id=study_id, arm_id=arm_id, patient_id=patient_id,
            baseline_visit_id=baseline_visit_id,
        )
        session.add(enrolment)
        try:
            session.flush()
        except IntegrityError:
            raise DuplicateError(f"patient {patient_id} is already enrolled in study {study_id}") from None
        add_audit(
            session, actor_id=principal.id, action="create", target_type="enrolment",
            target_id=enrolment.id, detail=f"study={study_id} arm={arm_id} patient={patient_id}",
        )
    return enrolment


def list_enrolments(*, session: Session, actor: Account, study_id: int) -> list[Enrolment]:
    """The study's enrolments of patients the actor may see."""
    principal = load_principal(session, actor)
    if _visible_study(session, principal, study_id) is None:
        return []
    statement = (
        select(Enrolment)
        .join(Patient, col(Patient.id) == col(Enrolment.patient_id))
        .where(Enrolment.study_id == study_id, visible_patients(principal))
        .order_by(col(Enrolment.id))
    )
    return list(session.exec(statement).all())


# Not frozen: 50,000 of a frozen one (32 fields, each set through object.__setattr__) took
# 0.23 s to make, 0.07 s plain.
@dataclass
class StudyMeasurement:
    """One measured visit of one enrolled patient, relative to the patient's baseline.

    The visit's measurement comes from a photo of the study's view (`Study.measured_view`, a
    close-up of `measured_body_site`; views are not comparable, so no other view stands in),
    preferring photos that passed the quality gate, then the newest photo.
    `grade` is the model's; `grade_override` a reviewer's correction (None: not corrected).
    `patient_code` is the clinic's pseudonymous code, or for a researcher the subject label of
    this enrolment ("S-0001"): researchers never see a patient's code or name.
    """

    arm: str
    arm_id: int
    patient_id: int
    patient_code: str
    visit_id: int
    visit_date: date
    days_from_baseline: int
    is_baseline: bool
    photo_id: int
    view: str
    analysis_id: int
    comedone: int
    papule: int
    pustule: int
    nodule: int
    inflammatory_type_uncertain: int
    inflammatory: int
    non_inflammatory: int
    total: int
    lesion_area_fraction: float
    grade: int
    grade_confidence: float
    grade_override: int | None
    quality_passed: bool
    iga: int | None
    model_version: str
    clinician_corrected: bool = False  # the lesions were corrected by a clinician
    body_site: str | None = None  # a close-up's site
    # Why the photo failed the quality check when it was stored anyway (() when it passed).
    quality_reasons: tuple[str, ...] = ()
    # Redness and dark marks, shares of the measured skin (None: not measured), and whether a
    # colour card referenced them ("colour-referenced" / "self-referenced").
    red_area_fraction: float | None = None
    dark_area_fraction: float | None = None
    colour_reference: str | None = None


@dataclass(frozen=True)
class StudySubject:
    """An enrolled subject and whether the study's view measures them: `measured_visits` visits
    of it; `other_views` the views of their other analysed photos (never used: a subject
    without the study's view is missing)."""

    arm: str
    patient_id: int
    patient_code: str
    measured_visits: int
    other_views: tuple[str, ...] = ()
    left_out_visits: int = 0  # visits whose only photos of the view failed the quality check
    # The enrolment itself: its id, arm, the baseline visit chosen at enrolment (None: the
    # first measured visit) and when it was made.
    enrolment_id: int | None = None
    arm_id: int | None = None
    baseline_visit_id: int | None = None
    enrolled_at: datetime | None = None


class StudyVisit(NamedTuple):
    """One measured visit with only what the per-arm statistics read (`study_visits`): a named
    tuple, for the studies page's first open at 50,000 visits (issue 28): 50,000 are made in
    0.02 s, against 0.23 s for the frozen dataclass StudyMeasurement was."""

    arm: str
    arm_id: int
    patient_id: int
    patient_code: str
    visit_id: int
    visit_date: date
    days_from_baseline: int
    is_baseline: bool
    inflammatory: int
    non_inflammatory: int
    iga: int | None
    quality_passed: bool


@dataclass(frozen=True)
class StudyResults:
    """A study's measurements, and every enrolled subject with how the study's view covers them."""

    measured_view: str
    measured_body_site: str | None
    measurements: list[StudyMeasurement]
    subjects: list[StudySubject]


@dataclass(frozen=True)
class StudyVisits:
    """`StudyResults` with the lean `StudyVisit` rows (`study_visits`)."""

    measured_view: str
    measured_body_site: str | None
    visits: list[StudyVisit]
    subjects: list[StudySubject]


def _measurement_rank(row: Row) -> tuple[bool, int]:
    return (bool(row.quality_passed), row.photo_id)


def study_measurements(*, session: Session, actor: Account, study_id: int,
                       leave_out_failed_quality: bool = False) -> list[StudyMeasurement]:
    """Every measured visit of every visible enrolled patient, by arm, patient and date, on the
    study's view only (`study_results`)."""
    return study_results(session=session, actor=actor, study_id=study_id,
                         leave_out_failed_quality=leave_out_failed_quality).measurements


def _in_view(row: Row, view: str, site: str | None) -> bool:
    """Whether the row's photo is of the study's view (`Study.measured_view`, a close-up of
    `measured_body_site`); the two are passed as plain values (read once, not per row)."""
    if row.view != view:
        return False
    return view != CLOSE_UP_VIEW or site is None or row.body_site == site


# The measures `study_visits` reads: the per-arm statistics need no more (and fetching all
# 28 doubled the fetch at 50,000 visits).
_VISIT_MEASURES = ("analysis_id", "inflammatory", "non_inflammatory", "quality_passed",
                   "review_iga")


@dataclass(frozen=True)
class _Measured:
    """The rows that measure a study, chosen once for `study_results` and `study_visits`."""

    view: str
    body_site: str | None
    # patient id -> (enrolment row, arm name, subject as the actor sees them)
    by_patient: dict[int, tuple[Row, str, str]]
    # the rows that measure each patient's visits by date; patients by arm and subject
    per_patient: dict[int, list[Row]]
    visit_dates: dict[int, date]
    subjects: list[StudySubject]

    def baseline(self, patient_id: int) -> tuple[int, date]:
        """The patient's baseline visit (chosen at enrolment, else the first measured) and date."""
        enrolment = self.by_patient[patient_id][0]
        baseline_id = enrolment.baseline_visit_id or self.per_patient[patient_id][0].visit_id
        return baseline_id, self.visit_dates[baseline_id]


def _measured_rows(session: Session, actor: Account, study_id: int, leave_out_failed_quality: bool,
                   measures: tuple[str, ...] | None = None) -> _Measured | None:
    """The study's rows chosen on its one view (None: the actor may not see the study).
    Three queries whatever the number of patients and visits."""
    principal = load_principal(session, actor)
    study = _visible_study(session, principal, study_id)
    if study is None:
        return None
    measured_view, measured_site = study.measured_view, study.measured_body_site
    # Columns, not ORM objects, and run by the session's connection (same transaction): the
    # ORM's row loading cost half a second at 5,000 subjects and 50,000 visits (issue 28).
    enrolled = session.connection().execute(
        select(col(Enrolment.id).label("id"), col(Enrolment.patient_id).label("patient_id"),
               col(Enrolment.arm_id).label("arm_id"),
               col(Enrolment.baseline_visit_id).label("baseline_visit_id"),
               col(Enrolment.enrolled_at).label("enrolled_at"), StudyArm.name, Patient.code)
        .join(StudyArm, col(StudyArm.id) == col(Enrolment.arm_id))
        .join(Patient, col(Patient.id) == col(Enrolment.patient_id))
        .where(Enrolment.study_id == study_id, visible_patients(principal))
    ).all()
    if not enrolled:
        return _Measured(measured_view, measured_site, {}, {}, {}, [])
    hide = hides_identity(principal)
    by_patient = {
        row.patient_id: (row, row.name, subject_label(row.id) if hide else row.code)
        for row in enrolled
    }
    patient_ids = select(Patient.id).where(col(Patient.id).in_(list(by_patient)))
    # Dates and reasons parsed here, not by SQLAlchemy's types row by row (a second at 50,000).
    found = session.connection().execute(photo_measure_rows(
        patient_ids, include_visits_without_photos=True, unparsed=True, measures=measures))
    # Plain named tuples: a SQLAlchemy row's attribute costs ten times a tuple's, and some 30
    # are read per visit (half a second at 50,000 visits).
    measured_row = namedtuple("measured_row", list(found.keys()))  # type: ignore[misc]
    rows = [measured_row._make(row) for row in found]

    visit_dates: dict[int, date] = {}
    best: dict[int, Row] = {}  # visit_id -> the row that measures the visit
    other_views: dict[int, set[str]] = defaultdict(set)
    left_out: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        if row.visit_id not in visit_dates:
            visit_dates[row.visit_id] = parsed_date(row.visit_date)
        if row.analysis_id is None:  # no photo, or a photo without analysis
            continue
        if not _in_view(row, measured_view, measured_site):
            other_views[row.patient_id].add(row.view)
            continue
        if leave_out_failed_quality and not row.quality_passed:
            left_out[row.patient_id].add(row.visit_id)
            continue
        current = best.get(row.visit_id)
        if current is None or _measurement_rank(row) > _measurement_rank(current):
            best[row.visit_id] = row
    # The query orders the rows by visit date and id, so each patient's visits come in date
    # order without sorting 50,000 of them again here.
    per_patient: dict[int, list[Row]] = defaultdict(list)
    for row in best.values():
        per_patient[row.patient_id].append(row)
    subjects = sorted(
        (StudySubject(
            arm=arm, patient_id=patient_id, patient_code=code,
            measured_visits=len(per_patient.get(patient_id, ())),
            other_views=tuple(sorted(other_views.get(patient_id, set()))),
            left_out_visits=len(left_out.get(patient_id, set())
                                - {r.visit_id for r in per_patient.get(patient_id, [])}),
            enrolment_id=enrolment.id, arm_id=enrolment.arm_id,
            baseline_visit_id=enrolment.baseline_visit_id, enrolled_at=enrolment.enrolled_at,
        ) for patient_id, (enrolment, arm, code) in by_patient.items()),
        key=lambda s: (s.arm, s.patient_code))
    # Patients in (arm, subject) order: their visits listed one patient after another are then
    # in the order the study shows them (arm, subject, date), with no sort of every visit.
    ordered = {s.patient_id: per_patient[s.patient_id] for s in subjects
               if s.patient_id in per_patient}
    return _Measured(measured_view, measured_site, by_patient, ordered, visit_dates, subjects)


def study_results(*, session: Session, actor: Account, study_id: int,
                  leave_out_failed_quality: bool = False) -> StudyResults:
    """The study's measurements on its one view (`Study.measured_view`), and every visible
    enrolled subject with how many visits that view measures (a subject without it is listed,
    never measured on another view). `leave_out_failed_quality`: photos stored although they
    failed the quality check measure nothing (a subject's baseline is then their first visit
    that passed, unless the enrolment chose one).

    Four queries whatever the number of patients and visits.
    """
    measured = _measured_rows(session, actor, study_id, leave_out_failed_quality)
    if measured is None:
        return StudyResults("front", None, [], [])
    result: list[StudyMeasurement] = []
    for patient_id, rows in measured.per_patient.items():
        enrolment, arm, code = measured.by_patient[patient_id]
        baseline_id, baseline_date = measured.baseline(patient_id)
        for row in rows:
            visit_date = measured.visit_dates[row.visit_id]
            result.append(
                StudyMeasurement(
                    arm=arm, arm_id=enrolment.arm_id, patient_id=patient_id, patient_code=code,
                    visit_id=row.visit_id, visit_date=visit_date,
                    days_from_baseline=(visit_date - baseline_date).days,
                    is_baseline=row.visit_id == baseline_id, photo_id=row.photo_id,
                    view=row.view, analysis_id=row.analysis_id, comedone=row.comedone,
                    papule=row.papule, pustule=row.pustule, nodule=row.nodule,
                    inflammatory_type_uncertain=row.inflammatory_type_uncertain,
                    inflammatory=row.inflammatory, non_inflammatory=row.non_inflammatory,
                    total=row.total, lesion_area_fraction=row.lesion_area_fraction,
                    grade=row.grade, grade_confidence=row.grade_confidence,
                    grade_override=row.review_grade_override,
                    quality_passed=bool(row.quality_passed), iga=row.review_iga,
                    model_version=row.model_version,
                    clinician_corrected=row.corrects_id is not None,
                    body_site=row.body_site,
                    quality_reasons=tuple(parsed_reasons(row.quality_reasons) or ()),
                    red_area_fraction=row.red_area_fraction,
                    dark_area_fraction=row.dark_area_fraction,
                    colour_reference=row.colour_reference,
                )
            )
    return StudyResults(measured.view, measured.body_site, result, measured.subjects)


def study_visits(*, session: Session, actor: Account, study_id: int,
                 leave_out_failed_quality: bool = False) -> StudyVisits:
    """`study_results` with only what the per-arm statistics read (`StudyVisit`): the same
    visits, baselines and subjects, from a fifth of the columns."""
    measured = _measured_rows(session, actor, study_id, leave_out_failed_quality,
                              _VISIT_MEASURES)
    if measured is None:
        return StudyVisits("front", None, [], [])
    result: list[StudyVisit] = []
    for patient_id, rows in measured.per_patient.items():
        enrolment, arm, code = measured.by_patient[patient_id]
        baseline_id, baseline_date = measured.baseline(patient_id)
        dates = measured.visit_dates
        result.extend(
            StudyVisit(arm, enrolment.arm_id, patient_id, code, row.visit_id, dates[row.visit_id],
                       (dates[row.visit_id] - baseline_date).days, row.visit_id == baseline_id,
                       row.inflammatory, row.non_inflammatory, row.review_iga,
                       bool(row.quality_passed))
            for row in rows)
    return StudyVisits(measured.view, measured.body_site, result, measured.subjects)
