"""Builders for the trends / compare / review / studies / reports page tests.

They store real rows through the repository (the same `store_photo` the app uses) with
hand-built, self-consistent analyses of a public-domain face (skimage astronaut), so every
number a page shows is known in advance.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from PIL import Image

from core.imaging import decode_photo
from core.types import (
    GRADE_LABELS,
    LESION_KINDS,
    Analysis,
    DecodedPhoto,
    FaceResult,
    Grade,
    Lesion,
    LesionCounts,
    QualityResult,
)

SIZE = 256
# Photo -> canonical 512 x 512 face frame: the test photo fills the frame at twice its size.
ALIGNMENT = (2.0, 0.0, 0.0, 0.0, 2.0, 0.0)


def face_photo(size: int = SIZE, brightness: int = 0) -> DecodedPhoto:
    """The astronaut face as a decoded upload; `brightness` makes distinct files per visit."""
    from skimage import data

    image = np.asarray(Image.fromarray(data.astronaut()).resize((size, size)), np.int16)
    image = np.clip(image + brightness, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return decode_photo(buffer.getvalue(), filename=f"face_{brightness}.png")


def lesion_row(kind: str, x: int, y: int, side: int = 6) -> Lesion:
    return Lesion(bbox=(x, y, x + side, y + side), kind=kind, score=0.9, area_px=side * side,
                  region="forehead")


def make_analysis(
    photo: DecodedPhoto,
    lesions: list[Lesion],
    *,
    grade: int = 0,
    confidence: float = 0.8,
    alignment: tuple[float, ...] | None = ALIGNMENT,
    model_version: str = "test-model 0.0",
) -> Analysis:
    """An analysis whose kind mask and probability map agree with `lesions`."""
    height, width = photo.height, photo.width
    kind_mask = np.zeros((height, width), np.uint8)
    probability = np.zeros((height, width), np.uint8)
    for lesion in lesions:
        x0, y0, x1, y1 = lesion.bbox
        kind_mask[y0:y1, x0:x1] = LESION_KINDS.index(lesion.kind) + 1
        probability[y0:y1, x0:x1] = 230
    skin = width * height // 2
    return Analysis(
        width=width, height=height, lesions=tuple(lesions),
        counts=LesionCounts.from_lesions(lesions),
        grade=Grade(value=grade, label=GRADE_LABELS[grade], confidence=confidence),
        lesion_area_fraction=sum(lesion.area_px for lesion in lesions) / skin,
        skin_area_px=skin,
        face=FaceResult(found=True, box=(0.0, 0.0, float(width), float(height)), n_faces=1,
                        view="front"),
        quality=QualityResult(passed=True, metrics={"sharpness": 1.0}),
        model_version=model_version, alignment=alignment, kind_mask=kind_mask,
        probability_map=probability,
    )


def papules(n: int, *, row: int = 20) -> list[Lesion]:
    """`n` papules in rows of ten, 12 px apart."""
    return [lesion_row("papule", 10 + 12 * (i % 10), row + 12 * (i // 10)) for i in range(n)]


def comedones(n: int, *, row: int = 120) -> list[Lesion]:
    return [lesion_row("comedone", 10 + 12 * (i % 10), row + 12 * (i // 10)) for i in range(n)]


@dataclass
class Seeded:
    patient_id: int
    visit_ids: list[int] = field(default_factory=list)
    photo_ids: list[int] = field(default_factory=list)
    analysis_ids: list[int] = field(default_factory=list)


def seed_patient(dash, owner_id: int, code: str, visits: list[tuple[date, list[Lesion]]], *,
                 team: str | None = None, grades: list[int] | None = None,
                 alignments: list | None = None) -> Seeded:  # noqa: ANN001
    """A patient with one analysed front photo per (date, lesions) visit (`alignments`: one
    per visit, None where the face was not found; default: every photo aligned)."""
    from db.photos import PhotoStore
    from db.repository import create_visit, latest_analysis, store_photo

    seeded = Seeded(dash.make_patient(owner_id, code, team=team))
    owner = dash.get_account(owner_id)
    store = PhotoStore(dash.env.data_dir / "photos")
    for index, (when, lesions) in enumerate(visits):
        photo = face_photo(brightness=index)
        analysis = make_analysis(
            photo, lesions, grade=(grades or [0] * len(visits))[index],
            alignment=(alignments or [ALIGNMENT] * len(visits))[index],
        )
        with dash.env.session() as session:
            visit = create_visit(session=session, actor=owner, patient_id=seeded.patient_id,
                                 visit_date=when)
            stored = store_photo(session=session, actor=owner, photo_store=store,
                                 visit_id=visit.id, photo=photo, analysis=analysis)
            row = latest_analysis(session=session, actor=owner, photo_id=stored.id)
            seeded.visit_ids.append(visit.id)
            seeded.photo_ids.append(stored.id)
            seeded.analysis_ids.append(row.id)
    return seeded


def add_review(dash, actor_id: int, analysis_id: int, iga: int,
               grade_override: int | None = None) -> None:  # noqa: ANN001
    from db.repository import add_review as repo_add_review

    actor = dash.get_account(actor_id)
    with dash.env.session() as session:
        repo_add_review(session=session, actor=actor, analysis_id=analysis_id, iga=iga,
                        grade_override=grade_override)


def plotly_specs(at) -> list[dict]:  # noqa: ANN001 - an AppTest
    """The figure JSON of every plotly chart on the page."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def trace(spec: dict, meta: str) -> dict:
    """The one trace of a figure spec with this `meta` tag."""
    found = [t for t in spec["data"] if t.get("meta") == meta]
    assert len(found) == 1, f"expected one trace {meta!r}, found {[t.get('meta') for t in spec['data']]}"
    return found[0]


