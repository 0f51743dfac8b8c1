"""Reviews and the review queue, treatment events, studies, arms, members and enrolments."""
from __future__ import annotations

from datetime import date

import pytest
from tests.db.db_factories import make_account, make_analysis, make_patient, make_photo, make_visit
from pydantic import ValidationError
from sqlmodel import Session

from db import repository as repo
from db.errors import DuplicateError, NotFound, PermissionDenied
from db.models import Account, Patient, PatientUpdate, Photo
from db.photos import PhotoStore


def _photo(session: Session, store: PhotoStore, actor: Account, patient: Patient, seed: int,
           day: date = date(2024, 4, 1)) -> Photo:
    visit = make_visit(session, actor, patient, day)
    decoded = make_photo(seed)
    return repo.store_photo(session=session, actor=actor, photo_store=store, visit_id=visit.id,
                            photo=decoded, analysis=make_analysis(decoded, with_masks=False))


# ------------------------------------------------------------------------------- reviews
def test_review_queue_holds_latest_unreviewed_analyses_oldest_first(
    session: Session, store: PhotoStore, clinician: Account, other_clinician: Account
) -> None:
    patient = make_patient(session, clinician, "Q-1")
    first = _photo(session, store, clinician, patient, 1, date(2024, 1, 1))
    second = _photo(session, store, clinician, patient, 2, date(2024, 2, 1))
    _photo(session, store, other_clinician, make_patient(session, other_clinician, "Q-2"), 3)
    reanalysis = repo.add_analysis(
        session=session, actor=clinician, photo_store=store, photo_id=first.id,
        analysis=make_analysis(make_photo(1), model_version="v2", with_masks=False),
    )
    queue = repo.list_review_queue(session=session, actor=clinician)
    second_analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=second.id)
    # The first photo's old analysis is superseded; the queue is oldest first.
    assert [a.id for a in queue] == [second_analysis.id, reanalysis.id]

    entries = repo.review_queue_entries(session=session, actor=clinician)
    assert [(e.patient_code, e.photo_id, e.visit_date) for e in entries] == [
        ("Q-1", second.id, date(2024, 2, 1)), ("Q-1", first.id, date(2024, 1, 1)),
    ]
    review = repo.add_review(session=session, actor=clinician, analysis_id=reanalysis.id, iga=1,
                             notes=" looks right ")
    assert (review.iga, review.grade_override, review.notes, review.reviewer_id) == (
        1, None, "looks right", clinician.id
    )
    assert [a.id for a in repo.list_review_queue(session=session, actor=clinician)] == [
        second_analysis.id
    ]
    assert repo.list_reviews(session=session, actor=clinician, analysis_id=reanalysis.id) == [review]


@pytest.mark.parametrize(("iga", "override"), [(5, None), (-1, None), (2, 4), (2, -1)])
def test_review_values_out_of_range_are_refused(
    session: Session, store: PhotoStore, clinician: Account, iga: int, override: int | None
) -> None:
    photo = _photo(session, store, clinician, make_patient(session, clinician, "R-1"), 4)
    analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    with pytest.raises(ValidationError):
        repo.add_review(session=session, actor=clinician, analysis_id=analysis.id, iga=iga,
                        grade_override=override)
    assert repo.list_reviews(session=session, actor=clinician, analysis_id=analysis.id) == []


def test_review_of_a_missing_analysis(session: Session, clinician: Account) -> None:
    with pytest.raises(NotFound, match="analysis"):
        repo.add_review(session=session, actor=clinician, analysis_id=12345, iga=1)


# ----------------------------------------------------------------------------- treatment
def test_treatment_events_round_trip_in_date_order(session: Session, clinician: Account) -> None:
    patient = make_patient(session, clinician, "T-1")
    for day, text in ((date(2024, 3, 1), "stop doxycycline"), (date(2024, 1, 1), "doxycycline")):
        repo.add_treatment_event(session=session, actor=clinician, patient_id=patient.id,
                                 event_date=day, description=text)
    events = repo.list_treatment_events(session=session, actor=clinician, patient_id=patient.id)
    assert [(e.event_date, e.description) for e in events] == [
        (date(2024, 1, 1), "doxycycline"), (date(2024, 3, 1), "stop doxycycline"),
    ]
    with pytest.raises(ValidationError):
        repo.add_treatment_event(session=session, actor=clinician, patient_id=patient.id,
                                 event_date=date(2024, 1, 2), description="   ")


