"""Builders for data-layer tests: accounts, patients, visits, and small synthetic photos and
analyses made directly from core's result types (no model, no patient photo).

The module name is unique on purpose: test folders are not packages here.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date

import numpy as np
from PIL import Image
from sqlalchemy import Engine, event
from sqlmodel import Session

from core import types as core_types
from db import repository as repo
from db.models import Account, AccountCreate, Patient, PatientCreate, Visit

PASSWORD = "correct horse battery"


def make_account(
    session: Session, username: str, role: str = "clinician", team: str | None = None
) -> Account:
    return repo.create_account(
        session=session,
        data=AccountCreate(username=username, password=PASSWORD, role=role, team=team),
    )


def make_patient(session: Session, actor: Account, code: str, **fields: object) -> Patient:
    """A patient who consented (a date) and allows research use unless `fields` say otherwise:
    a study enrolment needs both (issue 24)."""
    fields.setdefault("research_consent", True)
    fields.setdefault("consent_date", None if not fields["research_consent"] else date(2024, 1, 2))
    return repo.create_patient(session=session, actor=actor, data=PatientCreate(code=code, **fields))


def make_visit(session: Session, actor: Account, patient: Patient, day: date) -> Visit:
    return repo.create_visit(session=session, actor=actor, patient_id=patient.id, visit_date=day)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def make_photo(seed: int = 0, width: int = 48, height: int = 32) -> core_types.DecodedPhoto:
    """A small random RGB photo; the 'upload' is its PNG bytes plus a marker (a fake EXIF)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    stored = png_bytes(image)
    upload = stored + b"upload-" + str(seed).encode()
    return core_types.DecodedPhoto(
        image=image,
        upload_sha256=hashlib.sha256(upload).hexdigest(),
        source_format="PNG",
        encode_stored=lambda: stored,
        stored_extension=".png",
        filename=f"photo_{seed}.png",
        device="Test Camera",
    )



def stored_photo_with_analysis(session: Session, store, actor: Account, patient: Patient,  # noqa: ANN001
                               day: date, seed: int = 0):  # noqa: ANN201 - (Photo, Analysis) rows
    """A visit of `patient` on `day` with one stored photo and its model analysis: the photo row
    and the analysis row."""
    visit = make_visit(session, actor, patient, day)
    photo = make_photo(seed)
    row = repo.store_photo(session=session, actor=actor, visit_id=visit.id, photo_store=store,
                           photo=photo, analysis=make_analysis(photo))
    return row, repo.latest_analysis(session=session, actor=actor, photo_id=row.id)

@dataclass(frozen=True)
class LesionSpec:
    kind: str
    box: tuple[int, int, int, int]


def make_analysis(
    photo: core_types.DecodedPhoto,
    lesions: list[LesionSpec] | None = None,
    *,
    model_version: str = "seg-test-1",
    grade: int = 1,
    quality_passed: bool = True,
    with_masks: bool = True,
) -> core_types.Analysis:
    """An analysis whose counts, masks and area fraction agree with the given lesions."""
    specs = lesions if lesions is not None else [
        LesionSpec("papule", (2, 2, 6, 6)),
        LesionSpec("comedone", (10, 4, 13, 7)),
    ]
    height, width = photo.height, photo.width
    kind_mask = np.zeros((height, width), np.uint8)
    found = []
    for spec in specs:
        x0, y0, x1, y1 = spec.box
        kind_mask[y0:y1, x0:x1] = core_types.LESION_KINDS.index(spec.kind) + 1
        found.append(
            core_types.Lesion(bbox=spec.box, kind=spec.kind, score=0.9,
                              area_px=(x1 - x0) * (y1 - y0), region="forehead")
        )
    lesion_px = int((kind_mask > 0).sum())
    skin_px = width * height
    return core_types.Analysis(
        width=width,
        height=height,
        lesions=tuple(found),
        counts=core_types.LesionCounts.from_lesions(found),
        grade=core_types.Grade(value=grade, label=core_types.GRADE_LABELS[grade], confidence=0.8),
        lesion_area_fraction=lesion_px / skin_px,
        skin_area_px=skin_px,
        face=core_types.FaceResult(
            found=True, box=(1.0, 1.0, 40.0, 30.0),
            landmarks=((10.0, 10.0), (30.0, 10.0), (20.0, 16.0), (12.0, 24.0), (28.0, 24.0)),
            score=0.99, n_faces=1, view="front",
        ),
        quality=core_types.QualityResult(
            passed=quality_passed,
            reasons=() if quality_passed else ("photo is blurred",),
            metrics={"sharpness": 120.5},
        ),
        model_version=model_version,
        alignment=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        region_counts={"forehead": {"papule": 1}},
        gags_estimate=4,
        kind_mask=kind_mask if with_masks else None,
        probability_map=(kind_mask > 0).astype(np.uint8) * 200 if with_masks else None,
    )


class QueryCounter:
    """Counts SELECT statements sent to the database while active."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _on_execute(self, _conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            self.count += 1

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)
