"""The new texts of the timeline pages speak plain words (issues 25 and 26): a photo stored
although it failed the quality check, close-ups per body site, a face found only roughly, the
retake band and sentences, a study's view and who misses it."""
from __future__ import annotations

from datetime import date

from tests.dashboard.fixtures_d2 import open_as, papules
from tests.dashboard.fixtures_timeline import CUT_OFF, Shot, retake_table, seed_shots
from tests.dashboard.test_plain_words import Report


def test_flags_close_ups_and_retakes_read_in_plain_words(dash):
    from db.repository import create_study, enrol_patient, list_arms

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    retake_table(dash.env.weights_dir, sd=1.7)

    def close_up(n: int) -> Shot:
        return Shot(papules(n), view="close-up", body_site="left_cheek", alignment=None,
                    face_found=False)

    seeded = seed_shots(dash, doctor, "ACN-PLAIN", [
        (date(2024, 1, 10), [Shot(papules(12)), close_up(20)]),
        (date(2024, 2, 10), [Shot(papules(30), quality_reasons=(CUT_OFF,), alignment=None),
                             close_up(14)]),
        (date(2024, 3, 10), [Shot(papules(5)), close_up(9)]),
        (date(2024, 4, 10), [Shot(papules(4), view="left")]),
    ])
    owner = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=owner, name="Plain trial", arms=["drug"])
        arm = list_arms(session=session, actor=owner, study_id=study.id)[0]
        enrol_patient(session=session, actor=owner, study_id=study.id, arm_id=arm.id,
                      patient_id=seeded.patient_id)
        side = create_study(session=session, actor=owner, name="Side trial", arms=["drug"],
                            measured_view="right")
        enrol_patient(session=session, actor=owner, study_id=side.id, arm_id=arm.id + 1,
                      patient_id=seeded.patient_id)

    report = Report()
    for series in (("front", None), ("close-up", "left_cheek")):
        for tab in ("Overview", "Inflammatory / non-inflammatory", "Lesion area", "Grade"):
            at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id,
                         state={f"trend_series_{seeded.patient_id}": series, "trend_tab": tab})
            assert not at.exception
            report.check(at, f"trends {series} {tab}")
        at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id,
                     state={f"compare_series_{seeded.patient_id}": series})
        assert not at.exception
        report.check(at, f"compare {series}")
    for tab in ("Results", "Measurements", "Enrolment"):
        for study_id in (study.id, side.id):
            at = open_as(dash, doctor, "studies", state={"study_tab": tab, "study_id": study_id})
            assert not at.exception
            report.check(at, f"studies {study_id} {tab}")
    at = open_as(dash, doctor, "review")
    assert not at.exception
    report.check(at, "review")
    at = open_as(dash, doctor, "reports", patient_id=seeded.patient_id)
    assert not at.exception
    report.check(at, "reports")
    report.assert_clean()
