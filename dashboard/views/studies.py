"""Studies: arms, members, enrolment with a baseline visit, and the trial endpoints per arm.

Per arm and study week: mean percent change in inflammatory and non-inflammatory counts with a
95% confidence interval, responder rate and IGA success rate (core.trends.arm_summary over the
stored measurements). Researchers read the studies they are members of; they change nothing,
and see subjects by their subject label ("S-0001"), never by a patient's code or name.

Speed: the measurements and their summaries are computed once per study, account and data
version (`get_data_version` changes with every committed change) and cached; only the open tab
is drawn, and the CSV is made when it is downloaded.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict

import pandas as pd
import streamlit as st

from core.trends import ArmWeekSummary, arm_summary
from core.types import Role
from core.words import plural
from dashboard import display, research_photos, state
from dashboard.charts import studies as study_charts
from db.errors import DuplicateError, NotFound, PermissionDenied
from db.repository import (
    add_study_member,
    create_study,
    enrol_patient,
    get_account,
    get_data_version,
    get_study,
    list_accounts,
    list_arms,
    list_enrolments,
    list_patients,
    list_studies,
    list_study_members,
    list_visits,
    record_audit,
    study_measurements,
)

STUDY_KEY = "study_id"
TAB_KEY = "study_tab"
WRITE_ERRORS = (PermissionDenied, DuplicateError, NotFound, ValueError)
CACHE_TTL_S = 600  # a backstop: the data version already changes with every change


class StudyData(TypedDict):
    """What the page shows of one study, as one account may see it (a plain dict, so that
    st.cache_data can pickle it: a class defined in a page script cannot be)."""

    arms: dict[int, str]
    # (patient id, arm id, chosen baseline visit id or None, enrolled at)
    enrolments: tuple[tuple[int, int, int | None, datetime], ...]
    baselines: dict[int, date]  # patient id -> date of the baseline visit, once measured
    table: pd.DataFrame  # every measurement, as in the CSV
    summaries: tuple[ArmWeekSummary, ...]


@st.cache_data(show_spinner="Computing the study results ...", max_entries=16, ttl=CACHE_TTL_S)
def study_data(study_id: int, actor_id: int, role: str, team: str | None,
               version: tuple[int, int], database: str) -> StudyData | None:
    """The study's arms, enrolments, measurements and per-arm summaries (None when the account
    may not see the study). Keyed by the account (and its role and team, so a changed right is
    never served from the cache) and by the data version: a change made anywhere gives a new
    key. The repository checks the account's rights inside, as on every call."""
    with state.db_session() as session:
        actor = get_account(session=session, account_id=actor_id)
        if actor is None or get_study(session=session, actor=actor, study_id=study_id) is None:
            return None
        arms = {a.id: a.name for a in list_arms(session=session, actor=actor, study_id=study_id)}
        enrolments = tuple(
            (e.patient_id, e.arm_id, e.baseline_visit_id, e.enrolled_at)
            for e in list_enrolments(session=session, actor=actor, study_id=study_id)
        )
        measurements = study_measurements(session=session, actor=actor, study_id=study_id)
    trial = study_charts.trial_rows(measurements)
    table = study_charts.measurement_frame(measurements, trial)
    if Role(role).hides_identity and not table.empty:
        # The subject label is their key; the clinic's patient id stays in the clinic.
        table = table.drop(columns="patient_id").rename(columns={"patient_code": "subject"})
    return StudyData(
        arms=arms,
        enrolments=enrolments,
        baselines={m.patient_id: m.visit_date for m in measurements if m.is_baseline},
        table=table,
        summaries=tuple(arm_summary(trial)),
    )


def audit_export(actor_id: int, study_id: int, rows: int) -> None:
    """Called when the CSV is downloaded: exports are audited (pseudonymous codes only)."""
    with state.db_session() as session:
        record_audit(session=session, actor_id=actor_id, action="export", target_type="study",
                     target_id=study_id, detail=f"measurements CSV, {rows} rows")


def create_form(actor) -> None:  # noqa: ANN001
    with st.expander("Create a study"):
        with st.form("new_study", clear_on_submit=True):
            name = st.text_input("Study name")
            description = st.text_area("Description")
            arms = st.text_area("Arms (one per line)", placeholder="treatment\nvehicle")
            if st.form_submit_button("Create study"):
                try:
                    with state.db_session() as session:
                        study = create_study(
                            session=session, actor=actor, name=name, description=description,
                            arms=[line for line in arms.splitlines() if line.strip()],
                        )
                        study_id = study.id
                except WRITE_ERRORS as error:
                    st.error(str(error))
                else:
                    st.session_state[STUDY_KEY] = study_id
                    state.flash(f"Study {name.strip()} created.")
                    st.rerun()


