"""A clinician corrects the lesions of a stored photo, and undoes it (usecases.corrections)."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.correction import LesionEdit
from core.grading import CountGrader
from db.errors import ConflictError, NotFound, PermissionDenied
from usecases.corrections import analysis_lesions, correct_lesions, undo_correction

GRADER = CountGrader.load(Path(__file__).resolve().parents[2] / "weights" / "grader.json")


def _current(clinic, actor, photo_id):  # noqa: ANN001, ANN202
    from db.repository import latest_analysis

    with clinic.session() as session:
        return latest_analysis(session=session, actor=actor, photo_id=photo_id)


def _timeline(clinic, actor, patient_id):  # noqa: ANN001, ANN202
    from db.repository import patient_timeline

    with clinic.session() as session:
        return patient_timeline(session=session, actor=actor, patient_id=patient_id)


def test_each_edit_is_a_new_current_analysis_beside_the_models_and_undo_goes_back(stored) -> None:  # noqa: ANN001
    clinic, doctor, photo, model, patient = stored
    added = correct_lesions(clinic, doctor, analysis_id=model.id, grader=GRADER,
                            edit=LesionEdit("add", kind="pustule", point=(200.0, 120.0)))
    assert added.corrects_id == model.id and added.corrected_by_id == doctor.id
    assert (added.papule, added.pustule, added.total, added.inflammatory) == (3, 1, 4, 4)
    assert added.kind_mask_sha256 != model.kind_mask_sha256  # the added disc is drawn
    assert added.probability_sha256 == model.probability_sha256
    assert _current(clinic, doctor, photo.id).id == added.id

    retyped = correct_lesions(clinic, doctor, analysis_id=added.id, grader=GRADER,
                              edit=LesionEdit("retype", lesion=0, kind="nodule"))
    removed = correct_lesions(clinic, doctor, analysis_id=retyped.id, grader=GRADER,
                              edit=LesionEdit("remove", lesion=1))
    assert removed.corrects_id == model.id  # always the model's analysis, never a chain
    assert (removed.papule, removed.pustule, removed.nodule, removed.total) == (1, 1, 1, 3)
    lesions = analysis_lesions(clinic, doctor, removed.id).lesions
    assert [l.kind for l in lesions] == ["nodule", "papule", "pustule"]
    assert [l.added_by_clinician for l in lesions] == [False, False, True]
    # The model's own output is kept as it was.
    kept = analysis_lesions(clinic, doctor, model.id)
    assert [l.kind for l in kept.lesions] == ["papule"] * 3 and not kept.corrected

    # Trends read the corrected numbers and know they are corrected.
    row = _timeline(clinic, doctor, patient)[0]
    assert (row.analysis_id, row.total, row.nodule, row.corrects_id) == (removed.id, 3, 1, model.id)

    undone = undo_correction(clinic, doctor, analysis_id=removed.id)
    assert undone.withdrawn_at is not None
    assert _current(clinic, doctor, photo.id).id == retyped.id
    undo_correction(clinic, doctor, analysis_id=retyped.id)
    undo_correction(clinic, doctor, analysis_id=added.id)
    assert _current(clinic, doctor, photo.id).id == model.id
    assert _timeline(clinic, doctor, patient)[0].total == 3
    with pytest.raises(ValueError, match="the model's own: there is no correction to undo"):
        undo_correction(clinic, doctor, analysis_id=model.id)


def test_every_edit_and_undo_is_in_the_audit_trail(stored) -> None:  # noqa: ANN001
    from db.repository import list_audit

    clinic, doctor, _photo, model, _patient = stored
    added = correct_lesions(clinic, doctor, analysis_id=model.id, grader=GRADER,
                            edit=LesionEdit("retype", lesion=2, kind="comedone"))
    undo_correction(clinic, doctor, analysis_id=added.id)
    with clinic.session() as session:
        admin = __import__("db.repository", fromlist=["get_account_by_username"]).get_account_by_username(
            session=session, username="root")
        details = [e.detail for e in list_audit(session=session, actor=admin) if e.target_type == "analysis"]
    assert any(f"correction of analysis={model.id}: changed a papule to a comedone" in d for d in details)
    assert any("undone: changed a papule to a comedone" in d for d in details)


def test_an_edit_on_lesions_that_changed_meanwhile_is_refused(stored) -> None:  # noqa: ANN001
    clinic, doctor, _photo, model, _patient = stored
    first = correct_lesions(clinic, doctor, analysis_id=model.id, grader=GRADER,
                            edit=LesionEdit("remove", lesion=0))
    # A second tab still showing the model's lesions.
    with pytest.raises(ConflictError, match="reload the page"):
        correct_lesions(clinic, doctor, analysis_id=model.id, grader=GRADER,
                        edit=LesionEdit("remove", lesion=0))
    second = correct_lesions(clinic, doctor, analysis_id=first.id, grader=GRADER,
                             edit=LesionEdit("remove", lesion=0))
    with pytest.raises(ConflictError):
        undo_correction(clinic, doctor, analysis_id=first.id)  # not the newest any more
    assert second.total == 1


def test_only_an_account_that_may_change_the_patient_corrects(stored, dash) -> None:  # noqa: ANN001
    clinic, _doctor, _photo, model, _patient = stored
    stranger = dash.get_account(dash.make_account("other"))
    with pytest.raises(NotFound):
        correct_lesions(clinic, stranger, analysis_id=model.id, grader=GRADER,
                        edit=LesionEdit("remove", lesion=0))
    researcher = dash.get_account(dash.make_account("res", role="researcher"))
    with pytest.raises((NotFound, PermissionDenied)):
        correct_lesions(clinic, researcher, analysis_id=model.id, grader=GRADER,
                        edit=LesionEdit("remove", lesion=0))


def test_a_review_of_the_models_analysis_stands_for_its_corrections(stored) -> None:  # noqa: ANN001
    from db.repository import add_review, review_queue_entries

    clinic, doctor, _photo, model, patient = stored
    with clinic.session() as session:
        assert [e.analysis.id for e in review_queue_entries(session=session, actor=doctor)] == [model.id]
    corrected = correct_lesions(clinic, doctor, analysis_id=model.id, grader=GRADER,
                                edit=LesionEdit("remove", lesion=0))
    with clinic.session() as session:  # the correction awaits review in place of the model's
        assert [e.analysis.id for e in review_queue_entries(session=session, actor=doctor)] == [corrected.id]
        add_review(session=session, actor=doctor, analysis_id=model.id, iga=3)
        assert review_queue_entries(session=session, actor=doctor) == []
    assert _timeline(clinic, doctor, patient)[0].review_iga == 3
    again = correct_lesions(clinic, doctor, analysis_id=corrected.id, grader=GRADER,
                            edit=LesionEdit("remove", lesion=0))
    row = _timeline(clinic, doctor, patient)[0]
    assert (row.analysis_id, row.review_iga) == (again.id, 3)


def test_studies_measure_the_corrected_lesions_and_say_so(stored) -> None:  # noqa: ANN001
    from db.repository import create_study, enrol_patient, list_arms, study_measurements

    clinic, doctor, _photo, model, patient = stored
    with clinic.session() as session:
        study = create_study(session=session, actor=doctor, name="Trial", arms=["active", "vehicle"])
        arm = list_arms(session=session, actor=doctor, study_id=study.id)[0]
        enrol_patient(session=session, actor=doctor, study_id=study.id, arm_id=arm.id, patient_id=patient)
        (before,) = study_measurements(session=session, actor=doctor, study_id=study.id)
    correct_lesions(clinic, doctor, analysis_id=model.id, grader=GRADER,
                    edit=LesionEdit("add", kind="nodule", point=(100.0, 100.0)))
    with clinic.session() as session:
        (after,) = study_measurements(session=session, actor=doctor, study_id=study.id)
    assert (before.nodule, before.total, before.clinician_corrected) == (0, 3, False)
    assert (after.nodule, after.inflammatory, after.total, after.clinician_corrected) == (1, 4, 4, True)


def test_deleting_a_corrected_photos_patient_removes_every_correction(stored, dash) -> None:  # noqa: ANN001
    from sqlmodel import func, select

    from db.models import Analysis, LesionRecord
    from db.repository import delete_patient

    clinic, doctor, _photo, model, patient = stored
    first = correct_lesions(clinic, doctor, analysis_id=model.id, grader=GRADER,
                            edit=LesionEdit("remove", lesion=0))
    second = correct_lesions(clinic, doctor, analysis_id=first.id, grader=GRADER,
                             edit=LesionEdit("add", kind="papule", point=(60.0, 60.0)))
    undo_correction(clinic, doctor, analysis_id=second.id)
    with clinic.session() as session:
        delete_patient(session=session, actor=doctor, photo_store=clinic.photo_store, patient_id=patient)
        assert session.exec(select(func.count()).select_from(Analysis)).one() == 0
        assert session.exec(select(func.count()).select_from(LesionRecord)).one() == 0
    assert not [p for p in clinic.photo_store.root.rglob("*") if p.is_file()]


def test_a_correction_keeps_the_photos_typicality_flag(dash) -> None:  # noqa: ANN001
    """The warning that a photo is unlike the training photos stays on the corrected numbers."""
    from dataclasses import replace
    from datetime import date

    from core.imaging import decode_photo
    from db.engine import get_engine
    from db.photos import PhotoStore
    from db.repository import latest_analysis, list_photos
    from usecases.clinic import Clinic

    dash.make_account("root", role="admin")
    doctor = dash.get_account(dash.make_account("doc"))
    patient = dash.make_patient(doctor.id, "ACN-T1")
    photo = decode_photo(dash.face_photo_bytes(), filename="odd.png")
    analysis = replace(dash.sample_analysis(photo), typicality=0.04, unusual=True)
    visit = dash.make_visit(doctor.id, patient, date(2024, 1, 10), photo=photo, analysis=analysis)
    clinic = Clinic(engine=get_engine(dash.env.url), photo_store=PhotoStore(dash.env.data_dir / "photos"))
    with clinic.session() as session:
        row = list_photos(session=session, actor=doctor, visit_id=visit)[0]
        model = latest_analysis(session=session, actor=doctor, photo_id=row.id)
    corrected = correct_lesions(clinic, doctor, analysis_id=model.id, grader=GRADER,
                                edit=LesionEdit("remove", lesion=0))
    assert (corrected.unusual, corrected.typicality) == (True, pytest.approx(0.04))