def test_visits_round_trip_and_date_checks(session: Session, clinician: Account) -> None:
    from datetime import datetime, timedelta

    patient = make_patient(session, clinician, "V-1")
    later = repo.create_visit(session=session, actor=clinician, patient_id=patient.id,
                              visit_date=date(2024, 3, 1), treatment_notes=" start gel ")
    earlier = make_visit(session, clinician, patient, date(2024, 1, 1))
    assert repo.list_visits(session=session, actor=clinician, patient_id=patient.id) == [earlier, later]
    got = repo.get_visit(session=session, actor=clinician, visit_id=later.id)
    assert got.treatment_notes == "start gel" and got.created_by_id == clinician.id
    with pytest.raises(ValueError, match="future"):
        make_visit(session, clinician, patient, date.today() + timedelta(days=5))
    with pytest.raises(ValueError, match="no time of day"):
        make_visit(session, clinician, patient, datetime(2024, 1, 1, 12, 0))
    with pytest.raises(NotFound):
        repo.create_visit(session=session, actor=clinician, patient_id=999, visit_date=date(2024, 1, 1))


# ------------------------------------------------------------------------------- studies
def test_create_study_with_arms(session: Session, clinician: Account) -> None:
    study = repo.create_study(session=session, actor=clinician, name=" Gel trial ",
                              description="12 weeks", arms=["active", "vehicle"])
    assert (study.name, study.description, study.created_by_id) == ("Gel trial", "12 weeks",
                                                                     clinician.id)
    assert [a.name for a in repo.list_arms(session=session, actor=clinician, study_id=study.id)] == [
        "active", "vehicle"
    ]
    assert repo.get_study(session=session, actor=clinician, study_id=study.id) == study
    assert repo.list_studies(session=session, actor=clinician) == [study]
    with pytest.raises(DuplicateError):
        repo.create_study(session=session, actor=clinician, name="Gel trial", arms=["a"])


@pytest.mark.parametrize("arms", [[], [""], ["a", "A"]])
def test_study_arms_must_be_named_and_distinct(session: Session, clinician: Account,
                                               arms: list[str]) -> None:
    with pytest.raises(ValueError, match="arm"):
        repo.create_study(session=session, actor=clinician, name="S", arms=arms)
    assert repo.list_studies(session=session, actor=clinician) == []


def test_studies_are_visible_to_creator_members_admins_and_enrolling_teams(
    session: Session, admin: Account, clinician: Account, other_clinician: Account,
    researcher: Account,
) -> None:
    study = repo.create_study(session=session, actor=clinician, name="S", arms=["a"])
    assert repo.get_study(session=session, actor=other_clinician, study_id=study.id) is None
    assert repo.list_arms(session=session, actor=other_clinician, study_id=study.id) == []
    assert repo.get_study(session=session, actor=admin, study_id=study.id) is not None
    teammate = make_account(session, "dr_north", team="north")
    assert repo.get_study(session=session, actor=teammate, study_id=study.id) is None
    arm = repo.list_arms(session=session, actor=clinician, study_id=study.id)[0]
    patient = make_patient(session, clinician, "E-1")
    repo.enrol_patient(session=session, actor=clinician, study_id=study.id, arm_id=arm.id,
                       patient_id=patient.id)
    # The teammate sees the study now: one of the team's patients is enrolled.
    assert repo.get_study(session=session, actor=teammate, study_id=study.id) is not None
    assert repo.study_measurements(session=session, actor=other_clinician, study_id=study.id) == []


