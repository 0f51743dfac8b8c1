"""Research export of clinician-corrected photos, then training on it (usecases.research_export)."""
from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from core.correction import LesionEdit
from core.grading import CountGrader
from db.errors import PermissionDenied
from usecases.clinic import Clinic
from usecases.corrections import correct_lesions
from usecases.research_export import export_training_set, split_subjects

GRADER = CountGrader.load(Path(__file__).resolve().parents[2] / "weights" / "grader.json")
SECRET_NAMES = ("Jane Roe", "ACN-SECRET", "holiday_jane")


@pytest.fixture
def clinic_data(dash):  # noqa: ANN001, ANN201
    """Four patients, each with a corrected photo; the last one has not consented. The first one
    also has a second visit whose photo nobody corrected."""
    from core.imaging import decode_photo
    from db.engine import get_engine
    from db.models import PatientUpdate
    from db.photos import PhotoStore
    from db.repository import latest_analysis, list_photos, update_patient

    admin = dash.get_account(dash.make_account("root", role="admin"))
    doctor = dash.get_account(dash.make_account("doc"))
    clinic = Clinic(engine=get_engine(dash.env.url), photo_store=PhotoStore(dash.env.data_dir / "photos"))
    patients = []
    for i in range(4):
        patient = dash.make_patient(doctor.id, f"ACN-SECRET-{i}", name="Jane Roe" if i == 0 else None,
                                    research_consent=False)
        if i < 3:
            with clinic.session() as session:
                update_patient(session=session, actor=doctor, patient_id=patient,
                               data=PatientUpdate(research_consent=True))
        photo = decode_photo(dash.face_photo_bytes(size=256 + 16 * i), filename=f"holiday_jane_{i}.png")
        visit = dash.make_visit(doctor.id, patient, date(2024, 1, 10 + i), photo=photo,
                                analysis=dash.sample_analysis(photo))
        with clinic.session() as session:
            row = list_photos(session=session, actor=doctor, visit_id=visit)[0]
            analysis = latest_analysis(session=session, actor=doctor, photo_id=row.id)
        corrected = correct_lesions(clinic, doctor, analysis_id=analysis.id, grader=GRADER,
                                    edit=LesionEdit("add", kind="pustule", point=(120.0, 150.0)))
        correct_lesions(clinic, doctor, analysis_id=corrected.id, grader=GRADER,
                        edit=LesionEdit("retype", lesion=0, kind="comedone"))
        patients.append(patient)
    later = decode_photo(dash.face_photo_bytes(size=300), filename="holiday_jane_later.png")
    dash.make_visit(doctor.id, patients[0], date(2024, 3, 1), photo=later, analysis=dash.sample_analysis(later))
    return clinic, admin, doctor, patients


def _read_index(folder: Path) -> list[dict[str, str]]:
    with (folder / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_subjects_are_split_whole_and_in_a_seeded_random_order() -> None:
    subjects = split_subjects(list(range(10, 30)), seed=3, valid_share=0.15, test_share=0.15)
    splits = [split for _label, split in subjects.values()]
    assert (splits.count("train"), splits.count("valid"), splits.count("test")) == (14, 3, 3)
    assert sorted(label for label, _ in subjects.values()) == [f"subject-{i:04d}" for i in range(1, 21)]
    assert subjects == split_subjects(list(range(10, 30)), seed=3, valid_share=0.15, test_share=0.15)
    assert subjects != split_subjects(list(range(10, 30)), seed=4, valid_share=0.15, test_share=0.15)
    with pytest.raises(ValueError, match="leave some subjects for training"):
        split_subjects([1, 2, 3], seed=0, valid_share=0.5, test_share=0.5)


def test_the_export_holds_corrected_photos_of_consenting_patients_in_the_acne04_layout(clinic_data, tmp_path) -> None:  # noqa: ANN001
    from db.repository import list_audit

    clinic, admin, _doctor, patients = clinic_data
    folder = tmp_path / "export"
    summary = export_training_set(clinic, admin, folder, seed=0)
    assert (summary.subjects, summary.photos, summary.uncorrected_left_out) == (3, 3, 1)
    assert summary.photos_by_split == {"train": 1, "valid": 1, "test": 1}
    rows = _read_index(folder)
    assert [r["split"] for r in rows].count("test") == 1
    for row in rows:
        assert (folder / "images" / row["split"] / row["image"]).is_file()
        xml = (folder / "labels_voc" / row["split"] / row["image"].replace(".jpg", ".xml")).read_text()
        # 3 papules, the first made a comedone, and the added pustule.
        assert (row["n_boxes"], row["n_papules"], row["n_whitehead_and_blackhead"], row["n_pustules"]) == \
            ("4", "2", "1", "1")
        assert xml.count("<object>") == 4 and "<name>pustules</name>" in xml
        assert row["acne04_grade_from_filename"] == ""  # nobody graded it in a review
        assert row["image"].startswith(row["acne04_source_image"] + "_visit01_front")
    # De-identified: no name, code or file name anywhere, not even in the JPEG bytes.
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRET_NAMES:
                assert secret.encode() not in data, (path.name, secret)
    with clinic.session() as session:
        exported = {e.target_id for e in list_audit(session=session, actor=admin) if e.action == "export"}
    assert exported == set(patients[:3])


def test_only_an_administrator_exports_and_never_over_an_existing_folder(clinic_data, tmp_path) -> None:  # noqa: ANN001
    clinic, admin, doctor, _patients = clinic_data
    exports = tmp_path / "exports"
    with pytest.raises(PermissionDenied, match="only an administrator"):
        export_training_set(clinic, doctor, exports / "export")
    (exports / "taken").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="already exists"):
        export_training_set(clinic, admin, exports / "taken")
    assert sorted(p.name for p in exports.iterdir()) == ["taken"]  # no half-written folder


