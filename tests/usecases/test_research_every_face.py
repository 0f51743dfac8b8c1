"""Issue 24, "researchers see no one": a researcher's photo has every face masked, a second
face lying on its side or upside down included (the analysis' detector misses it); when the
photo cannot be searched for faces it is withheld, never shown (usecases.photos.load_photo_for)."""
from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from core.alignment import estimate_alignment
from core.deidentify import BAND_COLOUR, MASKED_NOTE, NOT_SEARCHED_NOTE, WITHHELD_GREY
from core.types import FaceResult
from tests.core.photo_factory import encode
from tests.core.test_deidentify import _astronaut_with_a_turned_second_face, _eyes_and_mouth_covered
from usecases.clinic import Clinic


def _trial(dash, photo: np.ndarray, landmarks: np.ndarray):  # noqa: ANN001, ANN202
    """A study enrolling one consenting patient with one photo, analysed with one face (the
    first); the researcher is a member."""
    from core.imaging import decode_photo
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

    dash.make_account("root", role="admin")
    doctor = dash.get_account(dash.make_account("doc"))
    researcher = dash.get_account(dash.make_account("res", role="researcher"))
    patient = dash.make_patient(doctor.id, "ACN-001")
    decoded = decode_photo(encode(photo, "PNG"), filename="two_faces.png")
    points = tuple((float(x), float(y)) for x, y in landmarks)
    analysis = dataclasses.replace(
        dash.sample_analysis(decoded),
        face=FaceResult(found=True, box=(150.0, 40.0, 300.0, 200.0), landmarks=points,
                        score=0.99, n_faces=1, view="front"),
        alignment=estimate_alignment(points))
    visit = dash.make_visit(doctor.id, patient, date(2024, 1, 10), photo=decoded, analysis=analysis)
    clinic = Clinic(engine=get_engine(dash.env.url), photo_store=PhotoStore(dash.env.data_dir / "photos"))
    with clinic.session() as session:
        study = create_study(session=session, actor=doctor, name="Trial", arms=["drug"])
        arm = list_arms(session=session, actor=doctor, study_id=study.id)[0]
        enrol_patient(session=session, actor=doctor, study_id=study.id, arm_id=arm.id,
                      patient_id=patient)
        add_study_member(session=session, actor=doctor, study_id=study.id, account_id=researcher.id)
        row = list_photos(session=session, actor=researcher, visit_id=visit)[0]
        stored_analysis = latest_analysis(session=session, actor=researcher, photo_id=row.id)
    return clinic, researcher, row, stored_analysis


@pytest.mark.parametrize("turns", [1, 2], ids=["turned 90 degrees", "turned 180 degrees"])
def test_a_researcher_sees_both_faces_masked(dash, turns: int) -> None:  # noqa: ANN001
    from usecases.photos import load_photo_for

    photo, first, second = _astronaut_with_a_turned_second_face(turns)
    clinic, researcher, row, analysis = _trial(dash, photo, first)
    shown = load_photo_for(clinic, researcher, row, analysis)
    assert shown.research_note == MASKED_NOTE
    assert _eyes_and_mouth_covered(shown.image, first)
    assert _eyes_and_mouth_covered(shown.image, second)  # as taken before issue 24


def test_a_photo_that_cannot_be_searched_for_faces_is_withheld(dash, tmp_path: Path,  # noqa: ANN001
                                                              monkeypatch) -> None:  # noqa: ANN001
    from usecases import photos
    from usecases.photos import load_photo_for

    photo, first, _ = _astronaut_with_a_turned_second_face(1)
    clinic, researcher, row, analysis = _trial(dash, photo, first)
    # Neither the clinic's weights folder nor the product's has face networks.
    monkeypatch.setattr(photos, "PRODUCT_WEIGHTS_DIR", tmp_path / "no_product_models")
    without_networks = dataclasses.replace(clinic, weights_dir=tmp_path / "no_models")
    shown = load_photo_for(without_networks, researcher, row, analysis)
    assert shown.research_note == NOT_SEARCHED_NOTE
    assert (shown.image == WITHHELD_GREY).all()
    assert not (shown.image == BAND_COLOUR).all(axis=2).any()