# The measurements table: every column a person sees, named in words (the CSV keeps its names).
MEASUREMENT_COLUMNS = {
    "subject": display.text("Subject"),
    "patient_code": display.text("Patient"),
    "arm": display.text("Arm"),
    "visit_date": display.day("Visit date"),
    "week": display.count("Study week", help="Weeks since the subject's baseline visit, rounded."),
    "days_from_baseline": display.count("Days from baseline"),
    "is_baseline": display.tick("Baseline"),
    "view": display.text("View"),
    "comedone": display.count("Comedones"),
    "papule": display.count("Papules"),
    "pustule": display.count("Pustules"),
    "nodule": display.count("Nodules/cysts"),
    "inflammatory_type_uncertain": display.count("Uncertain type"),
    "inflammatory": display.count("Inflammatory"),
    "non_inflammatory": display.count("Non-inflammatory"),
    "total": display.count("All lesions"),
    "inflammatory_percent_change": display.percent("Inflammatory change", decimals=1),
    "non_inflammatory_percent_change": display.percent("Non-inflammatory change", decimals=1),
    "lesion_area_percent": display.number("Lesion area (%)", decimals=2,
                                          help="Lesion area in % of the facial skin."),
    "model_grade": display.text("Model grade"),
    "grade_confidence_percent": display.percent("Confidence"),
    "clinician_grade": display.text("Clinician grade"),
    "iga": display.count("IGA"),
    "baseline_iga": display.count("Baseline IGA"),
    "iga_success": display.tick("IGA success"),
    "quality_passed": display.tick("Quality passed"),
    "clinician_corrected": display.tick("Corrected by clinician"),
    "model_version": display.text("Model version"),
}


def results(summaries: tuple[ArmWeekSummary, ...]) -> None:
    if not summaries:
        st.info("No measured visit of an enrolled patient yet: results appear after the "
                "baseline visit is analysed.")
        return
    left, right = st.columns(2)
    panels = (
        (left, "inflammatory", lambda: study_charts.arm_change_figure(summaries, "inflammatory"),
         "arm_inflammatory"),
        (right, "non_inflammatory",
         lambda: study_charts.arm_change_figure(summaries, "non_inflammatory"),
         "arm_non_inflammatory"),
        (left, "responder_rate", lambda: study_charts.arm_rate_figure(summaries, "responder_rate"),
         "arm_responders"),
        (right, "iga_success_rate",
         lambda: study_charts.arm_rate_figure(summaries, "iga_success_rate"), "arm_iga"),
    )
    for column, measure, figure, key in panels:
        if study_charts.has_points(summaries, measure):
            column.plotly_chart(figure(), key=key)
        else:
            # An empty chart says nothing: say why there is nothing to draw.
            column.info(study_charts.EMPTY_PANELS[measure])
    display.show_table(study_charts.summary_table(summaries), {
        "Arm": display.text(), "Week": display.count(), "Subjects": display.count(),
        "Inflammatory change": display.text(help="Mean % change from baseline."),
        "Inflammatory 95% CI": display.text(),
        "Non-inflammatory change": display.text(help="Mean % change from baseline."),
        "Non-inflammatory 95% CI": display.text(),
        "Responders": display.text(help="Subjects with at least 50% fewer inflammatory lesions, "
                                        "of those judged."),
        "IGA success": display.text(help="IGA 0 or 1 and at least 2 grades better than at "
                                         "baseline, of those with both IGAs."),
    })
    st.caption(
        "Weeks are rounded from days since each patient's baseline visit. Intervals are 95% "
        "t-intervals (none with one patient). Responder: at least 50% fewer inflammatory "
        "lesions. IGA success: IGA 0 or 1 and at least 2 grades better than at baseline."
    )


def enrolment(actor, study_id: int, data: StudyData) -> None:  # noqa: ANN001
    with state.db_session() as session:
        patients = list_patients(session=session, actor=actor)
        choices = {p.id: p.code for p in patients}
    enrolled = {patient_id for patient_id, _, _, _ in data["enrolments"]}
    arm_names = data["arms"]
    if data["enrolments"]:
        display.show_table(pd.DataFrame(
            [{"patient": choices.get(patient_id, f"#{patient_id}"), "arm": arm_names[arm_id],
              "baseline visit": f"{data['baselines'][patient_id]:%d %b %Y}"
              if patient_id in data["baselines"] else (
                  "chosen visit not measured yet" if baseline_visit_id
                  else "first measured visit"),
              "enrolled": enrolled_at}
             for patient_id, arm_id, baseline_visit_id, enrolled_at in data["enrolments"]]),
            {"patient": display.text("Patient"), "arm": display.text("Arm"),
             "baseline visit": display.text("Baseline visit"),
             "enrolled": display.moment("Enrolled (UTC)")},
        )
    candidates = [pid for pid in choices if pid not in enrolled]
    if not candidates:
        st.caption("Every patient you may change is enrolled.")
        return
    patient_id = st.selectbox("Patient", candidates, format_func=choices.get, key="enrol_patient")
    arm_id = st.selectbox("Arm", list(arm_names), format_func=arm_names.get, key="enrol_arm")
    with state.db_session() as session:
        visits = list_visits(session=session, actor=actor, patient_id=patient_id)
        visit_dates = {v.id: v.visit_date for v in visits}
    baseline = st.selectbox(
        "Baseline visit", [None, *visit_dates], key=f"enrol_baseline_{patient_id}",
        format_func=lambda v: "first measured visit" if v is None else f"{visit_dates[v]:%d %b %Y}",
    )
    if st.button("Enrol patient", key="enrol"):
        try:
            with state.db_session() as session:
                enrol_patient(session=session, actor=actor, study_id=study_id, arm_id=arm_id,
                              patient_id=patient_id, baseline_visit_id=baseline)
        except WRITE_ERRORS as error:
            st.error(str(error))
        else:
            state.flash(f"{choices[patient_id]} enrolled in arm {arm_names[arm_id]}.")
            st.rerun()