def test_the_command_line_exports_as_an_administrator(clinic_data, tmp_path, capsys,  # noqa: ANN001
                                                      monkeypatch) -> None:  # noqa: ANN001
    from usecases.cli import export_training

    # The export searches each photo for a second face with the installed face networks.
    monkeypatch.setenv("ACNE_WEIGHTS_DIR", str(Path(__file__).resolve().parents[2] / "weights"))
    assert export_training.main([str(tmp_path / "out"), "--account", "doc"]) == 2
    assert "only an administrator" in capsys.readouterr().err
    assert export_training.main([str(tmp_path / "out"), "--account", "root"]) == 0
    assert "3 photos of 3 subjects (1 train, 1 valid, 1 test)" in capsys.readouterr().out


@pytest.mark.slow
def test_export_then_train_with_it_then_evaluate_its_test_split(clinic_data, tmp_path, capsys) -> None:  # noqa: ANN001
    from core.training import evaluate, train_segmenter
    from tests.core.training.test_extra_data import _weights_from_run
    from tests.core.training.test_training import make_dataset

    clinic, admin, _doctor, _patients = clinic_data
    export = tmp_path / "export"
    export_training_set(clinic, admin, export, seed=0)
    run = tmp_path / "run"
    train_segmenter.main(["--data", str(make_dataset(tmp_path / "acne04")), "--extra-data", str(export),
                          "--run", str(run), "--steps-per-epoch", "2", "--batch", "2", "--crop", "64",
                          "--scale", "0.5", "--val-images", "1", "--threads", "1", "--epochs", "1"])
    sets = json.loads((run / "data.json").read_text())
    assert sets[1]["photos"] == 1  # the export's one training subject
    weights = _weights_from_run(run, tmp_path / "weights")
    capsys.readouterr()
    assert evaluate.main(["--data", str(export), "--split", "test", "--weights", str(weights), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n_photos"] == 1
    for name in ("f1", "count_mae", "lesion_iou"):
        assert isinstance(metrics[name], float), name


@pytest.mark.parametrize("turns", [0, 1, 2], ids=["upright", "turned 90 degrees", "turned 180 degrees"])
def test_a_photo_with_a_second_face_is_never_exported(dash, tmp_path, turns: int) -> None:  # noqa: ANN001
    """Issue 24: a bystander's face is not covered by the patient's consent. The analysis found
    one face (a second one lying on its side is missed by it); the export searches the photo
    at four quarter turns and leaves it out, while the patient's one-face photo goes in."""
    import dataclasses

    import numpy as np
    from skimage import data

    from core.imaging import decode_photo
    from core.types import FaceResult
    from db.engine import get_engine
    from db.photos import PhotoStore
    from db.repository import latest_analysis, list_photos
    from tests.core.photo_factory import encode

    admin = dash.get_account(dash.make_account("root", role="admin"))
    doctor = dash.get_account(dash.make_account("doc"))
    clinic = Clinic(engine=get_engine(dash.env.url), photo_store=PhotoStore(dash.env.data_dir / "photos"))
    patient = dash.make_patient(doctor.id, "ACN-TWO-FACES")
    astronaut = data.astronaut()
    two_faces = np.ascontiguousarray(np.concatenate([astronaut, np.rot90(astronaut, turns)], axis=1))
    for day, image in ((10, astronaut), (11, two_faces)):
        photo = decode_photo(encode(image, "PNG"), filename=f"visit_{day}.png")
        analysis = dataclasses.replace(dash.sample_analysis(photo), face=FaceResult(
            found=True, box=(150.0, 30.0, 300.0, 200.0), n_faces=1, view="front"))
        visit = dash.make_visit(doctor.id, patient, date(2024, 1, day), photo=photo, analysis=analysis)
        with clinic.session() as session:
            row = list_photos(session=session, actor=doctor, visit_id=visit)[0]
            stored = latest_analysis(session=session, actor=doctor, photo_id=row.id)
        correct_lesions(clinic, doctor, analysis_id=stored.id, grader=GRADER,
                        edit=LesionEdit("add", kind="pustule", point=(220.0, 120.0)))
    summary = export_training_set(clinic, admin, tmp_path / "export", seed=0)
    assert (summary.photos, summary.other_faces_left_out) == (1, 1)
    assert [row["image"] for row in _read_index(tmp_path / "export")] == ["subject-0001_visit01_front.jpg"]
