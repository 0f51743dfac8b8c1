"""Reads for capture that can be compared and for the Models page: the last photo of a view
(the framing guide) and the model versions behind the analyses an account can see."""
from __future__ import annotations

from datetime import date

from tests.db.db_factories import make_account, make_analysis, make_patient, make_photo, make_visit
from sqlmodel import Session

from db import repository as repo
from db.models import Account
from db.photos import PhotoStore


def _store(session, store, actor, visit, seed, *, view="front", version="seg-test-1",  # noqa: ANN001, ANN202
           analysed=True):
    photo = make_photo(seed)
    return repo.store_photo(session=session, actor=actor, photo_store=store, visit_id=visit.id,
                            photo=photo, view=view,
                            analysis=make_analysis(photo, model_version=version) if analysed else None)


def test_last_photo_of_a_view_is_the_latest_visit_s(session: Session, store: PhotoStore,
                                                    clinician: Account) -> None:
    patient = make_patient(session, clinician, "P-1")
    march = make_visit(session, clinician, patient, date(2024, 3, 1))
    january = make_visit(session, clinician, patient, date(2024, 1, 1))  # recorded later, older
    newest_front = _store(session, store, clinician, march, 1)
    _store(session, store, clinician, january, 2)
    left = _store(session, store, clinician, january, 3, view="left", analysed=False)

    found = repo.last_photo_of_view(session=session, actor=clinician, patient_id=patient.id, view="front")
    assert found.photo.id == newest_front.id and found.visit_date == date(2024, 3, 1)
    assert found.analysis.face_found and len(found.analysis.landmarks) == 5
    found = repo.last_photo_of_view(session=session, actor=clinician, patient_id=patient.id, view="left")
    assert found.photo.id == left.id and found.analysis is None
    assert repo.last_photo_of_view(session=session, actor=clinician, patient_id=patient.id,
                                   view="right") is None
    stranger = make_account(session, "dr_b", team="south")
    assert repo.last_photo_of_view(session=session, actor=stranger, patient_id=patient.id,
                                   view="front") is None


def test_model_versions_are_counted_over_visible_analyses(session: Session, store: PhotoStore,
                                                          clinician: Account) -> None:
    patient = make_patient(session, clinician, "P-1")
    visit = make_visit(session, clinician, patient, date(2024, 3, 1))
    first = _store(session, store, clinician, visit, 1, version="old")
    _store(session, store, clinician, visit, 2, version="old")
    repo.add_analysis(session=session, actor=clinician, photo_store=store, photo_id=first.id,
                      analysis=make_analysis(make_photo(1), model_version="new"))
    stranger = make_account(session, "dr_b", team="south")
    elsewhere = make_visit(session, stranger, make_patient(session, stranger, "P-2"), date(2024, 3, 2))
    _store(session, store, stranger, elsewhere, 5, version="old")

    rows = repo.model_version_use(session=session, actor=clinician)
    assert [(r.model_version, r.current_photos, r.model_analyses) for r in rows] == [
        ("new", 1, 1), ("old", 1, 2)]
    assert [(r.model_version, r.current_photos) for r in
            repo.model_version_use(session=session, actor=stranger)] == [("old", 1)]
