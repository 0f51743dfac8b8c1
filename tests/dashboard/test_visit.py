"""Visit page: stored results and overlays, 'clear', quality, re-analysis, and access rules."""
from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from dashboard import state


@pytest.fixture
def clinic(dash):  # noqa: ANN001, ANN201
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-001")
    return doctor, patient


def face(dash, name: str = "face.png"):  # noqa: ANN001, ANN201
    from core.imaging import decode_photo

    return decode_photo(dash.face_photo_bytes(), filename=name)


def metrics(at) -> dict[str, str]:  # noqa: ANN001
    return {m.label: m.value for m in at.metric}


def analyses_of_patient(dash, patient: int) -> list:  # noqa: ANN001
    from sqlmodel import select

    from db.models import Analysis, Photo, Visit

    with dash.env.session() as session:
        return list(session.exec(
            select(Analysis).join(Photo, Photo.id == Analysis.photo_id)
            .join(Visit, Visit.id == Photo.visit_id).where(Visit.patient_id == patient)
        ).all())


def test_stored_results_are_shown_with_the_notice(dash, clinic):
    doctor, patient = clinic
    photo = face(dash)
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo,
                    analysis=dash.sample_analysis(photo), notes="benzoyl peroxide")
    at = dash.open_page(doctor, "visit", patient_id=patient)
    assert not at.exception
    shown = metrics(at)
    assert (shown["Papules"], shown["Comedones"], shown["Inflammatory"], shown["Total"]) == (
        "3", "0", "3", "3")
    # The grade alone in the metric (short: never cut), its confidence said beside it.
    assert shown["Grade (ACNE04 / Hayashi)"] == "mild"
    assert "Model confidence in the grade: 80%." in dash.texts(at.caption)
    assert shown["GAGS estimate"] == "4"
    assert "Photo quality checks passed." in dash.texts(at.success)
    captions = dash.texts(at.caption)
    assert any("by the version test-model 0.0" in c for c in captions)
    assert any(state.NOT_A_DIAGNOSIS in c for c in captions)
    assert "Treatment notes: benzoyl peroxide" in dash.texts(at.markdown)
    regions = at.dataframe[0].value.set_index("region")
    assert regions.loc["Forehead", "Papules"] == 3
    assert len(at.get("plotly_chart")) == 1  # the photo viewer (tests/dashboard/test_photo_viewer.py)


def test_overlay_pixels_differ_from_the_photo_only_where_lesions_are(dash, clinic):
    # The page draws with core.overlay on the masks it reads back: check that round trip.
    from core.overlay import overlay_kinds
    from db.photos import PhotoStore
    from db.repository import load_masks

    doctor, patient = clinic
    photo = face(dash)
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo,
                    analysis=dash.sample_analysis(photo))
    [row] = analyses_of_patient(dash, patient)
    kind_mask, probability = load_masks(photo_store=PhotoStore(dash.env.data_dir / "photos"),
                                        analysis=row)
    drawn = overlay_kinds(photo.image, kind_mask)
    changed = np.any(drawn != photo.image, axis=2)
    assert changed.sum() > 0 and not changed[kind_mask == 0].any()
    assert probability.max() == 230


def test_no_lesion_reads_clear_and_quality_problems_are_explained(dash, clinic):
    doctor, patient = clinic
    photo = face(dash)
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo,
                    analysis=dash.sample_analysis(photo, lesions=0,
                                                  quality_reasons=("face too small",)))
    at = dash.open_page(doctor, "visit", patient_id=patient)
    assert metrics(at)["Grade (ACNE04 / Hayashi)"] == "clear"
    assert any("face too small" in w for w in dash.texts(at.warning))


def test_photo_without_analysis_is_shown_plainly(dash, clinic):
    doctor, patient = clinic
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=face(dash))
    at = dash.open_page(doctor, "visit", patient_id=patient)
    assert not at.exception
    assert "This photo has no analysis." in dash.texts(at.info)
    (viewer,) = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert [trace["meta"] for trace in viewer["data"]] == ["photo"]  # no ring, no heat map
    assert not viewer["layout"].get("updatemenus")  # no face found, no heat map: no switch
    assert not at.metric
    assert any(w.startswith("No model is installed") for w in dash.texts(at.warning))


def test_reanalysis_adds_an_analysis_and_keeps_the_old_one(dash, clinic, monkeypatch):
    doctor, patient = clinic
    photo = face(dash)
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo,
                    analysis=dash.sample_analysis(photo, model_version="old-model 1"))

    class NewModel:
        model_version = "new-model 2"

        def analyze(self, decoded):  # noqa: ANN001, ANN202
            return dash.sample_analysis(decoded, lesions=1, model_version=self.model_version)

    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (NewModel(), None))
    at = dash.open_page(doctor, "visit", patient_id=patient)
    dash.widget(at.button, "Re-analyse with the installed model").click().run()
    assert not at.exception
    assert sorted(a.model_version for a in analyses_of_patient(dash, patient)) == [
        "new-model 2", "old-model 1"]
    assert metrics(at)["Total"] == "1"  # the latest analysis is shown
    assert list(at.dataframe[-1].value["model version"]) == ["version old-model 1", "version new-model 2"]