def members(actor, study_id: int, current) -> None:  # noqa: ANN001
    if current:
        st.write("Members: " + ", ".join(m.full_name or m.username for m in current))
    else:
        st.caption("No member yet: researchers see a study only once they are members.")
    with state.db_session() as session:
        researchers = [a for a in list_accounts(session=session, role=Role.RESEARCHER.value) if a.is_active]
        names = {a.id: f"{a.full_name or a.username} ({a.username})" for a in researchers}
    candidates = [i for i in names if i not in {m.id for m in current}]
    if not candidates:
        st.caption("No other active researcher account to add.")
        return
    account_id = st.selectbox("Researcher", candidates, format_func=names.get, key="member_pick")
    if st.button("Add member", key="add_member"):
        try:
            with state.db_session() as session:
                add_study_member(session=session, actor=actor, study_id=study_id,
                                 account_id=account_id)
        except WRITE_ERRORS as error:
            st.error(str(error))
        else:
            state.flash(f"{names[account_id]} can now read this study.")
            st.rerun()


actor = state.require_actor()
st.title("Studies")
state.show_flash()
if state.can_edit(actor):
    create_form(actor)

with state.db_session() as session:
    studies = {s.id: s.name for s in list_studies(session=session, actor=actor)}
if not studies:
    st.info("No study to show. Researchers see the studies they are members of."
            if state.hides_identity(actor) else "No study yet: create one above.")
    st.stop()

if st.session_state.get(STUDY_KEY) not in studies:
    st.session_state[STUDY_KEY] = next(iter(studies))
study_id = st.selectbox("Study", list(studies), format_func=studies.get, key=STUDY_KEY)

with state.db_session() as session:
    # Re-checked through the repository: only a visible study is ever shown.
    study = get_study(session=session, actor=actor, study_id=study_id)
    if study is None:
        st.error("No such study or no access.")
        st.stop()
    manages = state.can_edit(actor) and (actor.role == Role.ADMIN or study.created_by_id == actor.id)
    description = study.description
    current_members = list_study_members(session=session, actor=actor, study_id=study_id)
    version = get_data_version(session=session)
data = study_data(study_id, actor.id, actor.role, actor.team, version,
                  state.get_settings().resolved_database_url)
if data is None:
    st.error("No such study or no access.")
    st.stop()

if description:
    st.write(description)
arm_list = ", ".join(data["arms"].values())
st.caption(f"Arms: {arm_list}; {plural(len(data['enrolments']), 'patient')} enrolled"
           + ("" if state.can_edit(actor) else " (read-only)") + ".")
research_photos.show_sentence(actor, study_id)  # masked for research unless an admin allowed

tab_names = ["Results", "Measurements"] + (["Enrolment", "Members"] if state.can_edit(actor) else [])
# Only the open tab is drawn (a 5,000-row table or four charts nobody looks at cost seconds).
tabs = st.tabs(tab_names, key=TAB_KEY, on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        results(data["summaries"])
        state.show_notice()
if tabs[1].open:
    with tabs[1]:
        table = data["table"]
        if table.empty:
            st.info("No measurement yet.")
        else:
            display.show_table(study_charts.measurement_screen(table), MEASUREMENT_COLUMNS)
            st.download_button(
                "Download every measurement (CSV)",
                # Made on the click, not on every run of the page.
                lambda: table.to_csv(index=False).encode("utf-8"),
                file_name=f"study_{study_id}_measurements_{date.today():%Y%m%d}.csv",
                mime="text/csv", key="download_csv", on_click=audit_export,
                args=(actor.id, study_id, len(table)),
            )
if state.can_edit(actor):
    if tabs[2].open:
        with tabs[2]:
            if manages or actor.id in {m.id for m in current_members}:
                enrolment(actor, study_id, data)
            else:
                st.caption("Only the study's creator, an administrator or a member enrols "
                           "patients.")
    if tabs[3].open:
        with tabs[3]:
            if manages:
                members(actor, study_id, current_members)
            else:
                st.caption("Only the study's creator or an administrator adds members.")
            research_photos.show_switch(actor, study_id)  # administrators only
