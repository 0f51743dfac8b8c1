"""Reports page: the PDF holds the patient's code, visits, model version and notice; downloads
are audited; another clinician's patient cannot be reported."""
from __future__ import annotations

import re
import zlib
from datetime import date

from tests.dashboard.fixtures_d2 import add_review, open_as, papules, seed_patient

NO_ACCESS = "No such patient or no access."


def _pdf_text(pdf: bytes) -> str:
    """The page text of an fpdf2 PDF (its content streams are zlib-compressed)."""
    parts = [pdf.decode("latin-1")]
    for chunk in pdf.split(b"stream")[1:]:
        body = chunk.split(b"endstream")[0].strip(b"\r\n")
        try:
            parts.append(zlib.decompress(body).decode("latin-1"))
        except zlib.error:
            continue
    return "\n".join(parts)


def _audit(dash, action: str):  # noqa: ANN001, ANN202
    from db.models import AuditEvent
    from sqlmodel import select

    with dash.env.session() as session:
        return session.exec(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_prepare_and_download_a_report(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-042", [(date(2024, 1, 5), papules(12)),
                                                    (date(2024, 3, 5), papules(3))])
    add_review(dash, doctor, seeded.analysis_ids[1], iga=1)
    at = open_as(dash, doctor, "reports", patient_id=seeded.patient_id)
    assert not at.exception
    assert "2 analysed visits, 05 Jan 2024 to 05 Mar 2024." in dash.page_text(at)
    assert not at.get("download_button")  # nothing is built until asked

    dash.widget(at.button, "Prepare the PDF report").click().run()
    assert not at.exception
    prepared = at.session_state["report_pdf"]
    assert prepared["pdf"].startswith(b"%PDF")
    text = _pdf_text(prepared["pdf"])
    assert "ACN-042" in text
    assert "test-model 0.0" in text
    assert "Not a diagnosis" in text
    assert "2024-01-05" in text and "2024-03-05" in text  # the visit table
    # Two embedded photos: the baseline and the latest overlay.
    assert prepared["pdf"].count(b"/Subtype /Image") == 2

    assert _audit(dash, "export") == []
    at.download_button[0].click().run()
    assert not at.exception
    (export,) = _audit(dash, "export")
    assert (export.target_type, export.target_id, export.account_id) == (
        "patient", seeded.patient_id, doctor)
    assert "ACN-042" not in export.detail


def test_a_patient_without_analysis_still_gets_a_report(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-010")
    at = open_as(dash, doctor, "reports", patient_id=patient)
    assert any("No analysed photo yet" in text for text in dash.texts(at.info))
    dash.widget(at.button, "Prepare the PDF report").click().run()
    assert not at.exception
    assert "No visits recorded yet" in _pdf_text(at.session_state["report_pdf"]["pdf"])


def test_clinician_cannot_report_another_clinicians_patient(dash):
    dash.make_account("root", role="admin")
    mine = dash.make_account("doc", role="clinician", team="north")
    other = dash.make_account("other", role="clinician", team="south")
    theirs = seed_patient(dash, other, "ACN-777", [(date(2024, 1, 1), papules(2))])
    for way in ({"patient_id": theirs.patient_id}, {"query_patient": theirs.patient_id}):
        at = open_as(dash, mine, "reports", **way)
        assert not at.exception
        assert NO_ACCESS in dash.texts(at.error)
        assert not [b for b in at.button if b.label == "Prepare the PDF report"]
        assert "ACN-777" not in dash.page_text(at)
    # A report prepared earlier for another patient is not offered for this one.
    mine_patient = seed_patient(dash, mine, "ACN-001", [(date(2024, 1, 1), papules(1))])
    at = open_as(dash, mine, "reports", patient_id=mine_patient.patient_id,
                 state={"report_pdf": {"patient_id": theirs.patient_id, "pdf": b"%PDF-x",
                                       "visits": 1, "view": "front"}})
    assert not at.get("download_button")


SHIPPED_STYLE_VERSION = "seg-2026.11.27.2210-mobilenet_v2+grader-2026.11.27.2210-ordinal"


def _prepare(dash, doctor: int, patient_id: int) -> str:  # noqa: ANN001
    at = open_as(dash, doctor, "reports", patient_id=patient_id)
    assert not at.exception
    dash.widget(at.button, "Prepare the PDF report").click().run()
    assert not at.exception
    return _pdf_text(at.session_state["report_pdf"]["pdf"])


# ---- issue 26 item 2: the PDF flags a photo stored although it failed the quality check -------
def test_the_pdf_flags_a_photo_stored_anyway(dash):
    from tests.dashboard.fixtures_timeline import CUT_OFF, Shot, seed_shots

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_shots(dash, doctor, "ACN-FLAG", [
        (date(2024, 1, 5), [Shot(papules(4))]),
        (date(2024, 2, 5), [Shot(papules(44), quality_reasons=(CUT_OFF,))]),
    ])
    text = _prepare(dash, doctor, seeded.patient_id)
    assert "(Quality)" in text and "(failed \\(1\\))" in text and "(passed)" in text
    assert "2024-02-05: Stored although it failed the quality check: the face is cut off" in text


# ---- issue 26 item 9: the PDF names its view, its models and grades in the app's words --------
def test_the_pdf_says_its_view_models_and_grades_in_words(dash):
    from tests.dashboard.fixtures_timeline import Shot, seed_shots

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_shots(dash, doctor, "ACN-WORDS", [
        (date(2024, 1, 5), [Shot(papules(4), model_version=SHIPPED_STYLE_VERSION)]),
        (date(2024, 2, 5), [Shot(papules(2), model_version=SHIPPED_STYLE_VERSION)]),
    ])
    text = _prepare(dash, doctor, seeded.patient_id)
    assert "View: front view only" in text
    assert "Analysed by the models of 27 Nov 2026, 22:10" in text
    assert "mobilenet" not in text and "seg-2026" not in text
    assert "(mild)" in text
    assert not re.search(r"\(\d (mild|moderate|severe|very severe)", text)  # no "0 mild"
    assert "Grade: the model's severity on the ACNE04" in text