# Generous: a busy 2-core machine (a model training beside the tests) runs pages slowly.
PAGE_TIMEOUT_S = 120


def open_as(dash, account_id: int, page: str, *, patient_id: int | None = None,
            query_patient: int | None = None,
            state: dict | None = None):  # noqa: ANN001, ANN201 - an AppTest
    """Sign in, then make `patient_id` current (session state) or name it in `?patient=`
    (and set any other `state`) just before switching to the page, so that no other page
    has re-checked it first."""
    at = dash.app(account_id, timeout=PAGE_TIMEOUT_S)
    at.run()
    if patient_id is not None:
        at.session_state["patient_id"] = patient_id
    if query_patient is not None:
        at.query_params["patient"] = str(query_patient)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page(f"views/{page}.py").run()
    return at


def spec_titled(at, words: str) -> dict:  # noqa: ANN001 - an AppTest
    """The one plotly figure on the page whose title contains `words`."""
    found = [s for s in plotly_specs(at) if words in s["layout"].get("title", {}).get("text", "")]
    assert len(found) == 1, f"expected one figure titled {words!r}, found {len(found)}"
    return found[0]


def add_measured_visits(dash, owner_id: int, seeded: Seeded, visits: list[tuple[date, list[Lesion]]],
                        *, reviewed: bool = False) -> Seeded:  # noqa: ANN001
    """More visits of an already seeded patient, each with one analysed front photo (distinct
    files: the brightness goes on from the visits already there); `reviewed` adds an IGA 2
    review to each new analysis. Returns `seeded`, grown."""
    from db.photos import PhotoStore
    from db.repository import create_visit, latest_analysis, store_photo

    owner = dash.get_account(owner_id)
    store = PhotoStore(dash.env.data_dir / "photos")
    for when, lesions in visits:
        photo = face_photo(brightness=len(seeded.visit_ids))
        with dash.env.session() as session:
            visit = create_visit(session=session, actor=owner, patient_id=seeded.patient_id,
                                 visit_date=when)
            stored = store_photo(session=session, actor=owner, photo_store=store,
                                 visit_id=visit.id, photo=photo,
                                 analysis=make_analysis(photo, lesions))
            row = latest_analysis(session=session, actor=owner, photo_id=stored.id)
        seeded.visit_ids.append(visit.id)
        seeded.photo_ids.append(stored.id)
        seeded.analysis_ids.append(row.id)
        if reviewed:
            add_review(dash, owner_id, row.id, iga=2)
    return seeded


class StatementCounter:
    """Counts every SQL statement sent to the engine while active (before_cursor_execute)."""

    def __init__(self, engine) -> None:  # noqa: ANN001 - a sqlalchemy Engine
        self.engine = engine
        self.statements: list[str] = []

    def _on_execute(self, _conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __enter__(self) -> "StatementCounter":
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._on_execute)
