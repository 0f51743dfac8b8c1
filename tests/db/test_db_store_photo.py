"""store_photo, the one way to store a photo: files and rows together, or nothing."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import numpy as np
import pytest
from tests.db.db_factories import LesionSpec, make_analysis, make_patient, make_photo, make_visit
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from core import types as core_types
from db import repository as repo
from db.errors import DuplicateError
from db.models import Account, Analysis, AuditEvent, LesionRecord, Patient, Photo, Visit
from db.photos import PhotoStore
from db.repository import photos as photos_module


@pytest.fixture
def visit(session: Session, clinician: Account) -> Visit:
    return make_visit(session, clinician, make_patient(session, clinician, "P-1"), date(2024, 5, 2))


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_store_photo_round_trip(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = make_photo(3)
    analysis = make_analysis(decoded, [
        LesionSpec("pustule", (1, 1, 5, 4)),
        LesionSpec("papule", (20, 10, 24, 16)),
        LesionSpec("comedone", (30, 20, 32, 22)),
    ], grade=2)
    photo = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=decoded, analysis=analysis, view="left", makeup=False, lighting=" daylight ",
    )
    assert (photo.width, photo.height, photo.view, photo.makeup, photo.lighting) == (
        48, 32, "left", False, "daylight"
    )
    assert photo.filename == "photo_3.png" and photo.device == "Test Camera"
    assert photo.upload_sha256 == decoded.upload_sha256
    assert store.read(photo.file_sha256, photo.file_extension) == decoded.stored_bytes
    assert repo.load_photo_bytes(photo_store=store, photo=photo) == decoded.stored_bytes

    row = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    assert (row.pustule, row.papule, row.comedone, row.nodule) == (1, 1, 1, 0)
    assert (row.inflammatory, row.non_inflammatory, row.total) == (2, 1, 3)
    assert row.grade == 2 and row.grade_label == "severe" and row.model_version == "seg-test-1"
    assert row.lesion_area_fraction == pytest.approx(analysis.lesion_area_fraction)
    assert row.quality_passed and row.quality_metrics == {"sharpness": 120.5}
    assert row.face_found and row.face_box == [1.0, 1.0, 40.0, 30.0] and len(row.landmarks) == 5
    assert row.alignment == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert row.region_counts == {"forehead": {"papule": 1}} and row.gags_estimate == 4

    kind, probability = repo.load_masks(photo_store=store, analysis=row)
    np.testing.assert_array_equal(kind, analysis.kind_mask)
    np.testing.assert_array_equal(probability, analysis.probability_map)

    lesions = repo.list_lesions(session=session, actor=clinician, analysis_id=row.id)
    assert [(l.kind, (l.x0, l.y0, l.x1, l.y1), l.area_px) for l in lesions] == [
        ("pustule", (1, 1, 5, 4), 12), ("papule", (20, 10, 24, 16), 24),
        ("comedone", (30, 20, 32, 22), 4),
    ]
    assert repo.list_photos(session=session, actor=clinician, visit_id=visit.id) == [photo]
    assert repo.get_photo(session=session, actor=clinician, photo_id=photo.id) == photo
    audit = session.exec(select(AuditEvent).where(AuditEvent.target_type == "photo")).one()
    assert audit.action == "create" and audit.target_id == photo.id


def test_photo_without_analysis_and_without_masks(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = make_photo(4)
    bare = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=decoded, analysis=None,
    )
    assert repo.latest_analysis(session=session, actor=clinician, photo_id=bare.id) is None
    decoded2 = make_photo(5)
    photo = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=decoded2, analysis=make_analysis(decoded2, with_masks=False),
    )
    row = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    assert row.kind_mask_sha256 is None and row.probability_sha256 is None
    assert repo.load_masks(photo_store=store, analysis=row) == (None, None)
    assert len(list(store.iter_files())) == 2  # the two photos, no mask files


def test_captured_at_keeps_the_cameras_clock(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = replace(make_photo(6), captured_at=datetime(2024, 5, 2, 9, 30))
    photo = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=decoded, analysis=None,
    )
    session.expire_all()
    assert session.get(Photo, photo.id).captured_at == datetime(2024, 5, 2, 9, 30)


def test_reanalysis_adds_a_row_and_becomes_the_latest(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = make_photo(8)
    photo = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=decoded, analysis=make_analysis(decoded, model_version="v1"),
    )
    second = repo.add_analysis(
        session=session, actor=clinician, photo_store=store, photo_id=photo.id,
        analysis=make_analysis(decoded, [LesionSpec("nodule", (3, 3, 9, 9))], model_version="v2"),
    )
    history = repo.list_analyses(session=session, actor=clinician, photo_id=photo.id)
    assert [a.model_version for a in history] == ["v1", "v2"]
    assert history[0].total == 2 and history[1].nodule == 1  # the first row is untouched
    assert repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id).id == second.id
    assert len(repo.list_lesions(session=session, actor=clinician, analysis_id=history[0].id)) == 2


def test_duplicate_upload_is_found_for_the_same_patient_only(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = make_photo(9)
    photo = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=decoded, analysis=None,
    )
    found = repo.find_duplicate_photo(
        session=session, actor=clinician, patient_id=visit.patient_id,
        upload_sha256=decoded.upload_sha256,
    )
    assert found is not None and found.id == photo.id
    assert repo.find_duplicate_photo(
        session=session, actor=clinician, patient_id=visit.patient_id,
        upload_sha256=make_photo(10).upload_sha256,
    ) is None
    other_patient = make_patient(session, clinician, "P-2")
    assert repo.find_duplicate_photo(
        session=session, actor=clinician, patient_id=other_patient.id,
        upload_sha256=decoded.upload_sha256,
    ) is None


def test_failure_after_the_file_write_leaves_no_file_and_no_row(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: object, **_kwargs: object) -> list:
        raise RuntimeError("disk full while inserting lesions")

    monkeypatch.setattr(photos_module, "lesion_rows", broken)
    audit_before = _count(session, AuditEvent)
    decoded = make_photo(11)
    with pytest.raises(RuntimeError, match="disk full"):
        repo.store_photo(
            session=session, actor=clinician, photo_store=store, visit_id=visit.id,
            photo=decoded, analysis=make_analysis(decoded),
        )
    assert list(store.iter_files()) == []  # photo and both masks were written, then removed
    for model in (Photo, Analysis, LesionRecord):
        assert _count(session, model) == 0
    assert _count(session, AuditEvent) == audit_before


def test_failure_keeps_files_that_other_rows_still_use(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded = make_photo(12)
    repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=decoded, analysis=make_analysis(decoded),
    )
    files = sorted(store.iter_files())
    assert len(files) == 3

    def broken(*_args: object, **_kwargs: object) -> list:
        raise RuntimeError("insert failed")

    monkeypatch.setattr(photos_module, "lesion_rows", broken)
    other = make_photo(13)
    with pytest.raises(RuntimeError):
        repo.store_photo(  # same masks as the first (same lesions, same size), new photo
            session=session, actor=clinician, photo_store=store, visit_id=visit.id,
            photo=other, analysis=make_analysis(other),
        )
    assert sorted(store.iter_files()) == files  # the new photo went; the shared masks stayed
    assert _count(session, Photo) == 1


def test_inputs_are_checked_before_anything_is_written(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = make_photo(14)
    wrong_size = make_analysis(make_photo(15, width=20, height=20))
    with pytest.raises(ValueError, match="20x20"):
        repo.store_photo(
            session=session, actor=clinician, photo_store=store, visit_id=visit.id,
            photo=decoded, analysis=wrong_size,
        )
    with pytest.raises(ValueError, match="view"):
        repo.store_photo(
            session=session, actor=clinician, photo_store=store, visit_id=visit.id,
            photo=decoded, analysis=None, view="top",
        )
    with pytest.raises(ValueError, match="lighting"):
        repo.store_photo(
            session=session, actor=clinician, photo_store=store, visit_id=visit.id,
            photo=decoded, analysis=None, lighting="x" * 101,
        )
    assert list(store.iter_files()) == [] and _count(session, Photo) == 0


def test_delete_photo_removes_its_rows_and_files(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    keep, drop = make_photo(16), make_photo(17)
    kept = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=keep, analysis=make_analysis(keep, [LesionSpec("nodule", (1, 1, 3, 3))]),
    )
    dropped = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=drop, analysis=make_analysis(drop),
    )
    analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=dropped.id)
    repo.add_review(session=session, actor=clinician, analysis_id=analysis.id, iga=3)
    repo.delete_photo(session=session, actor=clinician, photo_store=store, photo_id=dropped.id)
    assert [p.id for p in repo.list_photos(session=session, actor=clinician, visit_id=visit.id)] == [kept.id]
    assert _count(session, Analysis) == 1 and _count(session, LesionRecord) == 1
    remaining = set(store.iter_files())
    assert (dropped.file_sha256, ".png") not in remaining
    assert (kept.file_sha256, ".png") in remaining and len(remaining) == 3


def _second_opinion(value: int = 3, source: str = "hf:acne-vit") -> core_types.Grade:
    """A Hugging Face classifier's grade, as core.hf_grader reports it."""
    label = core_types.GRADE_LABELS[min(value, 3)]
    return core_types.Grade(value=value, label=label, confidence=0.61,
                            probabilities=(0.1, 0.1, 0.19, 0.61), source=source)


