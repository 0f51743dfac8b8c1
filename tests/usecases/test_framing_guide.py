"""usecases.framing_guide: a stored face read back for core.framing, and the cases without one."""
from __future__ import annotations

from datetime import date

from tests.db.db_factories import make_analysis, make_photo

from core.framing import MATCHES
from core.types import FaceResult
from db.models import Analysis as AnalysisRow
from usecases.framing_guide import NOT_ANALYSED, FramingGuide, compare_with_guide, stored_face
from usecases.visits import CheckedPhoto

# make_analysis finds this face on its 48 x 32 photo.
BOX = [1.0, 1.0, 40.0, 30.0]
LANDMARKS = [[10.0, 10.0], [30.0, 10.0], [20.0, 16.0], [12.0, 24.0], [28.0, 24.0]]


def _guide(face: FaceResult | None, size: tuple[int, int] = (48, 32)) -> FramingGuide:
    return FramingGuide(view="front", photo_id=1, visit_date=date(2024, 1, 10), image_bytes=b"",
                        size=size, face=face)


def _row(**fields) -> AnalysisRow:  # noqa: ANN003
    values = {"photo_id": 1, "model_version": "m", "grade": 0, "grade_label": "mild",
              "face_found": True, "face_box": BOX, "landmarks": LANDMARKS, "n_faces": 1,
              "view_estimate": "front"}
    return AnalysisRow(**{**values, **fields})


def _checked() -> CheckedPhoto:
    photo = make_photo(1)
    return CheckedPhoto("new.png", photo=photo, analysis=make_analysis(photo))


def test_a_stored_face_reads_back_as_the_face_core_compares() -> None:
    face = stored_face(_row())
    assert face.found and face.box == tuple(BOX)
    assert face.landmarks == tuple(tuple(p) for p in LANDMARKS)
    assert face.yaw_ratio is None  # not stored: core.framing turns the head from the landmarks
    assert compare_with_guide(_guide(face), _checked()).sentences == (MATCHES,)
    # The same face on a photo twice as large (say a 96 x 64 export) is half the size in its frame.
    halved = compare_with_guide(_guide(face, size=(96, 64)), _checked())
    assert halved.size_ratio == 2.0
    assert halved.sentences[0].startswith("Move about 100% further away")


def test_without_an_analysis_on_either_side() -> None:
    face = stored_face(_row())
    assert compare_with_guide(_guide(face), CheckedPhoto("new.png", photo=make_photo(1))) is None
    assert compare_with_guide(_guide(None), _checked()).sentences == (NOT_ANALYSED,)
    nothing_found = stored_face(_row(face_found=False))
    assert compare_with_guide(_guide(nothing_found), _checked()).sentences == (
        "The framing cannot be compared: no face was found on the last photo of this view.",)


# ---- issue 26 item 2: a photo stored although it failed the quality check is never the guide --
def test_a_photo_stored_anyway_is_never_the_framing_guide(dash) -> None:  # noqa: ANN001
    from db.engine import get_engine
    from db.photos import PhotoStore
    from tests.dashboard.fixtures_d2 import papules
    from tests.dashboard.fixtures_timeline import CUT_OFF, Shot, seed_shots
    from usecases.clinic import Clinic
    from usecases.framing_guide import framing_guide

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc")
    seeded = seed_shots(dash, doctor, "ACN-GUIDE", [
        (date(2024, 1, 10), [Shot(papules(2))]),
        (date(2024, 2, 10), [Shot(papules(2), quality_reasons=(CUT_OFF,))]),
    ])
    clinic = Clinic(engine=get_engine(dash.env.url),
                    photo_store=PhotoStore(dash.env.data_dir / "photos"))
    guide = framing_guide(clinic, dash.get_account(doctor), patient_id=seeded.patient_id,
                          view="front")
    assert guide is not None
    assert (guide.photo_id, guide.visit_date) == (seeded.photo_ids[0], date(2024, 1, 10))