def test_members_and_enrolment_rules(
    session: Session, admin: Account, clinician: Account, other_clinician: Account,
    researcher: Account,
) -> None:
    study = repo.create_study(session=session, actor=clinician, name="S", arms=["a", "b"])
    other_study = repo.create_study(session=session, actor=other_clinician, name="T", arms=["x"])
    arm_a = repo.list_arms(session=session, actor=clinician, study_id=study.id)[0]
    foreign_arm = repo.list_arms(session=session, actor=other_clinician, study_id=other_study.id)[0]

    with pytest.raises(PermissionDenied):  # only the creator (or an admin) manages members
        repo.add_study_member(session=session, actor=other_clinician, study_id=study.id,
                              account_id=researcher.id)
    member = repo.add_study_member(session=session, actor=clinician, study_id=study.id,
                                   account_id=researcher.id)
    again = repo.add_study_member(session=session, actor=admin, study_id=study.id,
                                  account_id=researcher.id)
    assert again.id == member.id  # idempotent
    assert [a.username for a in repo.list_study_members(session=session, actor=clinician,
                                                        study_id=study.id)] == ["res"]

    patient = make_patient(session, clinician, "E-1")
    visit = make_visit(session, clinician, patient, date(2024, 1, 1))
    other_patient = make_patient(session, other_clinician, "E-2")
    other_visit = make_visit(session, other_clinician, other_patient, date(2024, 1, 1))
    with pytest.raises(ValueError, match="arm"):
        repo.enrol_patient(session=session, actor=clinician, study_id=study.id,
                           arm_id=foreign_arm.id, patient_id=patient.id)
    with pytest.raises(ValueError, match="baseline visit"):
        repo.enrol_patient(session=session, actor=clinician, study_id=study.id, arm_id=arm_a.id,
                           patient_id=patient.id, baseline_visit_id=other_visit.id)
    with pytest.raises(PermissionDenied):  # not their study, and not a member of it
        repo.enrol_patient(session=session, actor=other_clinician, study_id=study.id,
                           arm_id=arm_a.id, patient_id=other_patient.id)
    enrolment = repo.enrol_patient(session=session, actor=clinician, study_id=study.id,
                                   arm_id=arm_a.id, patient_id=patient.id,
                                   baseline_visit_id=visit.id)
    assert (enrolment.arm_id, enrolment.baseline_visit_id) == (arm_a.id, visit.id)
    with pytest.raises(DuplicateError):
        repo.enrol_patient(session=session, actor=clinician, study_id=study.id, arm_id=arm_a.id,
                           patient_id=patient.id)
    assert repo.list_enrolments(session=session, actor=researcher, study_id=study.id) == [enrolment]
    assert repo.list_enrolments(session=session, actor=other_clinician, study_id=study.id) == []

    # A member clinician may enrol their own patient in someone else's study.
    repo.add_study_member(session=session, actor=clinician, study_id=study.id,
                          account_id=other_clinician.id)
    repo.enrol_patient(session=session, actor=other_clinician, study_id=study.id,
                       arm_id=arm_a.id, patient_id=other_patient.id)
    assert len(repo.list_enrolments(session=session, actor=admin, study_id=study.id)) == 2


# ------------------------------------------------------- researchers see subjects, not people
def _enrolled_world(session: Session, store: PhotoStore, clinician: Account, researcher: Account):  # noqa: ANN202
    """A named patient with notes, one analysed photo, enrolled in a study the researcher is a
    member of; returns (patient, study id, enrolment)."""
    patient = make_patient(session, clinician, "PA-SECRET", name="Jane Quill",
                           notes="Jane's sister is also a patient")
    _photo(session, store, clinician, patient, 11, date(2024, 1, 1))
    study = repo.create_study(session=session, actor=clinician, name="Privacy trial", arms=["a"])
    arm = repo.list_arms(session=session, actor=clinician, study_id=study.id)[0]
    enrolment = repo.enrol_patient(session=session, actor=clinician, study_id=study.id,
                                   arm_id=arm.id, patient_id=patient.id)
    repo.add_study_member(session=session, actor=clinician, study_id=study.id,
                          account_id=researcher.id)
    return patient, study.id, enrolment


