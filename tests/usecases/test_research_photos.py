"""De-identified research photos (usecases.photos.load_photo_for, usecases.studies,
usecases.reports): a researcher gets the eyes and mouth masked by default, the photo as taken
once an administrator allows identifiable photos for the study with a reason; clinicians and
administrators always get it as taken; the report's pictures follow the same rule."""
from __future__ import annotations

import dataclasses
import io
from datetime import date

import numpy as np
import pytest
from PIL import Image

from core.alignment import estimate_alignment
from core.deidentify import BAND_COLOUR, MASKED_NOTE, WITHHELD_GREY, WITHHELD_NOTE
from core.imaging import decode_photo
from core.types import FaceResult
from tests.core.photo_factory import encode, synthetic_face
from usecases.clinic import Clinic

FACE = synthetic_face(size=320, eye_distance=64.0, angle_deg=12.0)
REASON = "Ethics committee approval EC-2024-17 covers identifiable photos"


def _analysis(dash, photo, *, landmarks: bool = True):  # noqa: ANN001, ANN202
    """The page tests' sample analysis, with the drawn face's landmarks and alignment."""
    base = dash.sample_analysis(photo)
    if not landmarks:
        return dataclasses.replace(base, face=FaceResult(found=False), alignment=None)
    return dataclasses.replace(
        base,
        face=FaceResult(found=True, box=(60.0, 40.0, 260.0, 300.0), landmarks=FACE.landmarks,
                        score=0.99, n_faces=1, view="front"),
        alignment=estimate_alignment(FACE.landmarks),
    )


@pytest.fixture
def trial(dash):  # noqa: ANN001, ANN201
    """A study enrolling one patient with a photo of the drawn face; the researcher a member."""
    from db.engine import get_engine
    from db.photos import PhotoStore
    from db.repository import (
        add_study_member,
        create_study,
        enrol_patient,
        latest_analysis,
        list_arms,
        list_photos,
    )

    admin = dash.get_account(dash.make_account("root", role="admin"))
    doctor = dash.get_account(dash.make_account("doc"))
    researcher = dash.get_account(dash.make_account("res", role="researcher"))
    patient = dash.make_patient(doctor.id, "ACN-001")
    photo = decode_photo(encode(FACE.image, "PNG"), filename="jane_doe.png")
    visits = [dash.make_visit(doctor.id, patient, date(2024, 1, 10), photo=photo,
                              analysis=_analysis(dash, photo)),
              dash.make_visit(doctor.id, patient, date(2024, 2, 10), photo=photo,
                              analysis=_analysis(dash, photo, landmarks=False))]
    clinic = Clinic(engine=get_engine(dash.env.url),
                    photo_store=PhotoStore(dash.env.data_dir / "photos"))
    with clinic.session() as session:
        study = create_study(session=session, actor=doctor, name="Trial", arms=["drug"])
        arm = list_arms(session=session, actor=doctor, study_id=study.id)[0]
        enrol_patient(session=session, actor=doctor, study_id=study.id, arm_id=arm.id,
                      patient_id=patient)
        add_study_member(session=session, actor=doctor, study_id=study.id,
                         account_id=researcher.id)
        rows = [list_photos(session=session, actor=doctor, visit_id=v)[0] for v in visits]
        analyses = [latest_analysis(session=session, actor=doctor, photo_id=r.id) for r in rows]
        study_id = study.id
    return dict(clinic=clinic, admin=admin, doctor=doctor, researcher=researcher,
                study_id=study_id, photos=rows, analyses=analyses)


def _load(trial, who: str, index: int = 0):  # noqa: ANN001, ANN202
    from usecases.photos import load_photo_for

    return load_photo_for(trial["clinic"], trial[who], trial["photos"][index],
                          trial["analyses"][index])


def _masked(image: np.ndarray) -> bool:
    return all(bool((image[FACE.regions[name]] == BAND_COLOUR).all())
               for name in ("eyes", "brows", "mouth"))


def _cheeks_as_taken(image: np.ndarray) -> bool:
    cheeks = FACE.regions["cheeks"]
    return np.array_equal(image[cheeks], FACE.image[cheeks])


def test_a_researcher_gets_the_eyes_and_mouth_masked_by_default(trial) -> None:  # noqa: ANN001
    shown = _load(trial, "researcher")
    assert _masked(shown.image) and _cheeks_as_taken(shown.image)
    assert shown.research_note == MASKED_NOTE and shown.deidentified
    assert shown.kind_mask is not None  # the lesion overlay still draws
    # Nothing else hands out the unmasked photo: its bytes are the masked pixels, its name
    # and capture details say nothing about the person.
    encoded = np.asarray(Image.open(io.BytesIO(shown.photo.stored_bytes)).convert("RGB"))
    assert np.array_equal(encoded, shown.image)
    assert "jane" not in shown.photo.filename and shown.photo.device is None