def test_other_clinician_gets_no_access_and_a_foreign_visit_id_is_ignored(dash, clinic):
    doctor, patient = clinic
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=face(dash), notes="private note")
    other = dash.make_account("other", role="clinician")
    at = dash.open_page(other, "visit", patient_id=patient)
    assert "No such patient or no access." in dash.texts(at.error)
    assert "private note" not in dash.page_text(at)

    # Their own patient, with a query parameter naming the first clinician's visit.
    own = dash.make_patient(other, "ACN-OTHER")
    own_visit = dash.make_visit(other, own, date(2024, 5, 1), notes="own note")
    at = dash.app(other).run()
    at.session_state["patient_id"] = own
    at.query_params["visit"] = "1"
    at.switch_page("views/visit.py").run()
    assert at.session_state["visit_id"] == own_visit
    assert "private note" not in dash.page_text(at)


def test_researcher_reads_an_enrolled_patient_but_cannot_reanalyse(dash, clinic, monkeypatch):
    from db.repository import add_study_member, create_study, enrol_patient, list_arms

    doctor, patient = clinic
    photo = face(dash)
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo,
                    analysis=dash.sample_analysis(photo))
    researcher = dash.make_account("res", role="researcher")
    doc = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=doc, name="Trial A", arms=["active", "vehicle"])
        arm = list_arms(session=session, actor=doc, study_id=study.id)[0]
        enrol_patient(session=session, actor=doc, study_id=study.id, arm_id=arm.id,
                      patient_id=patient)
        add_study_member(session=session, actor=doc, study_id=study.id, account_id=researcher)
    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (object(), None))
    at = dash.open_page(researcher, "visit", patient_id=patient)
    assert not at.exception
    assert metrics(at)["Total"] == "3"
    assert "Re-analyse with the installed model" not in [b.label for b in at.button]


def test_opening_a_visit_is_audited_once(dash, clinic):
    from sqlmodel import select

    from db.models import AuditEvent

    doctor, patient = clinic
    visit = dash.make_visit(doctor, patient, date(2024, 4, 2), photo=face(dash))
    at = dash.open_page(doctor, "visit", patient_id=patient)
    at.run()
    with dash.env.session() as session:
        views = session.exec(select(AuditEvent).where(AuditEvent.action == "view")).all()
    assert [(e.target_type, e.target_id, e.account_id) for e in views] == [("visit", visit, doctor)]


def _click(at, analysis_id: int, x: float, y: float, shown_width: int = 128, shown_height: int = 128):  # noqa: ANN001, ANN202
    """What the clickable photo reports after a click at (x, y) of the part of the photo shown
    (this large) for the analysis `analysis_id`."""
    from dashboard.lesion_editor import CLICK_KEY

    key = at.session_state[CLICK_KEY]
    assert key.startswith(f"lesion_click_{analysis_id}_"), key
    at.session_state[key] = {"x": x, "y": y, "width": shown_width, "height": shown_height,
                             "unix_time": 1}
    return at.run()


class GradingModel:
    """The installed model as the lesion editor uses it: only its grader (the shipped one)."""

    def __init__(self) -> None:
        from pathlib import Path

        from core.grading import CountGrader

        self.grader = CountGrader.load(Path(__file__).resolve().parents[2] / "weights" / "grader.json")


def test_a_clinician_adds_retypes_removes_and_undoes_lesions_on_the_photo(dash, clinic, monkeypatch):
    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (GradingModel(), None))
    doctor, patient = clinic
    photo = face(dash)  # 256 x 256, shown at 128 x 128 below: photo pixels are twice the click's
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo, analysis=dash.sample_analysis(photo))
    at = dash.open_page(doctor, "visit", patient_id=patient)
    dash.widget(at.toggle, "Correct the lesions").set_value(True).run()
    assert not at.exception
    assert any("Click on the photo" in i for i in dash.texts(at.info))
    model_id = analyses_of_patient(dash, patient)[0].id

    # A click on bare skin offers to add a lesion there.
    _click(at, model_id, 100, 100)
    dash.widget(at.selectbox, "Type of the lesion to add").set_value("pustule").run()
    dash.widget(at.button, "Add a lesion here").click().run()
    assert not at.exception
    assert "Correction saved: added a pustule. Now 4 lesions" in dash.page_text(at)
    shown = metrics(at)
    assert (shown["Pustules"], shown["Papules"], shown["Total"]) == ("1", "3", "4")
    assert any(i.startswith("Clinician-corrected") for i in dash.texts(at.info))

    # A click on the first papule (box 10-16 px) selects it: retype it, then remove it.
    corrected_id = max(a.id for a in analyses_of_patient(dash, patient))
    _click(at, corrected_id, 6, 6)
    assert "Selected: papule (lesion 1 of 4)" in dash.page_text(at)
    dash.widget(at.selectbox, "Change its type to").set_value("nodule").run()
    dash.widget(at.button, "Change the type").click().run()
    shown = metrics(at)
    assert (shown["Nodules/cysts"], shown["Papules"], shown["Inflammatory"]) == ("1", "2", "4")
    corrected_id = max(a.id for a in analyses_of_patient(dash, patient))
    _click(at, corrected_id, 6, 6)
    dash.widget(at.button, "Remove this lesion").click().run()
    assert metrics(at)["Total"] == "3" and metrics(at)["Nodules/cysts"] == "0"

    # Undo twice: back to the retyped lesion, then to the added one.
    dash.widget(at.button, "Undo the last correction").click().run()
    assert "Undone: removed a nodule/cyst." in dash.page_text(at)
    assert metrics(at)["Nodules/cysts"] == "1"
    dash.widget(at.button, "Undo the last correction").click().run()
    dash.widget(at.button, "Undo the last correction").click().run()
    shown = metrics(at)
    assert (shown["Papules"], shown["Pustules"], shown["Total"]) == ("3", "0", "3")
    assert not [i for i in dash.texts(at.info) if i.startswith("Clinician-corrected")]
    assert len(analyses_of_patient(dash, patient)) == 4  # the model's and three corrections, kept