def test_researchers_get_subject_labels_never_a_code_name_or_notes(
    session: Session, store: PhotoStore, clinician: Account, researcher: Account
) -> None:
    patient, study_id, enrolment = _enrolled_world(session, store, clinician, researcher)
    label = f"S-{enrolment.id:04d}"

    seen = repo.get_patient(session=session, actor=researcher, patient_id=patient.id)
    assert (seen.id, seen.code, seen.name, seen.notes) == (patient.id, label, None, "")
    (listed,) = repo.list_patients(session=session, actor=researcher)
    assert (listed.code, listed.name, listed.notes) == (label, None, "")
    # A search must not tell a researcher who is enrolled: names and codes match nothing.
    for search in ("Jane", "Quill", "PA-SECRET", "SECRET"):
        assert repo.list_patients(session=session, actor=researcher, search=search) == []
    assert [p.code for p in repo.list_patients(session=session, actor=researcher,
                                               search=label.lower())] == [label]
    (measurement,) = repo.study_measurements(session=session, actor=researcher, study_id=study_id)
    assert measurement.patient_code == label
    assert repo.review_queue_entries(session=session, actor=researcher)[0].patient_code == label

    # The clinician still sees the patient as recorded, and the label never reached the row.
    session.expire_all()
    mine = repo.get_patient(session=session, actor=clinician, patient_id=patient.id)
    assert (mine.code, mine.name) == ("PA-SECRET", "Jane Quill")
    assert repo.study_measurements(session=session, actor=clinician,
                                   study_id=study_id)[0].patient_code == "PA-SECRET"
    assert repo.review_queue_entries(session=session, actor=clinician)[0].patient_code == "PA-SECRET"


def test_researchers_never_see_visit_or_review_notes(
    session: Session, store: PhotoStore, clinician: Account, researcher: Account
) -> None:
    patient, _, _ = _enrolled_world(session, store, clinician, researcher)
    visit = repo.create_visit(session=session, actor=clinician, patient_id=patient.id,
                              visit_date=date(2024, 2, 1), treatment_notes="Jane starts doxycycline")
    photo = repo.store_photo(session=session, actor=clinician, photo_store=store, visit_id=visit.id,
                             photo=make_photo(12), analysis=make_analysis(make_photo(12), with_masks=False))
    analysis = repo.latest_analysis(session=session, actor=clinician, photo_id=photo.id)
    repo.add_review(session=session, actor=clinician, analysis_id=analysis.id, iga=2,
                    notes="Jane Quill, call her mother")

    seen_visits = repo.list_visits(session=session, actor=researcher, patient_id=patient.id)
    assert [v.treatment_notes for v in seen_visits] == ["", ""]
    assert repo.get_visit(session=session, actor=researcher, visit_id=visit.id).treatment_notes == ""
    (seen_review,) = repo.list_reviews(session=session, actor=researcher, analysis_id=analysis.id)
    assert (seen_review.iga, seen_review.notes) == (2, "")
    latest = repo.latest_reviews(session=session, actor=researcher, patient_id=patient.id)
    assert latest[analysis.id].review.notes == ""

    # The rows themselves are untouched: the clinician still reads the notes.
    session.expire_all()
    assert repo.get_visit(session=session, actor=clinician,
                          visit_id=visit.id).treatment_notes == "Jane starts doxycycline"
    assert repo.list_reviews(session=session, actor=clinician,
                             analysis_id=analysis.id)[0].notes == "Jane Quill, call her mother"
    assert repo.latest_reviews(session=session, actor=clinician,
                               patient_id=patient.id)[analysis.id].review.notes.startswith("Jane")