def test_second_opinion_is_stored_and_shown_in_the_timeline(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    with_second, without = make_photo(20), make_photo(21)
    first = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=with_second,
        analysis=replace(make_analysis(with_second, grade=1), second_opinion=_second_opinion()),
    )
    second = repo.store_photo(
        session=session, actor=clinician, photo_store=store, visit_id=visit.id,
        photo=without, analysis=make_analysis(without, grade=1),
    )
    session.expire_all()
    row = repo.latest_analysis(session=session, actor=clinician, photo_id=first.id)
    assert (row.grade, row.grade_source) == (1, "counts")  # the main grade is untouched
    assert (row.second_opinion_grade, row.second_opinion_label, row.second_opinion_source) == (
        3, core_types.GRADE_LABELS[3], "hf:acne-vit"
    )
    assert row.second_opinion_confidence == pytest.approx(0.61)
    plain = repo.latest_analysis(session=session, actor=clinician, photo_id=second.id)
    assert (plain.second_opinion_grade, plain.second_opinion_label,
            plain.second_opinion_confidence, plain.second_opinion_source) == (None,) * 4

    timeline = {r.photo_id: r for r in repo.patient_timeline(
        session=session, actor=clinician, patient_id=visit.patient_id)}
    assert (timeline[first.id].second_opinion_grade, timeline[first.id].second_opinion_source) == (
        3, "hf:acne-vit"
    )
    assert timeline[first.id].second_opinion_confidence == pytest.approx(0.61)
    assert timeline[second.id].second_opinion_grade is None
    assert timeline[second.id].second_opinion_label is None

    # A re-analysis carries its own second opinion (or none): history keeps both.
    again = repo.add_analysis(
        session=session, actor=clinician, photo_store=store, photo_id=first.id,
        analysis=replace(make_analysis(with_second), second_opinion=_second_opinion(0, "hf:v2")),
    )
    assert (again.second_opinion_grade, again.second_opinion_source) == (0, "hf:v2")
    history = repo.list_analyses(session=session, actor=clinician, photo_id=first.id)
    assert [a.second_opinion_grade for a in history] == [3, 0]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (_second_opinion(4), "second-opinion grade 4"),
        (replace(_second_opinion(), source="hf:" + "m" * 200), "second-opinion source"),
        (replace(_second_opinion(), label="x" * 41), "second-opinion label"),
    ],
)
def test_a_bad_second_opinion_is_refused_before_anything_is_written(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit,
    second: core_types.Grade, message: str,
) -> None:
    decoded = make_photo(22)
    with pytest.raises(ValueError, match=message):
        repo.store_photo(
            session=session, actor=clinician, photo_store=store, visit_id=visit.id,
            photo=decoded, analysis=replace(make_analysis(decoded), second_opinion=second),
        )
    assert list(store.iter_files()) == [] and _count(session, Photo) == 0


