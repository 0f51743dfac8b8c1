"""The audit trail, and the integrity check between rows and files."""
from __future__ import annotations

import os
import time
from datetime import date

import pytest
from tests.db.db_factories import make_analysis, make_patient, make_photo, make_visit
from sqlmodel import Session

from db import repository as repo
from db.errors import PermissionDenied
from db.models import Account, Photo
from db.photos import PhotoStore


def test_changes_are_audited_without_patient_names(
    session: Session, store: PhotoStore, admin: Account, clinician: Account
) -> None:
    patient = make_patient(session, clinician, "AU-1", name="Secret Person")
    visit = make_visit(session, clinician, patient, date(2024, 1, 1))
    decoded = make_photo(1)
    photo = repo.store_photo(session=session, actor=clinician, photo_store=store,
                             visit_id=visit.id, photo=decoded, analysis=make_analysis(decoded))
    repo.delete_patient(session=session, actor=clinician, photo_store=store, patient_id=patient.id)
    events = repo.list_audit(session=session, actor=admin)
    trail = [(e.action, e.target_type, e.target_id, e.account_id) for e in reversed(events)]
    assert trail[-4:] == [
        ("create", "patient", patient.id, clinician.id),
        ("create", "visit", visit.id, clinician.id),
        ("create", "photo", photo.id, clinician.id),
        ("delete", "patient", patient.id, clinician.id),
    ]
    assert all("Secret Person" not in e.detail for e in events)
    assert all(e.at.tzinfo is not None for e in events)


def test_record_audit_and_list_audit_limits(session: Session, admin: Account, clinician: Account) -> None:
    event = repo.record_audit(session=session, actor_id=clinician.id, action="export",
                              target_type="patient", target_id=7, detail="pdf report")
    assert event.id is not None
    newest = repo.list_audit(session=session, actor=admin, limit=1)
    assert [(e.action, e.target_id, e.detail) for e in newest] == [("export", 7, "pdf report")]
    with pytest.raises(ValueError, match="action"):
        repo.record_audit(session=session, actor_id=clinician.id, action="peek", target_type="x")
    with pytest.raises(PermissionDenied):
        repo.list_audit(session=session, actor=clinician)


def _stored_photo(session: Session, store: PhotoStore, actor: Account, seed: int) -> Photo:
    patient = make_patient(session, actor, f"I-{seed}")
    visit = make_visit(session, actor, patient, date(2024, 1, 1))
    decoded = make_photo(seed)
    return repo.store_photo(session=session, actor=actor, photo_store=store, visit_id=visit.id,
                            photo=decoded, analysis=make_analysis(decoded))


def test_integrity_finds_orphan_missing_and_damaged_files(
    session: Session, store: PhotoStore, clinician: Account
) -> None:
    photo = _stored_photo(session, store, clinician, 1)
    healthy = repo.check_integrity(session=session, photo_store=store, verify_content=True)
    assert healthy.ok and healthy.checked_files == 3

    orphan = store.put(b"left behind by a crash", ".jpg")
    store.path_for(photo.file_sha256, photo.file_extension).unlink()
    report = repo.check_integrity(session=session, photo_store=store)
    assert not report.ok
    assert report.orphan_files == ((orphan, ".jpg"),)
    assert [(m.table, m.row_id, m.sha256) for m in report.missing_files] == [
        ("photo", photo.id, photo.file_sha256)
    ]

    analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    store.path_for(analysis.kind_mask_sha256, ".png").write_bytes(b"corrupted")
    damaged = repo.check_integrity(session=session, photo_store=store, verify_content=True)
    assert damaged.damaged_files == ((analysis.kind_mask_sha256, ".png"),)


def test_repair_removes_only_old_orphans(
    session: Session, store: PhotoStore, admin: Account, clinician: Account
) -> None:
    _stored_photo(session, store, clinician, 2)
    old = store.put(b"old orphan", ".png")
    fresh = store.put(b"fresh orphan, maybe a store in progress", ".png")
    hour_ago = time.time() - 3600
    os.utime(store.path_for(old, ".png"), (hour_ago, hour_ago))

    with pytest.raises(PermissionDenied):
        repo.repair_integrity(session=session, photo_store=store, actor=clinician)
    removed = repo.repair_integrity(session=session, photo_store=store, actor=admin)
    assert removed == [(old, ".png")]
    report = repo.check_integrity(session=session, photo_store=store)
    assert report.orphan_files == ((fresh, ".png"),) and not report.missing_files
    assert repo.repair_integrity(session=session, photo_store=store, min_age_s=0) == [(fresh, ".png")]
    assert repo.check_integrity(session=session, photo_store=store).ok


def test_the_audit_page_names_every_kind_of_row(session, store, admin, clinician, researcher) -> None:  # noqa: ANN001
    """`audit_names` reads one query per kind: every kind the audit page shows gets its words,
    a row deleted since is simply absent, and only an administrator may ask."""
    from datetime import date

    import pytest

    from db import repository as repo
    from db.errors import PermissionDenied
    from tests.db.db_factories import make_analysis, make_patient, make_photo, make_visit

    patient = make_patient(session, clinician, "A002", name="Jane Roe")
    visit = make_visit(session, clinician, patient, date(2024, 3, 1))
    decoded = make_photo(7)
    photo = repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                             photo=decoded, analysis=make_analysis(decoded, with_masks=False))
    analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    review = repo.add_review(session=session, actor=clinician, analysis_id=analysis.id, iga=2)
    event = repo.add_treatment_event(session=session, actor=clinician, patient_id=patient.id,
                                     event_date=date(2024, 2, 1), description="doxycycline")
    study = repo.create_study(session=session, actor=clinician, name="Doxy trial", arms=["doxycycline"])
    (arm,) = repo.list_arms(session=session, actor=clinician, study_id=study.id)
    enrolment = repo.enrol_patient(session=session, actor=clinician, study_id=study.id,
                                   arm_id=arm.id, patient_id=patient.id)
    member = repo.add_study_member(session=session, actor=clinician, study_id=study.id,
                                   account_id=researcher.id)
    ids = {"patient": {patient.id, 999}, "visit": {visit.id}, "photo": {photo.id},
           "analysis": {analysis.id}, "review": {review.id}, "treatment_event": {event.id},
           "study": {study.id}, "arm": {arm.id}, "enrolment": {enrolment.id},
           "study_member": {member.id}, "account": {researcher.id}}

    names = repo.audit_names(session=session, actor=admin, ids=ids)
    photo_words = "front photo of A002, 01 Mar 2024"
    assert names == {
        "patient": {patient.id: "A002 (Jane Roe)"},
        "visit": {visit.id: "of A002 on 01 Mar 2024"},
        "photo": {photo.id: f"({photo_words})"},
        "analysis": {analysis.id: f"of the {photo_words}"},
        "review": {review.id: f"of the {photo_words}"},
        "treatment_event": {event.id: "of A002 on 01 Feb 2024"},
        "study": {study.id: "“Doxy trial”"},
        "arm": {arm.id: "doxycycline"},
        "enrolment": {enrolment.id: "of A002 in “Doxy trial”"},
        "study_member": {member.id: f"{researcher.username} in “Doxy trial”"},
        "account": {researcher.id: researcher.username if not researcher.full_name
                    else f"{researcher.username} ({researcher.full_name})"},
    }
    with pytest.raises(PermissionDenied):
        repo.audit_names(session=session, actor=clinician, ids=ids)
