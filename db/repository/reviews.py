"""Clinician reviews of analyses (IGA and grade confirmation) and the review queue."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from db.access import load_principal, require_write, visible_patients
from db.errors import NotFound
from db.models import (
    MAX_NOTE_LENGTH,
    Account,
    Analysis,
    Patient,
    Photo,
    Review,
    ReviewCreate,
    Visit,
)
from db.repository._common import (
    check_text_length,
    add_audit,
    current_analysis_id,
    hides_identity,
    join_analysis_patient,
    model_analysis_id,
    subject_labels,
    without_free_text,
    write_transaction,
)


@dataclass(frozen=True)
class ReviewQueueEntry:
    """An analysis awaiting review, with what a reviewer needs to find it."""

    analysis: Analysis
    photo_id: int
    visit_id: int
    visit_date: date
    patient_id: int
    patient_code: str
    view: str = "front"
    body_site: str | None = None


def review_queue_entries(
    *, session: Session, actor: Account, limit: int | None = None
) -> list[ReviewQueueEntry]:
    """Latest analyses of visible photos that nobody reviewed yet, oldest first (one query).
    A photo that cannot be assessed has no count or grade to review: it is not listed."""
    principal = load_principal(session, actor)
    # A review of the model's analysis also stands for its corrections, and the other way round.
    reviewed_analysis = aliased(Analysis)
    reviewed = (select(model_analysis_id(reviewed_analysis))
                .join(Review, col(Review.analysis_id) == reviewed_analysis.id).correlate(None))
    statement = (
        select(Analysis, Photo.id, Visit.id, Visit.visit_date, Patient.id, Patient.code,
               Photo.view, Photo.body_site)
        .join(Photo, col(Photo.id) == col(Analysis.photo_id))
        .join(Visit, col(Visit.id) == col(Photo.visit_id))
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(
            col(Analysis.id) == current_analysis_id(col(Analysis.photo_id)),
            model_analysis_id(Analysis).not_in(reviewed),
            col(Analysis.assessable),
            visible_patients(principal),
        )
        .order_by(col(Analysis.created_at), col(Analysis.id))
    )
    if limit is not None:
        statement = statement.limit(limit)
    rows = session.exec(statement).all()
    if hides_identity(principal) and rows:
        # Researchers see subject labels, never codes (one more query, not one per row).
        labels = subject_labels(session, principal, select(Patient.id).where(
            col(Patient.id).in_(sorted({row[4] for row in rows}))))
        rows = [(*row[:5], labels.get(row[4], ""), *row[6:]) for row in rows]
    return [
        ReviewQueueEntry(analysis, photo_id, visit_id, visit_date, patient_id, code, view, site)
        for analysis, photo_id, visit_id, visit_date, patient_id, code, view, site in rows
    ]


def list_review_queue(*, session: Session, actor: Account) -> list[Analysis]:
    """Latest analyses with no review yet, oldest first, of patients the actor may see."""
    return [entry.analysis for entry in review_queue_entries(session=session, actor=actor)]


def add_review(
    *,
    session: Session,
    actor: Account,
    analysis_id: int,
    iga: int,
    grade_override: int | None = None,
    notes: str = "",
) -> Review:
    """Record a clinician's IGA (0-4) and either confirm (None) or correct (0-3) the grade."""
    data = ReviewCreate(
        analysis_id=analysis_id, iga=iga, grade_override=grade_override,
        notes=check_text_length("The review notes", notes.strip(), MAX_NOTE_LENGTH),
    )
    with write_transaction(session):
        principal = load_principal(session, actor)
        row = session.exec(
            select(Patient)
            .join(Visit, col(Visit.patient_id) == col(Patient.id))
            .join(Photo, col(Photo.visit_id) == col(Visit.id))
            .join(Analysis, col(Analysis.photo_id) == col(Photo.id))
            .where(Analysis.id == analysis_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"no analysis with id {analysis_id!r}")
        require_write(principal, row, "review analyses")
        review = Review(**data.model_dump(), reviewer_id=principal.id)
        session.add(review)
        session.flush()
        add_audit(
            session, actor_id=principal.id, action="create", target_type="review",
            target_id=review.id,
            detail=f"analysis={analysis_id} iga={data.iga} grade_override={data.grade_override}",
        )
    return review


@dataclass(frozen=True)
class ReviewBy:
    """A review with the name of the clinician who made it."""

    review: Review
    reviewer: str


def latest_reviews(*, session: Session, actor: Account, patient_id: int) -> dict[int, ReviewBy]:
    """The latest review of each reviewed analysis of the patient, by the id of the model's
    analysis (a review of a clinician's correction counts for the model's analysis it
    corrects), with the reviewer's name ({} when the actor may not see the patient). One query."""
    principal = load_principal(session, actor)
    statement = (
        join_analysis_patient(
            select(Review, Account.full_name, Account.username, model_analysis_id(Analysis))
            .join(Account, col(Account.id) == col(Review.reviewer_id)),
            col(Review.analysis_id),
        )
        .where(Visit.patient_id == patient_id, visible_patients(principal))
        .order_by(col(Review.id))
    )
    latest: dict[int, ReviewBy] = {}
    hide_notes = hides_identity(principal)
    for review, full_name, username, model_id in session.exec(statement):
        if hide_notes:
            review = without_free_text(review, "notes")
        latest[int(model_id)] = ReviewBy(review, full_name or username)  # later ids win
    return latest


def list_reviews(*, session: Session, actor: Account, analysis_id: int) -> list[Review]:
    """The analysis' reviews, oldest first ([] when the actor may not see the patient)."""
    principal = load_principal(session, actor)
    statement = (
        join_analysis_patient(select(Review), col(Review.analysis_id))
        .where(Review.analysis_id == analysis_id, visible_patients(principal))
        .order_by(col(Review.id))
    )
    reviews = list(session.exec(statement).all())
    if hides_identity(principal):  # free-text notes may name the person
        return [without_free_text(r, "notes") for r in reviews]
    return reviews