@pytest.mark.parametrize("who", ["doctor", "admin"])
def test_clinicians_and_admins_see_the_photo_as_taken(trial, who: str) -> None:  # noqa: ANN001
    shown = _load(trial, who)
    assert np.array_equal(shown.image, FACE.image)
    assert shown.research_note is None and not shown.deidentified


def test_without_landmarks_a_researcher_gets_nothing_of_the_photo(trial) -> None:  # noqa: ANN001
    shown = _load(trial, "researcher", index=1)
    assert (shown.image == WITHHELD_GREY).all()
    assert shown.research_note == WITHHELD_NOTE
    assert np.array_equal(_load(trial, "doctor", index=1).image, FACE.image)


def test_identifiable_after_an_admin_allows_it_with_a_reason(trial) -> None:  # noqa: ANN001
    from sqlmodel import col, select

    from db.models import AuditEvent
    from usecases.studies import (
        IDENTIFIABLE_NOTE,
        set_identifiable_photos,
        study_photos,
    )

    clinic, study_id = trial["clinic"], trial["study_id"]
    seen = study_photos(clinic, trial["researcher"], study_id)
    assert (seen.identifiable, seen.sentence, seen.may_change) == (False, MASKED_NOTE, False)

    assert set_identifiable_photos(clinic, trial["admin"], study_id=study_id, allowed=True,
                                   reason=REASON) is True
    shown = _load(trial, "researcher")
    assert np.array_equal(shown.image, FACE.image) and shown.research_note is None
    assert study_photos(clinic, trial["researcher"], study_id).sentence == IDENTIFIABLE_NOTE

    with clinic.session() as session:
        (row,) = session.exec(select(AuditEvent).where(
            AuditEvent.target_type == "study", col(AuditEvent.detail).contains(REASON))).all()
    assert (row.account_id, row.action, row.target_id) == (trial["admin"].id, "update", study_id)

    # Switched off again: masked again, and the admin sees both switches with their reasons.
    set_identifiable_photos(clinic, trial["admin"], study_id=study_id, allowed=False,
                            reason="photo review finished")
    assert _masked(_load(trial, "researcher").image)
    decisions = study_photos(clinic, trial["admin"], study_id).decisions
    assert [(d.allowed, d.reason, d.by) for d in decisions] == [
        (False, "photo review finished", "Root"), (True, REASON, "Root")]


@pytest.mark.parametrize("who", ["doctor", "researcher"])
def test_a_non_admin_cannot_switch(trial, who: str) -> None:  # noqa: ANN001
    from db.errors import PermissionDenied
    from usecases.studies import set_identifiable_photos, study_photos

    with pytest.raises(PermissionDenied):
        set_identifiable_photos(trial["clinic"], trial[who], study_id=trial["study_id"],
                                allowed=True, reason=REASON)
    assert _masked(_load(trial, "researcher").image)
    if who == "doctor":  # the study's creator sees the setting but may not switch it
        assert not study_photos(trial["clinic"], trial[who], trial["study_id"]).may_change


def test_an_admin_must_give_a_reason(trial) -> None:  # noqa: ANN001
    from usecases.studies import set_identifiable_photos

    with pytest.raises(ValueError, match="reason"):
        set_identifiable_photos(trial["clinic"], trial["admin"], study_id=trial["study_id"],
                                allowed=True, reason="  ")
    assert _masked(_load(trial, "researcher").image)


def test_the_report_picture_is_masked_for_a_researcher(trial) -> None:  # noqa: ANN001
    from core.alignment import CANONICAL_EYE_CENTRE
    from usecases.reports import report_picture

    def picture(who: str):  # noqa: ANN202
        return report_picture(trial["clinic"], trial[who], photo_id=trial["photos"][0].id,
                              analysis_id=trial["analyses"][0].id)

    masked, taken = picture("researcher"), picture("doctor")
    x, y = (round(v) for v in CANONICAL_EYE_CENTRE)  # between the eyes: skin when taken
    assert masked.image.shape == taken.image.shape == (512, 512, 3)
    assert tuple(masked.image[y, x]) == BAND_COLOUR
    assert tuple(taken.image[y, x]) != BAND_COLOUR
    assert masked.research_note == MASKED_NOTE and taken.research_note is None