def test_the_database_refuses_a_second_opinion_grade_outside_0_to_3(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = make_photo(23)
    photo = repo.store_photo(session=session, actor=clinician, photo_store=store,
                             visit_id=visit.id, photo=decoded, analysis=make_analysis(decoded))
    row = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    row.second_opinion_grade = 5
    session.add(row)
    with pytest.raises(IntegrityError, match="second_opinion_grade"):
        session.commit()
    session.rollback()


def test_same_bytes_give_two_rows_and_one_file_unless_duplicates_are_refused(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = make_photo(24)
    first = repo.store_photo(session=session, actor=clinician, photo_store=store,
                             visit_id=visit.id, photo=decoded, analysis=None)
    second = repo.store_photo(session=session, actor=clinician, photo_store=store,
                              visit_id=visit.id, photo=decoded, analysis=None)
    assert first.id != second.id and first.file_sha256 == second.file_sha256
    assert len(list(store.iter_files())) == 1

    later = make_visit(session, clinician, session.get(Patient, visit.patient_id), date(2024, 6, 1))
    with pytest.raises(DuplicateError, match=rf"photo_24.png.*photo #{first.id}"):
        repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=later.id,
                         photo=decoded, analysis=None, refuse_duplicate=True)
    assert _count(session, Photo) == 2
    # Another patient may hold the same bytes (the check is per patient).
    other = make_visit(session, clinician, make_patient(session, clinician, "P-9"), date(2024, 6, 1))
    repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=other.id,
                     photo=decoded, analysis=None, refuse_duplicate=True)
    assert _count(session, Photo) == 3 and len(list(store.iter_files())) == 1


