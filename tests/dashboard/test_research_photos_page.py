"""Research photos on the pages: the Studies page says that faces are masked for research and
lets only an administrator allow identifiable photos (with a reason); a researcher's Visit page
and PDF report show the photo with the eyes and mouth masked, a clinician's as taken."""
from __future__ import annotations

import base64
import dataclasses
import io
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.alignment import CANONICAL_EYE_CENTRE, estimate_alignment
from core.deidentify import MASKED_NOTE
from core.types import FaceResult
from tests.core.photo_factory import encode, synthetic_face
from tests.dashboard.fixtures_d2 import open_as, plotly_specs, trace

FACE = synthetic_face(size=320, eye_distance=64.0, angle_deg=-10.0)
EYES_MID = tuple(round(v) for v in np.mean(FACE.landmarks[:2], axis=0))  # skin when taken
REASON = "Ethics committee approval EC-2024-17"
DARK = 40  # a band pixel after a JPEG round trip stays below this in every channel


@pytest.fixture
def trial(dash):  # noqa: ANN001, ANN201
    """A study enrolling a patient with two visits photographed (the drawn face, with its
    landmarks); the researcher is a member."""
    from core.imaging import decode_photo
    from db.repository import add_study_member, create_study, enrol_patient, list_arms

    admin = dash.make_account("root", role="admin")
    doctor = dash.make_account("doc")
    researcher = dash.make_account("res", role="researcher")
    patient = dash.make_patient(doctor, "ACN-001")
    for index, day in enumerate((date(2024, 1, 10), date(2024, 2, 7))):
        image = FACE.image.copy()
        image[image[..., 2] == 160] = (40, 90 + index, 160)  # two different files and PDF pictures
        photo = decode_photo(encode(image, "PNG"), filename=f"face_{day}.png")
        analysis = dataclasses.replace(
            dash.sample_analysis(photo),
            face=FaceResult(found=True, box=(60.0, 40.0, 260.0, 300.0),
                            landmarks=FACE.landmarks, score=0.99, n_faces=1, view="front"),
            alignment=estimate_alignment(FACE.landmarks))
        dash.make_visit(doctor, patient, day, photo=photo, analysis=analysis)
    doc = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=doc, name="Trial", arms=["drug"])
        arm = list_arms(session=session, actor=doc, study_id=study.id)[0]
        enrol_patient(session=session, actor=doc, study_id=study.id, arm_id=arm.id,
                      patient_id=patient)
        add_study_member(session=session, actor=doc, study_id=study.id, account_id=researcher)
        study_id = study.id
    return dict(admin=admin, doctor=doctor, researcher=researcher, patient=patient,
                study_id=study_id)


# ------------------------------------------------------------------------------ Studies page
def test_a_researcher_reads_that_faces_are_masked(dash, trial) -> None:  # noqa: ANN001
    at = open_as(dash, trial["researcher"], "studies")
    assert not at.exception
    assert MASKED_NOTE in dash.page_text(at)
    assert not [w for w in at.text_area if w.label == "Reason"]


def test_only_an_admin_allows_identifiable_photos_and_must_give_a_reason(dash, trial) -> None:  # noqa: ANN001
    from sqlmodel import col, select

    from db.models import AuditEvent
    from usecases.studies import IDENTIFIABLE_NOTE

    creator = open_as(dash, trial["doctor"], "studies", state={"study_tab": "Members"})
    assert not creator.exception
    assert MASKED_NOTE in dash.page_text(creator)
    assert "Photos for researchers" not in dash.texts(creator.subheader)

    at = open_as(dash, trial["admin"], "studies", state={"study_tab": "Members"})
    assert "Photos for researchers" in dash.texts(at.subheader)
    dash.widget(at.button, "Allow identifiable photos").click().run()
    assert not at.exception
    assert any("reason" in text for text in dash.texts(at.error))

    dash.widget(at.text_area, "Reason").input(REASON)
    dash.widget(at.button, "Allow identifiable photos").click().run()
    assert not at.exception
    assert "Researchers of this study now see identifiable photos." in dash.texts(at.success)
    assert "Mask the photos again" in [b.label for b in at.button]
    with dash.env.session() as session:
        (row,) = session.exec(select(AuditEvent).where(col(AuditEvent.detail).contains(REASON))).all()
    assert (row.account_id, row.action, row.target_type, row.target_id) == (
        trial["admin"], "update", "study", trial["study_id"])

    researcher = open_as(dash, trial["researcher"], "studies")
    assert IDENTIFIABLE_NOTE in dash.page_text(researcher)
    assert MASKED_NOTE not in dash.page_text(researcher)


