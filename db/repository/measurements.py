"""Per-photo rows for a patient's timeline, computed in a fixed number of queries.

A photo's analysis is its current one (`current_analysis_id`: the newest not withdrawn, which
is a clinician's correction when one was made since), with the latest review of it.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from db.access import load_principal, visible_patients
from db.models import Account, Analysis, Patient, Photo, Review, Visit
from db.repository._common import current_analysis_id, model_analysis_id


@dataclass(frozen=True)
class TimelineRow:
    """One photo of one visit with its current analysis and latest review (None if absent)."""

    visit_id: int
    visit_date: date
    photo_id: int
    view: str
    analysis_id: int | None
    comedone: int | None
    papule: int | None
    pustule: int | None
    nodule: int | None
    inflammatory_type_uncertain: int | None
    inflammatory: int | None
    non_inflammatory: int | None
    total: int | None
    lesion_area_fraction: float | None
    grade: int | None
    grade_confidence: float | None
    quality_passed: bool | None
    review_iga: int | None
    review_grade_override: int | None
    model_version: str | None
    # The model's analysis that a clinician corrected (None: the numbers are the model's own).
    corrects_id: int | None = None
    # The optional second grader's verdict on the same analysis (None when none ran).
    second_opinion_grade: int | None = None
    second_opinion_label: str | None = None
    second_opinion_confidence: float | None = None
    second_opinion_source: str | None = None
    # Where a close-up was taken (None: not recorded, or another view).
    body_site: str | None = None
    # Whether the analysis found a face (a close-up has none: no regions, GAGS or alignment).
    face_found: bool | None = None
    # How close the photo is to the photos the models learnt from, and whether it is unlike them.
    typicality: float | None = None
    unusual: bool | None = None
    # Why the photo failed the quality check (stored anyway); [] or None when it passed.
    quality_reasons: list[str] | None = None
    # Redness and dark marks (shares of the measured skin; None: not measured) and whether a
    # colour card referenced them (core.types.ColourMeasures).
    red_area_fraction: float | None = None
    dark_area_fraction: float | None = None
    colour_reference: str | None = None


# Labelled so that callers read rows by name (row.analysis_id), in TimelineRow's order.
MEASURE_COLUMNS = (
    col(Analysis.id).label("analysis_id"),
    col(Analysis.comedone).label("comedone"),
    col(Analysis.papule).label("papule"),
    col(Analysis.pustule).label("pustule"),
    col(Analysis.nodule).label("nodule"),
    col(Analysis.inflammatory_type_uncertain).label("inflammatory_type_uncertain"),
    col(Analysis.inflammatory).label("inflammatory"),
    col(Analysis.non_inflammatory).label("non_inflammatory"),
    col(Analysis.total).label("total"),
    col(Analysis.lesion_area_fraction).label("lesion_area_fraction"),
    col(Analysis.grade).label("grade"),
    col(Analysis.grade_confidence).label("grade_confidence"),
    col(Analysis.quality_passed).label("quality_passed"),
    col(Review.iga).label("review_iga"),
    col(Review.grade_override).label("review_grade_override"),
    col(Analysis.model_version).label("model_version"),
    col(Analysis.corrects_id).label("corrects_id"),
    col(Analysis.second_opinion_grade).label("second_opinion_grade"),
    col(Analysis.second_opinion_label).label("second_opinion_label"),
    col(Analysis.second_opinion_confidence).label("second_opinion_confidence"),
    col(Analysis.second_opinion_source).label("second_opinion_source"),
    col(Analysis.face_found).label("face_found"),
    col(Analysis.typicality).label("typicality"),
    col(Analysis.unusual).label("unusual"),
    col(Analysis.quality_reasons).label("quality_reasons"),
    col(Analysis.red_area_fraction).label("red_area_fraction"),
    col(Analysis.dark_area_fraction).label("dark_area_fraction"),
    col(Analysis.colour_reference).label("colour_reference"),
)


def photo_measure_rows(
    patient_ids: sa.Select, *, include_visits_without_photos: bool = False,
    unparsed: bool = False, measures: Sequence[str] | None = None,
) -> sa.Select:
    """Rows (patient_id, visit_id, visit_date, photo_id, view, *MEASURE_COLUMNS) for every
    photo of the given patients, with the current analysis and latest review joined in.

    `unparsed`: visit_date and quality_reasons come as the driver gives them (on SQLite the
    text "2024-01-31" and the JSON text; `parsed_date` and `parsed_reasons` read either), so
    that a study of 50,000 visits is not parsed row by row by SQLAlchemy's types (a second).

    The latest rows are looked up per photo (max id via the (photo_id, id) and
    (analysis_id, id) indexes) rather than joined from grouped subqueries: PostgreSQL
    misjudged the size of those and re-ran them per row (seconds for 150 photos).

    `measures`: the names of the MEASURE_COLUMNS to select (None: all of them).
    """
    if measures is not None:
        unknown = set(measures) - {column.key for column in MEASURE_COLUMNS}
        if unknown:
            raise ValueError(f"unknown measures {sorted(unknown)}; valid: "
                             f"{[column.key for column in MEASURE_COLUMNS]}")
    scope = col(Visit.patient_id).in_(patient_ids)
    # The review of the model's analysis stands for its clinician corrections too.
    reviewed = aliased(Analysis)
    newer_review = aliased(Review)
    latest_review_id = (
        select(func.max(newer_review.id))
        .join(reviewed, reviewed.id == newer_review.analysis_id)
        .where(sa.or_(reviewed.id == model_analysis_id(Analysis),
                      reviewed.corrects_id == model_analysis_id(Analysis)))
        .correlate(Analysis)
        .scalar_subquery()
    )
    photo_join = col(Photo.visit_id) == col(Visit.id)
    measures = tuple(column for column in MEASURE_COLUMNS
                     if measures is None or column.key in measures)
    visit_date: Any = col(Visit.visit_date)
    if unparsed:
        visit_date = sa.type_coerce(visit_date, sa.String)
        measures = tuple(
            sa.type_coerce(col(Analysis.quality_reasons), sa.String).label("quality_reasons")
            if column.key == "quality_reasons" else column for column in measures)
    statement = select(
        col(Visit.patient_id).label("patient_id"),
        col(Visit.id).label("visit_id"),
        visit_date.label("visit_date"),
        col(Photo.id).label("photo_id"),
        col(Photo.view).label("view"),
        col(Photo.body_site).label("body_site"),
        *measures,
    ).select_from(Visit)
    if include_visits_without_photos:
        statement = statement.outerjoin(Photo, photo_join)
    else:
        statement = statement.join(Photo, photo_join)
    # A photo whose latest analysis says it cannot be assessed is a photo without a
    # measurement: it never reaches a trend, a comparison or a study.
    return (
        statement.outerjoin(Analysis, sa.and_(col(Analysis.id) == current_analysis_id(col(Photo.id)),
                                              col(Analysis.assessable)))
        .outerjoin(Review, col(Review.id) == latest_review_id)
        .where(scope)
        .order_by(col(Visit.visit_date), col(Visit.id), col(Photo.id))
    )


def parsed_date(value: Any) -> date:
    """A visit date of an `unparsed` row: SQLite's text, or the date another driver gave."""
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def parsed_reasons(value: Any) -> list[str] | None:
    """The quality reasons of an `unparsed` row: JSON text, or the list another driver gave."""
    if isinstance(value, str):
        return [] if value == "[]" else None if value == "null" else json.loads(value)
    return value


def patient_timeline(*, session: Session, actor: Account, patient_id: int) -> list[TimelineRow]:
    """One row per photo of the patient, oldest visit first ([] if the actor may not see them).

    Two queries whatever the number of visits: the actor's rights, then the rows.
    """
    principal = load_principal(session, actor)
    patient_ids = select(Patient.id).where(Patient.id == patient_id, visible_patients(principal))
    rows = session.exec(photo_measure_rows(patient_ids)).all()
    names = [field.name for field in fields(TimelineRow)]
    return [TimelineRow(**{name: row._mapping[name] for name in names}) for row in rows]


def research_photo_rows(*, session: Session, actor: Account) -> list[sa.Row]:
    """photo_measure_rows of every visible patient who allows research use (one query after the
    actor's rights); the caller decides which photos go into a research export."""
    principal = load_principal(session, actor)
    patient_ids = select(Patient.id).where(col(Patient.research_consent), visible_patients(principal))
    return list(session.exec(photo_measure_rows(patient_ids)).all())