def test_without_a_grader_the_lesion_editor_says_why(dash, clinic):
    doctor, patient = clinic
    photo = face(dash)
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo, analysis=dash.sample_analysis(photo))
    at = dash.open_page(doctor, "visit", patient_id=patient)
    dash.widget(at.toggle, "Correct the lesions").set_value(True).run()
    assert any(w.startswith("Lesions can be corrected once the lesion model and its grader are installed")
               for w in dash.texts(at.warning))
    assert not [b for b in at.button if b.label == "Add a lesion here"]


# ------------------------------------------------- issue 26: the editor on real photos, words
def _editing(dash, clinic, monkeypatch):  # noqa: ANN001, ANN202
    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (GradingModel(), None))
    doctor, patient = clinic
    photo = face(dash)  # 256 x 256; papules at x 10-16, 22-28, 34-40 and y 10-16
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo, analysis=dash.sample_analysis(photo))
    at = dash.open_page(doctor, "visit", patient_id=patient)
    dash.widget(at.toggle, "Correct the lesions").set_value(True).run()
    return at, analyses_of_patient(dash, patient)[0].id


def test_a_click_beside_a_lesion_offers_to_add_one(dash, clinic, monkeypatch):
    """A click 10 px from a found lesion selected it instead of offering 'Add' (issue 26)."""
    at, model_id = _editing(dash, clinic, monkeypatch)
    _click(at, model_id, 25, 6.5)  # photo (50, 13): 10 px right of the third papule
    assert not [m for m in dash.texts(at.markdown) if m.startswith("Selected:")]
    assert dash.widget(at.button, "Add a lesion here")
    _click(at, model_id, 18.5, 6.5)  # photo (37, 13): inside the third papule's outline
    assert "Selected: papule (lesion 3 of 3)" in dash.page_text(at)


def test_the_editor_zooms_and_a_click_in_a_closer_view_lands_on_the_photo(dash, clinic, monkeypatch):
    """A 12 MP photo was shown 580 px wide with no zoom (issue 26): the editor zooms in around
    the last click, and a click there is mapped through the part shown."""
    at, model_id = _editing(dash, clinic, monkeypatch)
    _click(at, model_id, 6.5, 6.5)  # photo (13, 13): the first papule
    assert "Selected: papule (lesion 1 of 3)" in dash.page_text(at)
    dash.widget(at.select_slider, "Zoom").set_value(4).run()
    assert not at.exception
    key = at.session_state["lesion_click_key"]
    assert key.endswith("_0_0_64_64"), key  # a quarter of the face, around the click
    at.session_state[key] = {"x": 200, "y": 100, "width": 512, "height": 512, "unix_time": 2}
    at.run()  # shown 512 px wide: (200, 100) is photo (25, 12.5), the second papule
    assert "Selected: papule (lesion 2 of 3)" in dash.page_text(at)


def test_the_corrections_list_is_shown_in_full_with_undone_ones(dash, clinic, monkeypatch):
    at, model_id = _editing(dash, clinic, monkeypatch)
    _click(at, model_id, 100, 100)
    dash.widget(at.button, "Add a lesion here").click().run()
    dash.widget(at.button, "Undo the last correction").click().run()
    assert not at.exception
    assert "Lesion corrections (1, undone ones included)" in dash.texts(at.markdown)
    table = next(d.value for d in at.dataframe if "status" in d.value.columns)
    assert table[["correction", "status"]].values.tolist() == [["added a comedone", "undone"]]
    assert not any("(" in str(c) for c in table["correction"])  # no pixel coordinates
    from tests.dashboard.test_plain_words import problems

    assert not problems(at)


def test_visits_and_photos_are_named_in_words_never_by_number(dash, clinic):
    doctor, patient = clinic
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=face(dash))
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=face(dash, "second.png"))
    at = dash.open_page(doctor, "visit", patient_id=patient)
    picker = dash.widget(at.selectbox, "Visit")
    assert picker.options == ["02 Apr 2024, visit 1 of 2 that day", "02 Apr 2024, visit 2 of 2 that day"]
    assert "#" not in dash.page_text(at)