# ------------------------------------------------------------------------------- Visit page
def _viewer_picture(at) -> np.ndarray:  # noqa: ANN001 - an AppTest
    (spec,) = plotly_specs(at)
    source = trace(spec, "photo")["source"]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB"))


def test_the_visit_viewer_masks_for_a_researcher_even_after_a_clinician_looked(dash, trial) -> None:  # noqa: ANN001
    # The clinician first: the viewer's picture cache is shared by every session of the process.
    doctor = dash.open_page(trial["doctor"], "visit", patient_id=trial["patient"])
    assert not doctor.exception
    x, y = EYES_MID
    assert _viewer_picture(doctor)[y, x].min() > 100  # skin between the eyes
    assert MASKED_NOTE not in dash.page_text(doctor)

    researcher = dash.open_page(trial["researcher"], "visit", patient_id=trial["patient"])
    assert not researcher.exception
    assert (_viewer_picture(researcher)[y, x] < DARK).all()
    assert MASKED_NOTE in dash.page_text(researcher)


# ------------------------------------------------------------------------------ PDF report
def _pdf_pictures(pdf: bytes) -> list[np.ndarray]:
    """The JPEG pictures embedded in an fpdf2 PDF, decoded (fpdf2 embeds JPEGs as they are)."""
    pictures = []
    for chunk in pdf.split(b"stream")[1:]:
        body = chunk.split(b"endstream")[0].strip(b"\r\n")
        if body.startswith(b"\xff\xd8"):
            pictures.append(np.asarray(Image.open(io.BytesIO(body)).convert("RGB")))
    return pictures


def _report(dash, account: int, patient: int) -> bytes:  # noqa: ANN001
    at = open_as(dash, account, "reports", patient_id=patient)
    dash.widget(at.button, "Prepare the PDF report").click().run()
    assert not at.exception
    return at.session_state["report_pdf"]["pdf"]


def test_the_pdf_report_embeds_masked_photos_for_a_researcher(dash, trial) -> None:  # noqa: ANN001
    x, y = (round(v) for v in CANONICAL_EYE_CENTRE)  # the face frame: between the eyes
    taken = _pdf_pictures(_report(dash, trial["doctor"], trial["patient"]))
    masked = _pdf_pictures(_report(dash, trial["researcher"], trial["patient"]))
    assert len(taken) == len(masked) == 2  # baseline and latest visit
    for picture in taken:
        assert picture[y, x].min() > 100
    for picture in masked:
        assert (picture[y, x] < DARK).all()
        assert np.abs(picture[-60:].astype(int) - taken[0][-60:]).mean() < 3  # the chin as taken


def test_the_pdf_report_says_the_photos_are_masked(dash, trial) -> None:  # noqa: ANN001
    from tests.dashboard.test_reports_page import _pdf_text

    assert MASKED_NOTE in _pdf_text(_report(dash, trial["researcher"], trial["patient"]))
    assert MASKED_NOTE not in _pdf_text(_report(dash, trial["doctor"], trial["patient"]))


def test_pages_never_read_a_stored_photo_without_the_research_rule() -> None:
    """Every page goes through usecases.photos.load_photo_for (which de-identifies for
    researchers), never load_stored_photo or decode_stored (the photo as taken)."""
    root = Path(__file__).resolve().parents[2] / "dashboard"
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.py")
                 if "load_stored_photo" in path.read_text() or "decode_stored" in path.read_text()]
    assert offenders == []