def test_a_subject_keeps_the_label_of_their_first_enrolment_the_researcher_may_see(
    session: Session, store: PhotoStore, admin: Account, clinician: Account,
    researcher: Account,
) -> None:
    patient, first_study, first = _enrolled_world(session, store, clinician, researcher)
    other_researcher = make_account(session, "res2", role="researcher")
    second_study = repo.create_study(session=session, actor=clinician, name="Second", arms=["b"])
    arm = repo.list_arms(session=session, actor=clinician, study_id=second_study.id)[0]
    second = repo.enrol_patient(session=session, actor=clinician, study_id=second_study.id,
                                arm_id=arm.id, patient_id=patient.id)
    repo.add_study_member(session=session, actor=clinician, study_id=second_study.id,
                          account_id=other_researcher.id)
    repo.add_study_member(session=session, actor=clinician, study_id=second_study.id,
                          account_id=researcher.id)
    # Member of both studies: the first enrolment names the subject on patient pages; each
    # study's table uses its own enrolment.
    assert repo.get_patient(session=session, actor=researcher,
                            patient_id=patient.id).code == f"S-{first.id:04d}"
    assert repo.study_measurements(session=session, actor=researcher,
                                   study_id=second_study.id)[0].patient_code == f"S-{second.id:04d}"
    # Member of the second study only: its enrolment, nothing from the first study.
    assert repo.get_patient(session=session, actor=other_researcher,
                            patient_id=patient.id).code == f"S-{second.id:04d}"
    assert repo.get_study(session=session, actor=other_researcher, study_id=first_study) is None


def test_data_version_changes_with_every_committed_change_only(
    session: Session, store: PhotoStore, clinician: Account, researcher: Account
) -> None:
    before = repo.get_data_version(session=session)
    patient, study_id, _ = _enrolled_world(session, store, clinician, researcher)
    after_writes = repo.get_data_version(session=session)
    assert after_writes > before
    repo.list_patients(session=session, actor=clinician)
    repo.study_measurements(session=session, actor=researcher, study_id=study_id)
    assert repo.get_data_version(session=session) == after_writes  # reads change nothing
    repo.update_patient(session=session, actor=clinician, patient_id=patient.id,
                        data=PatientUpdate(notes="changed"))
    assert repo.get_data_version(session=session) != after_writes


def test_audited_reads_leave_the_data_version_alone(
    session: Session, store: PhotoStore, clinician: Account, researcher: Account
) -> None:
    """Opening a visit, downloading a CSV or signing in writes an audit row but changes no
    data: every page's cache (keyed by the version) must stay warm through a busy trial."""
    patient, _, _ = _enrolled_world(session, store, clinician, researcher)
    version = repo.get_data_version(session=session)
    for action in ("view", "export", "login", "login_failed"):
        repo.record_audit(session=session, actor_id=clinician.id, action=action,
                          target_type="patient", target_id=patient.id)
    assert repo.get_data_version(session=session) == version
    repo.delete_patient(session=session, actor=clinician, patient_id=patient.id, photo_store=store)
    assert repo.get_data_version(session=session) != version  # a deletion still moves it


def test_latest_reviews_one_per_analysis_with_the_reviewers_name(
    session: Session, store: PhotoStore, clinician: Account, other_clinician: Account,
    admin: Account,
) -> None:
    patient = make_patient(session, clinician, "R-1")
    first = _photo(session, store, clinician, patient, 21, date(2024, 1, 1))
    second = _photo(session, store, clinician, patient, 22, date(2024, 2, 1))
    a1 = repo.latest_analysis(session=session, actor=clinician, photo_id=first.id)
    a2 = repo.latest_analysis(session=session, actor=clinician, photo_id=second.id)
    repo.add_review(session=session, actor=clinician, analysis_id=a1.id, iga=3)
    later = repo.add_review(session=session, actor=admin, analysis_id=a1.id, iga=2,
                            grade_override=1)
    only = repo.add_review(session=session, actor=clinician, analysis_id=a2.id, iga=1)
    latest = repo.latest_reviews(session=session, actor=clinician, patient_id=patient.id)
    assert {aid: (r.review.id, r.reviewer) for aid, r in latest.items()} == {
        a1.id: (later.id, "admin"), a2.id: (only.id, "dr_a")}
    assert repo.latest_reviews(session=session, actor=other_clinician, patient_id=patient.id) == {}
