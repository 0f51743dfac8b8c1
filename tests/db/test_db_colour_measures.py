"""Issue 29: an analysis's colour measures are stored with it, and a clinician's lesion correction
keeps them (the photo's colours did not change)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from sqlmodel import Session
from tests.db.db_factories import make_analysis, make_patient, make_photo, make_visit

from core import types as core_types
from db import repository as repo
from db.models import COLOUR_COLUMNS, Account
from db.repository.files import all_referenced_files
from db.photos import PhotoStore

COLOUR = core_types.ColourMeasures(
    reference="colour-referenced", red_area_fraction=0.042, dark_area_fraction=0.013,
    red_mean_delta_a=8.25, dark_mean_delta_l=-9.5, skin_l=64.2, skin_a=13.1, skin_b=21.0,
    skin_ita=34.0, measured_fraction=0.71, card_delta_e=0.8,
    mask=np.zeros((32, 48), np.uint8),
)


def _store(session: Session, store: PhotoStore, clinician: Account, seed: int,
           colour: core_types.ColourMeasures | None):
    visit = make_visit(session, clinician, make_patient(session, clinician, f"C-{seed}"), date(2024, 5, 2))
    decoded = make_photo(seed)
    analysis = replace(make_analysis(decoded), colour=colour)
    photo = repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                             photo=decoded, analysis=analysis, view="front")
    return decoded, repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)


def test_colour_measures_are_stored_with_the_analysis(session: Session, store: PhotoStore,
                                                      clinician: Account) -> None:
    _, row = _store(session, store, clinician, 41, COLOUR)
    assert row.colour_reference == "colour-referenced"
    assert (row.red_area_fraction, row.dark_area_fraction) == pytest.approx((0.042, 0.013))
    assert (row.red_mean_delta_a, row.dark_mean_delta_l) == pytest.approx((8.25, -9.5))
    assert (row.clear_skin_l, row.clear_skin_a, row.clear_skin_b, row.clear_skin_ita) == pytest.approx(
        (64.2, 13.1, 21.0, 34.0))
    assert row.colour_measured_fraction == pytest.approx(0.71)
    assert row.colour_card_delta_e == pytest.approx(0.8)


def test_an_analysis_without_colour_measures_stores_none_of_them(session: Session, store: PhotoStore,
                                                                 clinician: Account) -> None:
    _, row = _store(session, store, clinician, 42, None)
    assert all(getattr(row, name) is None for name in COLOUR_COLUMNS)
    _, row = _store(session, store, clinician, 43, replace(COLOUR, reference="self-referenced",
                                                          card_delta_e=None, red_mean_delta_a=None))
    assert row.colour_reference == "self-referenced"
    assert row.colour_card_delta_e is None and row.red_mean_delta_a is None


def test_a_lesion_correction_keeps_the_colour_measures(session: Session, store: PhotoStore,
                                                      clinician: Account) -> None:
    decoded, row = _store(session, store, clinician, 44, COLOUR)
    lesions = make_analysis(decoded).lesions
    corrected = core_types.CorrectedMeasurements(
        lesions=lesions, counts=core_types.LesionCounts.from_lesions(lesions),
        grade=core_types.Grade(value=1, label="moderate", confidence=0.7),
        lesion_area_fraction=0.05, region_counts={}, gags_estimate=None, grade_evidence=(1.0,),
        edit={"action": "remove"}, description="removed nothing", kind_mask=None)
    correction = repo.add_correction(session=session, actor=clinician, photo_store=store,
                                     analysis_id=row.id, corrected=corrected)
    assert {name: getattr(correction, name) for name in COLOUR_COLUMNS} == {
        name: getattr(row, name) for name in COLOUR_COLUMNS}


def test_the_colour_layers_are_stored_read_back_and_deleted_with_the_photo(
        session: Session, store: PhotoStore, clinician: Account) -> None:
    layers = np.zeros((32, 48), np.uint8)
    layers[2:8, 3:9] = 1 | 4  # red area on measured skin
    layers[20:24, 30:36] = 2 | 4  # a dark mark
    _, row = _store(session, store, clinician, 45, replace(COLOUR, mask=layers))
    assert row.colour_mask_sha256 is not None
    assert np.array_equal(repo.load_colour_mask(photo_store=store, analysis=row), layers)
    assert (row.colour_mask_sha256, ".png") in all_referenced_files(session)
    repo.delete_photo(session=session, actor=clinician, photo_store=store, photo_id=row.photo_id)
    assert not store.exists(row.colour_mask_sha256, ".png")


def test_an_analysis_without_colour_has_no_layers(session: Session, store: PhotoStore,
                                                  clinician: Account) -> None:
    _, row = _store(session, store, clinician, 46, None)
    assert repo.load_colour_mask(photo_store=store, analysis=row) is None
