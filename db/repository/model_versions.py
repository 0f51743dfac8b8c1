"""Which model versions made the analyses an account can see (the Models page).

Every analysis row records the model version that made it (a clinician's correction keeps the
version of the model's analysis it corrects). Counted over the patients the actor may read.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.access import load_principal, visible_patients
from db.models import Account, Analysis, Patient, Photo, Visit
from db.repository._common import current_analysis_id


@dataclass(frozen=True)
class ModelVersionUse:
    """One model version: how many photos it speaks for now, how many analyses it made."""

    model_version: str
    current_photos: int  # photos whose current analysis (corrected or not) comes from it
    model_analyses: int  # every analysis it made, re-analysed or superseded ones included
    last_made_at: datetime


def _visible(statement, principal):  # noqa: ANN001, ANN202 - a Select in, a Select out
    return (
        statement.join(Photo, col(Photo.id) == col(Analysis.photo_id))
        .join(Visit, col(Visit.id) == col(Photo.visit_id))
        .join(Patient, col(Patient.id) == col(Visit.patient_id))
        .where(visible_patients(principal))
    )


def model_version_use(*, session: Session, actor: Account) -> list[ModelVersionUse]:
    """Each model version behind the actor's visible analyses, the most recently used first
    (two grouped queries, whatever the number of analyses)."""
    principal = load_principal(session, actor)
    made = session.exec(
        _visible(select(Analysis.model_version, func.count(), func.max(Analysis.created_at),
                        func.max(Analysis.id)), principal)
        .where(col(Analysis.corrects_id).is_(None))
        .group_by(col(Analysis.model_version))
    ).all()
    current = dict(session.exec(
        _visible(select(Analysis.model_version, func.count()), principal)
        .where(col(Analysis.id) == current_analysis_id(col(Photo.id)))
        .group_by(col(Analysis.model_version))
    ).all())
    newest_first = sorted(made, key=lambda row: row[3], reverse=True)  # ids only grow
    return [ModelVersionUse(model_version=version, current_photos=int(current.get(version, 0)),
                            model_analyses=int(count), last_made_at=last)
            for version, count, last, _ in newest_first]
