"""Patient timeline and study measurements: right numbers, fixed number of queries."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from tests.db.db_factories import (
    LesionSpec,
    QueryCounter,
    make_analysis,
    make_patient,
    make_photo,
    make_visit,
)
from sqlalchemy import Engine
from sqlmodel import Session

from db import repository as repo
from db.models import Account, Patient, Photo
from db.photos import PhotoStore

START = date(2024, 1, 1)


def _lesions(papules: int, comedones: int = 0) -> list[LesionSpec]:
    """`papules` papules in the top row and `comedones` comedones below, 2x2 px each."""
    return [LesionSpec("papule", (3 * i, 0, 3 * i + 2, 2)) for i in range(papules)] + [
        LesionSpec("comedone", (3 * i, 10, 3 * i + 2, 12)) for i in range(comedones)
    ]


def _photo(session: Session, store: PhotoStore, actor: Account, visit_id: int, seed: int,
           lesions: list[LesionSpec] | None, view: str = "front", quality: bool = True,
           grade: int = 1, with_masks: bool = True) -> Photo:
    decoded = make_photo(seed)
    analysis = (
        None if lesions is None
        else make_analysis(decoded, lesions, quality_passed=quality, grade=grade,
                           with_masks=with_masks)
    )
    return repo.store_photo(session=session, actor=actor, photo_store=store, visit_id=visit_id,
                            photo=decoded, analysis=analysis, view=view)


def _patient_with_visits(session: Session, store: PhotoStore, actor: Account, code: str,
                         n_visits: int, seed: int) -> Patient:
    patient = make_patient(session, actor, code)
    for i in range(n_visits):
        visit = make_visit(session, actor, patient, START + timedelta(days=7 * i))
        _photo(session, store, actor, visit.id, seed + i, _lesions(i % 5, 1), with_masks=False)
    return patient


def test_timeline_rows_use_the_latest_analysis_and_review(
    session: Session, store: PhotoStore, clinician: Account
) -> None:
    patient = make_patient(session, clinician, "T-1")
    later = make_visit(session, clinician, patient, date(2024, 2, 1))
    first = make_visit(session, clinician, patient, date(2024, 1, 1))  # created second, earlier
    front = _photo(session, store, clinician, first.id, 1, _lesions(4, 2), grade=1)
    side = _photo(session, store, clinician, first.id, 2, _lesions(1), view="left")
    bare = _photo(session, store, clinician, later.id, 3, None)
    # Re-analysis of the front photo, then two reviews of it: the newest of each counts.
    newer = repo.add_analysis(
        session=session, actor=clinician, photo_store=store, photo_id=front.id,
        analysis=make_analysis(make_photo(1), _lesions(6, 3), model_version="v2", grade=2),
    )
    repo.add_review(session=session, actor=clinician, analysis_id=newer.id, iga=2)
    repo.add_review(session=session, actor=clinician, analysis_id=newer.id, iga=3, grade_override=1)

    rows = repo.patient_timeline(session=session, actor=clinician, patient_id=patient.id)
    assert [(r.visit_date, r.photo_id, r.view) for r in rows] == [
        (date(2024, 1, 1), front.id, "front"),
        (date(2024, 1, 1), side.id, "left"),
        (date(2024, 2, 1), bare.id, "front"),
    ]
    top = rows[0]
    assert top.analysis_id == newer.id and top.model_version == "v2"
    assert (top.papule, top.comedone, top.inflammatory, top.non_inflammatory, top.total) == (6, 3, 6, 3, 9)
    assert top.lesion_area_fraction == pytest.approx(9 * 4 / (48 * 32))
    assert (top.grade, top.review_iga, top.review_grade_override) == (2, 3, 1)
    assert top.quality_passed is True
    assert (rows[1].papule, rows[1].review_iga) == (1, None)
    assert rows[2].analysis_id is None and rows[2].total is None


@pytest.mark.slow
def test_timeline_takes_the_same_number_of_queries_for_2_and_20_visits(
    session: Session, engine: Engine, store: PhotoStore, clinician: Account
) -> None:
    small = _patient_with_visits(session, store, clinician, "SMALL", 2, 100)
    large = _patient_with_visits(session, store, clinician, "LARGE", 20, 200)
    counts = []
    for patient, expected_rows in ((small, 2), (large, 20)):
        with QueryCounter(engine) as counter:
            rows = repo.patient_timeline(session=session, actor=clinician, patient_id=patient.id)
        assert len(rows) == expected_rows
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 3
    assert [r.papule for r in rows[:6]] == [0, 1, 2, 3, 4, 0]


def _study(session: Session, actor: Account, name: str = "Gel trial") -> tuple[int, dict[str, int]]:
    study = repo.create_study(session=session, actor=actor, name=name, arms=["active", "vehicle"])
    arms = {a.name: a.id for a in repo.list_arms(session=session, actor=actor, study_id=study.id)}
    return study.id, arms


def _visits_agree_with_results(session: Session, actor: Account, study_id: int,
                               leave_out_failed_quality: bool = False) -> None:
    """`study_visits` (the studies page's lean read) gives the same visits, in the same order,
    with the same baselines and subjects, as `study_results`."""
    full = repo.study_results(session=session, actor=actor, study_id=study_id,
                              leave_out_failed_quality=leave_out_failed_quality)
    lean = repo.study_visits(session=session, actor=actor, study_id=study_id,
                             leave_out_failed_quality=leave_out_failed_quality)
    assert [tuple(getattr(m, name) for name in repo.StudyVisit._fields)
            for m in full.measurements] == [tuple(v) for v in lean.visits]
    assert (lean.measured_view, lean.measured_body_site, lean.subjects) == (
        full.measured_view, full.measured_body_site, full.subjects)
    # Each subject carries its enrolment, as list_enrolments gives it (the page reads it once).
    assert [(s.enrolment_id, s.patient_id, s.arm_id, s.baseline_visit_id, s.enrolled_at)
            for s in sorted(lean.subjects, key=lambda s: s.enrolment_id)] == [
        (e.id, e.patient_id, e.arm_id, e.baseline_visit_id, e.enrolled_at)
        for e in repo.list_enrolments(session=session, actor=actor, study_id=study_id)]


def test_study_measurements_numbers(session: Session, store: PhotoStore, clinician: Account) -> None:
    study_id, arms = _study(session, clinician)

    a = make_patient(session, clinician, "A-1")
    day0 = make_visit(session, clinician, a, date(2024, 1, 1))
    _photo(session, store, clinician, day0.id, 1, _lesions(8, 4))
    _photo(session, store, clinician, day0.id, 2, _lesions(14), view="left")  # not comparable
    empty = make_visit(session, clinician, a, date(2024, 1, 15))  # no photo: no measurement
    day28 = make_visit(session, clinician, a, date(2024, 1, 29))
    _photo(session, store, clinician, day28.id, 3, _lesions(9), quality=False)
    good = _photo(session, store, clinician, day28.id, 4, _lesions(5, 1))  # passes the gate
    analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=good.id)
    repo.add_review(session=session, actor=clinician, analysis_id=analysis.id, iga=2,
                    grade_override=0)
    repo.enrol_patient(session=session, actor=clinician, study_id=study_id,
                       arm_id=arms["active"], patient_id=a.id)

    b = make_patient(session, clinician, "B-1")
    screening = make_visit(session, clinician, b, date(2024, 2, 1))
    _photo(session, store, clinician, screening.id, 5, _lesions(10))
    baseline = make_visit(session, clinician, b, date(2024, 2, 8))
    _photo(session, store, clinician, baseline.id, 6, _lesions(12))
    week4 = make_visit(session, clinician, b, date(2024, 3, 7))
    _photo(session, store, clinician, week4.id, 7, _lesions(11))
    repo.enrol_patient(session=session, actor=clinician, study_id=study_id,
                       arm_id=arms["vehicle"], patient_id=b.id, baseline_visit_id=baseline.id)
    make_patient(session, clinician, "NOT-ENROLLED")

    rows = repo.study_measurements(session=session, actor=clinician, study_id=study_id)
    summary = [
        (r.arm, r.patient_code, r.visit_date, r.days_from_baseline, r.is_baseline, r.inflammatory,
         r.non_inflammatory, r.view, r.quality_passed, r.iga, r.grade_override)
        for r in rows
    ]
    assert summary == [
        ("active", "A-1", date(2024, 1, 1), 0, True, 8, 4, "front", True, None, None),
        ("active", "A-1", date(2024, 1, 29), 28, False, 5, 1, "front", True, 2, 0),
        ("vehicle", "B-1", date(2024, 2, 1), -7, False, 10, 0, "front", True, None, None),
        ("vehicle", "B-1", date(2024, 2, 8), 0, True, 12, 0, "front", True, None, None),
        ("vehicle", "B-1", date(2024, 3, 7), 28, False, 11, 0, "front", True, None, None),
    ]
    assert empty.id not in {r.visit_id for r in rows}
    assert rows[1].photo_id == good.id
    assert rows[0].lesion_area_fraction == pytest.approx(12 * 4 / (48 * 32))
    _visits_agree_with_results(session, clinician, study_id)


@pytest.mark.slow
def test_study_measurements_take_the_same_number_of_queries_for_2_and_20_visits(
    session: Session, engine: Engine, store: PhotoStore, clinician: Account
) -> None:
    counts = []
    for n_visits, code in ((2, "S"), (20, "L")):
        study_id, arms = _study(session, clinician, name=f"Study {code}")
        for i in range(2):
            patient = _patient_with_visits(session, store, clinician, f"{code}-{i}", n_visits,
                                           1000 * (i + 1) + 100 * n_visits)
            repo.enrol_patient(session=session, actor=clinician, study_id=study_id,
                               arm_id=list(arms.values())[i], patient_id=patient.id)
        with QueryCounter(engine) as counter:
            rows = repo.study_measurements(session=session, actor=clinician, study_id=study_id)
        assert len(rows) == 2 * n_visits
        assert sum(r.is_baseline for r in rows) == 2
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 4


def test_photos_that_cannot_be_assessed_are_left_out_of_timelines_and_studies(
    session: Session, store: PhotoStore, clinician: Account
) -> None:
    """A not-assessable photo stays in its visit (for the record) but measures nothing: the
    timeline shows it unanalysed, and the study takes the visit's assessable photo or none."""
    import dataclasses

    study_id, arms = _study(session, clinician)
    patient = make_patient(session, clinician, "NA-1")
    baseline = make_visit(session, clinician, patient, date(2024, 1, 1))
    _photo(session, store, clinician, baseline.id, 1, _lesions(6, 2))
    later = make_visit(session, clinician, patient, date(2024, 2, 1))
    decoded = make_photo(2)
    unreadable = dataclasses.replace(
        make_analysis(decoded, _lesions(40)), assessable=False,
        not_assessable_reasons=("No face was found, so lesions cannot be counted or graded on this photo.",))
    record_only = repo.store_photo(session=session, actor=clinician, photo_store=store,
                                   visit_id=later.id, photo=decoded, analysis=unreadable)
    repo.enrol_patient(session=session, actor=clinician, study_id=study_id,
                       arm_id=arms["active"], patient_id=patient.id)

    stored = repo.latest_analysis(session=session, actor=clinician, photo_id=record_only.id)
    assert stored.assessable is False and stored.not_assessable_reasons == [
        "No face was found, so lesions cannot be counted or graded on this photo."]
    timeline = repo.patient_timeline(session=session, actor=clinician, patient_id=patient.id)
    assert [(r.visit_date, r.photo_id == record_only.id, r.analysis_id is None, r.inflammatory)
            for r in timeline] == [(date(2024, 1, 1), False, False, 6),
                                   (date(2024, 2, 1), True, True, None)]
    rows = repo.study_measurements(session=session, actor=clinician, study_id=study_id)
    assert [(r.visit_date, r.inflammatory) for r in rows] == [(date(2024, 1, 1), 6)]


def test_a_study_measures_its_one_view_and_lists_who_misses_it(
        session: Session, store: PhotoStore, clinician: Account) -> None:
    """Issue 26 item 8: a left-view study never takes a front photo for a missing left one;
    a subject without any left photo is listed with the views they have. Issue 26 item 2:
    photos that failed the quality check can be left out, and say why when kept."""
    study = repo.create_study(session=session, actor=clinician, name="Left trial",
                              arms=["active"], measured_view="left")
    (arm,) = repo.list_arms(session=session, actor=clinician, study_id=study.id)
    a = make_patient(session, clinician, "A-1")
    day0 = make_visit(session, clinician, a, date(2024, 1, 1))
    _photo(session, store, clinician, day0.id, 1, _lesions(8))
    _photo(session, store, clinician, day0.id, 2, _lesions(14), view="left")
    day28 = make_visit(session, clinician, a, date(2024, 1, 29))
    _photo(session, store, clinician, day28.id, 3, _lesions(3))  # front only: not measured
    day56 = make_visit(session, clinician, a, date(2024, 2, 26))
    _photo(session, store, clinician, day56.id, 4, _lesions(20), view="left", quality=False)
    b = make_patient(session, clinician, "B-1")
    _photo(session, store, clinician, make_visit(session, clinician, b, date(2024, 1, 1)).id, 5,
           _lesions(9))
    for patient in (a, b):
        repo.enrol_patient(session=session, actor=clinician, study_id=study.id, arm_id=arm.id,
                           patient_id=patient.id)

    results = repo.study_results(session=session, actor=clinician, study_id=study.id)
    assert (results.measured_view, results.measured_body_site) == ("left", None)
    assert [(m.patient_code, m.visit_date, m.view, m.inflammatory, m.quality_passed)
            for m in results.measurements] == [
        ("A-1", date(2024, 1, 1), "left", 14, True),
        ("A-1", date(2024, 2, 26), "left", 20, False)]
    assert results.measurements[1].quality_reasons == ("photo is blurred",)
    by_code = {s.patient_code: s for s in results.subjects}
    assert (by_code["A-1"].measured_visits, by_code["A-1"].other_views) == (2, ("front",))
    assert (by_code["B-1"].measured_visits, by_code["B-1"].other_views) == (0, ("front",))

    kept = repo.study_results(session=session, actor=clinician, study_id=study.id,
                              leave_out_failed_quality=True)
    assert [m.visit_date for m in kept.measurements] == [date(2024, 1, 1)]
    assert {s.patient_code: s.left_out_visits for s in kept.subjects} == {"A-1": 1, "B-1": 0}
    _visits_agree_with_results(session, clinician, study.id)
    _visits_agree_with_results(session, clinician, study.id, leave_out_failed_quality=True)
    with pytest.raises(ValueError, match="only a close-up has a body site"):
        repo.create_study(session=session, actor=clinician, name="Bad", arms=["a"],
                          measured_view="front", measured_body_site="chin")
    with pytest.raises(ValueError, match="view 'back'"):
        repo.create_study(session=session, actor=clinician, name="Bad", arms=["a"],
                          measured_view="back")


def test_visits_entered_out_of_date_order_are_measured_in_date_order(
        session: Session, store: PhotoStore, clinician: Account, researcher: Account) -> None:
    """A visit typed in later with an earlier date (an old paper record) takes its place by
    date: the baseline is the first visit by date, days count from it, and the study lists
    arm, subject, then date, as the researcher sees it too (subject labels, not codes)."""
    study_id, arms = _study(session, clinician)
    repo.add_study_member(session=session, actor=clinician, study_id=study_id,
                          account_id=researcher.id)
    late = make_patient(session, clinician, "Z-9")  # enrolled first, listed last by code
    early = make_patient(session, clinician, "A-2")
    for patient, days in ((late, (60, 0, 30, 30)), (early, (14, 0))):
        for i, day in enumerate(days):
            visit = make_visit(session, clinician, patient, START + timedelta(days=day))
            _photo(session, store, clinician, visit.id, 10 * patient.id + i, _lesions(i + 1),
                   with_masks=False)
        repo.enrol_patient(session=session, actor=clinician, study_id=study_id,
                           arm_id=arms["active"], patient_id=patient.id)

    lean = repo.study_visits(session=session, actor=clinician, study_id=study_id)
    assert [(v.patient_code, v.days_from_baseline, v.is_baseline, v.inflammatory)
            for v in lean.visits] == [
        ("A-2", 0, True, 2), ("A-2", 14, False, 1),
        ("Z-9", 0, True, 2), ("Z-9", 30, False, 3), ("Z-9", 30, False, 4), ("Z-9", 60, False, 1)]
    ids = [v.visit_id for v in lean.visits if v.patient_code == "Z-9"]
    assert ids[1] < ids[2]  # one date, two visits: by the order they were entered
    for actor in (clinician, researcher):
        _visits_agree_with_results(session, actor, study_id)
    as_researcher = repo.study_visits(session=session, actor=researcher, study_id=study_id)
    # Z-9 was enrolled first: subject S-0001, listed first now.
    assert [(v.patient_code, v.days_from_baseline) for v in as_researcher.visits] == [
        ("S-0001", 0), ("S-0001", 30), ("S-0001", 30), ("S-0001", 60),
        ("S-0002", 0), ("S-0002", 14)]