def test_lesions_of_uncertain_type_are_stored_and_counted_apart(
    session: Session, store: PhotoStore, clinician: Account
) -> None:
    patient = make_patient(session, clinician, "TYPE-1")
    visit = make_visit(session, clinician, patient, date(2024, 5, 1))
    decoded = make_photo(31)
    analysis = make_analysis(decoded, [LesionSpec("nodule", (0, 0, 2, 2)), LesionSpec("papule", (4, 0, 6, 2))])
    unsure = replace(analysis.lesions[0], type_confidence=0.41, type_uncertain=True)
    sure = replace(analysis.lesions[1], type_confidence=0.52)
    lesions = (unsure, sure)
    analysis = replace(analysis, lesions=lesions, counts=core_types.LesionCounts.from_lesions(lesions))
    photo = repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                             photo=decoded, analysis=analysis)

    row = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    assert (row.nodule, row.papule, row.inflammatory_type_uncertain, row.inflammatory, row.total) == (
        0, 1, 1, 2, 2)
    stored = repo.list_lesions(session=session, actor=clinician, analysis_id=row.id)
    assert [(l.kind, l.type_uncertain, l.type_confidence) for l in stored] == [
        ("nodule", True, pytest.approx(0.41)), ("papule", False, pytest.approx(0.52))]
    [timeline] = repo.patient_timeline(session=session, actor=clinician, patient_id=patient.id)
    assert timeline.inflammatory_type_uncertain == 1


def test_a_close_up_is_stored_with_its_site_and_the_analysis_with_its_typicality(
    session: Session, store: PhotoStore, clinician: Account, visit: Visit
) -> None:
    decoded = make_photo(41)
    analysis = replace(make_analysis(decoded), face=core_types.FaceResult(found=False),
                       alignment=None, region_counts={}, gags_estimate=None)
    analysis = replace(analysis, typicality=0.12, unusual=True)
    photo = repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                             photo=decoded, analysis=analysis, view="close-up", body_site="chin")
    assert (photo.view, photo.body_site) == ("close-up", "chin")
    row = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    assert (row.face_found, row.typicality, row.unusual) == (False, pytest.approx(0.12), True)
    [timeline] = repo.patient_timeline(session=session, actor=clinician, patient_id=visit.patient_id)
    assert (timeline.view, timeline.body_site, timeline.face_found, timeline.unusual) == (
        "close-up", "chin", False, True)

    front = repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                             photo=make_photo(42), analysis=None, view="front", body_site="chin")
    assert front.body_site is None  # a site belongs to a close-up only
    with pytest.raises(ValueError, match="body site 'elbow'"):
        repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                         photo=make_photo(43), analysis=None, view="close-up", body_site="elbow")
