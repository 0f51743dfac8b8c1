"""Review queue page: confirm / override the model grade, record IGA, who sees what."""
from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.fixtures_d2 import add_review, open_as, papules, seed_patient


def _reviews(dash, analysis_id: int):  # noqa: ANN001, ANN202
    from db.models import Review
    from sqlmodel import select

    with dash.env.session() as session:
        return list(session.exec(select(Review).where(Review.analysis_id == analysis_id)).all())


def test_override_grade_and_record_iga(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-001", [
        (date(2024, 1, 1), papules(12)), (date(2024, 3, 1), papules(1))], grades=[1, 0])
    add_review(dash, doctor, seeded.analysis_ids[0], iga=3)
    at = open_as(dash, doctor, "review")
    assert not at.exception
    # Only the unreviewed second analysis is waiting.
    assert list(at.dataframe[0].value["patient"]) == ["ACN-001"]
    assert at.selectbox(key="review_pick").value == seeded.analysis_ids[1]
    assert "Not a diagnosis" in dash.page_text(at)

    dash.widget(at.radio, "Grade").set_value("override")
    dash.widget(at.selectbox, "Corrected grade (when overriding)").set_value(1)
    dash.widget(at.selectbox, "IGA (Investigator's Global Assessment)").set_value(1)
    dash.widget(at.text_area, "Notes").input("a few papules left")
    dash.widget(at.button, "Save review").click().run()
    assert not at.exception

    (review,) = _reviews(dash, seeded.analysis_ids[1])
    assert (review.iga, review.grade_override, review.notes) == (1, 1, "a few papules left")
    assert review.reviewer_id == doctor
    assert any("saved" in text for text in dash.texts(at.success))
    assert "Nothing to review" in dash.page_text(at)
    # Both reviews with who and when; IGA 3 -> 1 is an IGA success.
    history = at.dataframe[0].value
    assert list(history["IGA"]) == [3, 1]
    assert list(history["model grade"]) == ["moderate", "mild"]
    assert list(history["clinician grade"]) == ["confirmed", "moderate"]
    assert list(history["IGA success"]) == [False, True]
    assert set(history["reviewer"]) == {"Doc"}


def test_the_two_scales_are_named_side_by_side_with_a_mapping(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seed_patient(dash, doctor, "ACN-001", [(date(2024, 1, 1), papules(3))])
    at = open_as(dash, doctor, "review")
    text = dash.page_text(at)
    assert "ACNE04 grade (Hayashi, from lesion counts): mild, moderate, severe, very severe" in text
    assert "IGA 0-4 (the clinician's global look): 0 clear, 1 almost clear, 2 mild" in text
    assert "Roughly, Hayashi mild is IGA 1-2" in text
    iga = dash.widget(at.selectbox, "IGA (Investigator's Global Assessment)")
    # Model grades are words, IGA grades carry "IGA" and their number: "mild" is never a bare 0 or 2.
    assert "IGA 2 mild" in iga.options and "mild" in dash.widget(at.selectbox, "Corrected grade (when overriding)").options


def test_confirm_needs_an_iga(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-001", [(date(2024, 1, 1), papules(3))])
    at = open_as(dash, doctor, "review")
    dash.widget(at.button, "Save review").click().run()
    assert "Choose the IGA (0-4) before saving." in dash.texts(at.error)
    assert _reviews(dash, seeded.analysis_ids[0]) == []

    dash.widget(at.selectbox, "IGA (Investigator's Global Assessment)").set_value(2)
    dash.widget(at.button, "Save review").click().run()
    (review,) = _reviews(dash, seeded.analysis_ids[0])
    assert (review.iga, review.grade_override) == (2, None)  # None: model grade confirmed


def test_queue_holds_only_the_clinicians_patients(dash):
    dash.make_account("root", role="admin")
    mine = dash.make_account("doc", role="clinician", team="north")
    other = dash.make_account("other", role="clinician", team="south")
    seed_patient(dash, mine, "ACN-001", [(date(2024, 1, 1), papules(3))])
    seed_patient(dash, other, "ACN-777", [(date(2024, 1, 1), papules(5))])
    at = open_as(dash, mine, "review")
    assert list(at.dataframe[0].value["patient"]) == ["ACN-001"]
    assert "ACN-777" not in dash.page_text(at)
    assert all("ACN-777" not in option for option in at.selectbox(key="review_pick").options)


def test_researcher_cannot_review(dash):
    dash.make_account("root", role="admin")
    researcher = dash.make_account("res", role="researcher")
    at = dash.app(researcher, timeout=120)
    at.run()
    # Not in the researcher's navigation ...
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/review.py")
    # ... and the page itself refuses the role when run directly.
    page = AppTest.from_file(str(dash.ROOT / "dashboard" / "views" / "review.py"),
                             default_timeout=120)
    page.session_state["account_id"] = researcher
    page.run()
    assert not page.exception
    assert "This page is not available to the researcher role." in dash.texts(page.info)
    assert not [b for b in page.button if b.label == "Save review"]


def test_the_review_opens_the_lesion_editor_on_the_visit_page(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    other = seed_patient(dash, doctor, "ACN-000", [(date(2024, 1, 1), papules(2))])
    seeded = seed_patient(dash, doctor, "ACN-001", [
        (date(2024, 1, 1), papules(12)), (date(2024, 3, 1), papules(1))])
    at = open_as(dash, doctor, "review")
    at.selectbox(key="review_pick").set_value(seeded.analysis_ids[0]).run()
    dash.widget(at.button, "Correct the lesions on this photo").click().run()
    assert not at.exception
    assert "Visits of ACN-001" in dash.texts(at.title)
    assert dash.widget(at.selectbox, "Visit").value == seeded.visit_ids[0]
    assert dash.widget(at.toggle, "Correct the lesions").value is True
    assert other.analysis_ids  # a second patient's visit is not the one opened


# ---- issue 26 item 2: the queue flags a photo stored although it failed the quality check ----
def test_review_queue_flags_a_photo_stored_anyway(dash):
    from tests.dashboard.fixtures_timeline import CUT_OFF, Shot, seed_shots

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_shots(dash, doctor, "ACN-FLAG", [
        (date(2024, 1, 1), [Shot(papules(3))]),
        (date(2024, 2, 1), [Shot(papules(30), view="left", quality_reasons=(CUT_OFF,))]),
    ])
    at = open_as(dash, doctor, "review")
    assert not at.exception
    queue = at.dataframe[0].value
    assert queue["quality"].tolist()[0] == "passed"
    assert queue["quality"].tolist()[1].startswith("failed: the face is cut off (39%")
    assert queue["view"].tolist() == ["front", "left"]
    pick = at.selectbox(key="review_pick")
    labels = list(pick.options)  # as shown
    assert not [label for label in labels if "#" in label]  # no "(analysis #7)"
    assert any("left" in label and "failed the quality check" in label for label in labels)
    pick.set_value(seeded.analysis_ids[1]).run()
    assert any(w.startswith("Stored although it failed the quality check: the face is cut off")
               for w in dash.texts(at.warning))
