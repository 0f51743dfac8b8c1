"""Trends page speed (issue 28 item 4): a rerun reads no timeline row and builds no frame (the
reads are cached per account and data version), and the cache never outlives a change: a new
visit, a patient deleted or another account's rights."""
from __future__ import annotations

from datetime import date

from tests.dashboard.fixtures_d2 import (
    StatementCounter,
    add_measured_visits,
    comedones,
    open_as,
    papules,
    plotly_specs,
    seed_patient,
    trace,
)

NO_ACCESS = "No such patient or no access."


def _history(dash, owner: int):  # noqa: ANN001, ANN202
    return seed_patient(dash, owner, "ACN-C1", [
        (date(2024, 1, 10), papules(10) + comedones(4)),
        (date(2024, 2, 10), papules(6) + comedones(4)),
    ])


def test_a_rerun_of_the_trends_page_reads_no_timeline_row(dash):
    from db.engine import get_engine

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _history(dash, doctor)
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    assert not at.exception
    with StatementCounter(get_engine(dash.env.url)) as counter:
        at.run()  # a click on the page: same account, nothing changed
    assert not at.exception
    assert trace(plotly_specs(at)[0], "inflammatory")["y"] == [10, 6]
    read = [s for s in counter.statements if "FROM visit" in s or "treatment_event" in s]
    assert not read, read


def test_the_trends_cache_never_outlives_a_change(dash):
    from db.photos import PhotoStore
    from db.repository import delete_patient

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician", team="north")
    other = dash.make_account("other", role="clinician", team="south")
    seeded = _history(dash, doctor)
    at = open_as(dash, doctor, "trends", patient_id=seeded.patient_id)
    assert trace(plotly_specs(at)[0], "inflammatory")["y"] == [10, 6]
    # A new analysed visit is drawn on the next run.
    add_measured_visits(dash, doctor, seeded, [(date(2024, 3, 10), papules(3))])
    at.run()
    assert trace(plotly_specs(at)[0], "inflammatory")["y"] == [10, 6, 3]
    # Another account with no right to the patient gets nothing from the first one's cache.
    stranger = open_as(dash, other, "trends", patient_id=seeded.patient_id)
    assert not plotly_specs(stranger)
    assert NO_ACCESS in dash.texts(stranger.error)
    # A deleted patient is gone at once.
    with dash.env.session() as session:
        delete_patient(session=session, actor=dash.get_account(doctor),
                       photo_store=PhotoStore(dash.env.data_dir / "photos"),
                       patient_id=seeded.patient_id)
    at.run()
    assert not plotly_specs(at)
    assert NO_ACCESS in dash.texts(at.error)


def test_the_visit_picker_is_cached_and_never_stale(dash):
    """The Visit page's list of visits (1,000 row objects a rerun at trial size) is read once
    per account and data version: a rerun reads no visit list; a visit added since is there on
    the next run."""
    from db.engine import get_engine

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _history(dash, doctor)
    at = open_as(dash, doctor, "visit", patient_id=seeded.patient_id)
    assert not at.exception
    at.run()  # opening the visit was audited: the data version moved once
    with StatementCounter(get_engine(dash.env.url)) as counter:
        at.run()
    assert not at.exception
    listed = [s for s in counter.statements
              if "FROM visit JOIN patient" in s and "ORDER BY visit.visit_date, visit.id" in s]
    assert not listed, listed
    assert len(at.selectbox(key="visit_picker").options) == 2
    add_measured_visits(dash, doctor, seeded, [(date(2024, 3, 10), papules(3))])
    at.run()
    assert len(at.selectbox(key="visit_picker").options) == 3
