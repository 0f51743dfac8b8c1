"""Builders for the timeline page tests (trends, compare, studies, reports, review): visits
whose photo failed the quality check and was stored anyway, photos of other views, faces found
only roughly, and a retake-noise table in the weights folder."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.types import FaceResult, Lesion, QualityResult
from tests.dashboard.fixtures_d2 import ALIGNMENT, Seeded, face_photo, make_analysis

CUT_OFF = ("The face is cut off (39% of it is outside the photo). Keep the whole face, forehead "
           "to chin, in the frame.")


@dataclass
class Shot:
    """One photo of one visit: its lesions, view, and what its analysis says."""

    lesions: list[Lesion]
    view: str = "front"
    quality_reasons: tuple[str, ...] = ()
    alignment: tuple[float, ...] | None = ALIGNMENT
    face_found: bool = True
    body_site: str | None = None
    model_version: str = "test-model 0.0"


def seed_shots(dash, owner_id: int, code: str, visits: list[tuple[date, list[Shot]]],
               *, patient_id: int | None = None) -> Seeded:  # noqa: ANN001
    """A patient (or more visits of `patient_id`) with the given photos per visit, each stored
    through the repository's `store_photo` with a hand-built analysis."""
    from db.photos import PhotoStore
    from db.repository import create_visit, latest_analysis, store_photo

    seeded = Seeded(patient_id if patient_id is not None else dash.make_patient(owner_id, code))
    owner = dash.get_account(owner_id)
    store = PhotoStore(dash.env.data_dir / "photos")
    counter = 0
    for when, shots in visits:
        with dash.env.session() as session:
            visit = create_visit(session=session, actor=owner, patient_id=seeded.patient_id,
                                 visit_date=when)
            visit_id = visit.id
        seeded.visit_ids.append(visit_id)
        for shot in shots:
            counter += 1
            photo = face_photo(brightness=counter + 40 * (seeded.patient_id % 3))
            analysis = make_analysis(photo, shot.lesions, alignment=shot.alignment,
                                     model_version=shot.model_version)
            face = analysis.face if shot.face_found else FaceResult(found=False)
            analysis = dataclasses.replace(
                analysis, face=face,
                quality=QualityResult(passed=not shot.quality_reasons,
                                      reasons=tuple(shot.quality_reasons),
                                      metrics={"sharpness": 1.0}))
            extra = {"body_site": shot.body_site} if shot.body_site else {}
            with dash.env.session() as session:
                stored = store_photo(session=session, actor=owner, photo_store=store,
                                     visit_id=visit_id, photo=photo, analysis=analysis,
                                     view=shot.view, **extra)
                row = latest_analysis(session=session, actor=owner, photo_id=stored.id)
                seeded.photo_ids.append(stored.id)
                seeded.analysis_ids.append(row.id)
    return seeded


def retake_table(weights_dir: Path, sd: float = 2.0, *, simulated: bool = True) -> None:
    """A retake-noise table in the weights folder, listed in its manifest with its SHA-256: the
    same SD at every level for the counts (so the band is 1.96 * sd everywhere)."""
    measures = {
        name: {"bins": [{"level": 0.0, "sd": sd}, {"level": 100.0, "sd": sd}], "icc": 0.9}
        for name in ("total", "inflammatory", "non_inflammatory")
    }
    measures["lesion_area"] = {"bins": [{"level": 0.0, "sd": 0.001}, {"level": 1.0, "sd": 0.001}]}
    measures["grade"] = {"bins": [{"level": 0.0, "sd": 0.3}, {"level": 3.0, "sd": 0.3}]}
    data = json.dumps({"measures": measures, "simulated": simulated, "source": "test"}).encode()
    (weights_dir / "retake_noise.json").write_bytes(data)
    manifest_path = weights_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest.setdefault("tables", {})["retake_noise"] = {
        "file": "retake_noise.json", "sha256": hashlib.sha256(data).hexdigest(), "version": "t1"}
    manifest_path.write_text(json.dumps(manifest))
