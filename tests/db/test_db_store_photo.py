"""store_photo, the one way to store a photo: files and rows together, or nothing."""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from db_factories import LesionSpec, make_analysis, make_patient, make_photo, make_visit
from sqlmodel import Session, func, select

from db import repository as repo
from db.models import Account, Analysis, AuditEvent, LesionRecord, Photo, Visit
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
    from dataclasses import replace

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

    monkeypatch.setattr(photos_module, "_lesion_rows", broken)
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

    monkeypatch.setattr(photos_module, "_lesion_rows", broken)
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
