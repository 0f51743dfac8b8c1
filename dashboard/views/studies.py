"""Studies: arms, members, enrolment with a baseline visit, and the trial endpoints per arm.

Per arm and study week: mean percent change in inflammatory and non-inflammatory counts with a
95% confidence interval, responder rate and IGA success rate (core.trends.arm_summary over the
stored measurements). Researchers read the studies they are members of; they change nothing,
and see subjects by their subject label ("S-0001"), never by a patient's code or name.

Speed: the measurements and their summaries are computed once per study, account and data
version (`get_data_version` changes with every committed change) and cached; only the open tab
is drawn, the measurements table only once the Measurements tab is opened (`study_table`), and
the CSV when it is downloaded.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict

import pandas as pd
import streamlit as st

from core.trends import ArmWeekSummary, arm_summary
from core.types import BODY_SITES, CLOSE_UP_VIEW, VIEWS, Role
from core.words import plural, view_label
from dashboard import display, research_photos, state
from dashboard.charts import studies as study_charts
from dashboard.retake import retake_noise
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
    list_patients,
    list_studies,
    list_study_members,
    list_visits,
    record_audit,
    study_results,
    study_visits,
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
    summaries: tuple[ArmWeekSummary, ...]
    view: str  # the study's view in words ("front", "close-up of the chin")
    # patient id -> (subject as this account sees it, measured visits, other views in words)
    subjects: dict[int, tuple[str, int, str]]
    flagged: int  # measured visits whose photo failed the quality check (stored anyway)
    left_out: int  # visits left out because their photo failed the quality check
    retake_simulated: bool | None  # None: no retake table


@st.cache_data(show_spinner="Computing the study results ...", max_entries=16, ttl=CACHE_TTL_S)
def study_data(study_id: int, actor_id: int, role: str, team: str | None,
               version: tuple[int, int], database: str, leave_out_failed: bool = False,
               retake_version: str | None = None) -> StudyData | None:
    """The study's arms, enrolments, measurements and per-arm summaries (None when the account
    may not see the study). Keyed by the account (and its role and team, so a changed right is
    never served from the cache) and by the data version: a change made anywhere gives a new
    key. The repository checks the account's rights inside, as on every call. `leave_out_failed`
    leaves out visits whose photo failed the quality check; `retake_version` names the retake
    table in use (a new table gives a new key)."""
    with state.bulk_read():
        return _study_data(study_id, actor_id, leave_out_failed, retake_version)


def _study_data(study_id: int, actor_id: int, leave_out_failed: bool,
                retake_version: str | None) -> StudyData | None:
    with state.db_session() as session:
        actor = get_account(session=session, account_id=actor_id)
        if actor is None or get_study(session=session, actor=actor, study_id=study_id) is None:
            return None
        arms = {a.id: a.name for a in list_arms(session=session, actor=actor, study_id=study_id)}
        results = study_visits(session=session, actor=actor, study_id=study_id,
                               leave_out_failed_quality=leave_out_failed)
    # The enrolments come with the subjects (one read of them, not two), in the order made.
    enrolments = tuple(
        (s.patient_id, s.arm_id, s.baseline_visit_id, s.enrolled_at)
        for s in sorted(results.subjects, key=lambda s: s.enrolment_id)
    )
    measurements = results.visits
    noise = retake_noise() if retake_version is not None else None
    trial = study_charts.trial_rows(measurements, noise)
    return StudyData(
        arms=arms,
        enrolments=enrolments,
        baselines={m.patient_id: m.visit_date for m in measurements if m.is_baseline},
        summaries=tuple(arm_summary(trial)),
        view=view_label(results.measured_view, results.measured_body_site),
        subjects={s.patient_id: (s.patient_code, s.measured_visits,
                                 ", ".join(view_label(v) for v in s.other_views))
                  for s in results.subjects},
        flagged=sum(not m.quality_passed for m in measurements),
        left_out=sum(s.left_out_visits for s in results.subjects),
        retake_simulated=None if noise is None else bool(noise.simulated),
    )


@st.cache_data(show_spinner="Preparing the measurements ...", max_entries=4, ttl=CACHE_TTL_S)
def study_table(study_id: int, actor_id: int, role: str, team: str | None,
                version: tuple[int, int], database: str, leave_out_failed: bool = False,
                retake_version: str | None = None) -> pd.DataFrame | None:
    """Every measurement of the study as in the CSV, keyed as `study_data`. Made only when the
    Measurements tab is opened: at 50,000 visits the frame cost the first open of the page half
    a second, and every rerun of the Results tab unpickled it from the cache."""
    with state.bulk_read():
        return _study_table(study_id, actor_id, role, leave_out_failed, retake_version)


def _study_table(study_id: int, actor_id: int, role: str, leave_out_failed: bool,
                 retake_version: str | None) -> pd.DataFrame | None:
    with state.db_session() as session:
        actor = get_account(session=session, account_id=actor_id)
        if actor is None or get_study(session=session, actor=actor, study_id=study_id) is None:
            return None
        measurements = study_results(session=session, actor=actor, study_id=study_id,
                                     leave_out_failed_quality=leave_out_failed).measurements
    noise = retake_noise() if retake_version is not None else None
    table = study_charts.measurement_frame(measurements, study_charts.trial_rows(measurements, noise),
                                           noise)
    if not table.empty:
        table["view"] = [view_label(v, b) for v, b in zip(table["view"], table["body_site"])]
        table = table.drop(columns="body_site")
    if Role(role).hides_identity and not table.empty:
        # The subject label is their key; the clinic's patient id stays in the clinic.
        table = table.drop(columns="patient_id").rename(columns={"patient_code": "subject"})
    return table


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
            measured = st.selectbox(
                "View measured", MEASURED_VIEWS, format_func=lambda s: view_label(*s),
                help="Every subject is measured on photos of this one view; a subject without "
                     "one is listed as missing, never measured on another view.")
            if st.form_submit_button("Create study"):
                try:
                    with state.db_session() as session:
                        study = create_study(
                            session=session, actor=actor, name=name, description=description,
                            arms=[line for line in arms.splitlines() if line.strip()],
                            measured_view=measured[0], measured_body_site=measured[1],
                        )
                        study_id = study.id
                except WRITE_ERRORS as error:
                    st.error(display.plain(str(error)))  # may quote typed text
                else:
                    st.session_state[STUDY_KEY] = study_id
                    state.flash(f"Study {name.strip()} created.")
                    st.rerun()


# The views a study may measure: front, left, right, and a close-up of one body site.
MEASURED_VIEWS: list[tuple[str, str | None]] = [
    *((view, None) for view in VIEWS if view != CLOSE_UP_VIEW),
    *((CLOSE_UP_VIEW, site) for site in BODY_SITES),
]


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
    "quality_check": display.text("Quality check", help="A photo stored although it failed "
                                                        "the quality check says why."),
    "inflammatory_beyond_retake_noise": display.tick(
        "Beyond a retake", help="The inflammatory count changed from baseline by more than a "
                                "retaken photo changes."),
    "clinician_corrected": display.tick("Corrected by clinician"),
    "model_version": display.text("Model version"),
}


def results(summaries: tuple[ArmWeekSummary, ...], retake_simulated: bool | None = None) -> None:
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
        study_charts.BEYOND_RETAKE: display.text(
            help="Subjects whose inflammatory count changed by more than a retaken photo "
                 "changes, of those with a baseline."),
    })
    if retake_simulated is not None:
        st.caption(f"{study_charts.BEYOND_RETAKE}: subjects whose inflammatory count changed by "
                   "more than a retaken photo changes"
                   + (" (measured on simulated retakes of test photos)." if retake_simulated
                      else "."))
    st.caption(
        "Weeks are rounded from days since each patient's baseline visit. Intervals are 95% "
        "t-intervals (none with one patient). Responder: at least 50% fewer inflammatory "
        "lesions. IGA success: IGA 0 or 1 and at least 2 grades better than at baseline."
    )


def subject_view(data: StudyData, patient_id: int) -> str:
    """Which view a subject's numbers come from: 'front photos (3 visits)', or 'missing: no
    front photo (has left)'; never another view."""
    _, measured, others = data["subjects"].get(patient_id, ("", 0, ""))
    if measured:
        return f"{data['view']} photos ({plural(measured, 'visit')})"
    return f"missing: no {data['view']} photo" + (f" (has {others})" if others else "")


def coverage(data: StudyData) -> None:
    """Which view the numbers come from, who is missing it, and the flagged visits."""
    missing = [code for code, measured, _ in data["subjects"].values() if not measured]
    measured = data["view"] if data["view"].startswith("close-up") else f"{data['view']} view"
    st.caption(f"This study measures the {measured}: every subject's numbers come from their "
               "photos of it, never from another view.")
    if missing:
        st.warning(f"Missing (no {data['view']} photo, so not in the results): "
                   + ", ".join(display.plain(code) for code in missing) + ".")
    if data["flagged"]:
        st.warning(f"{plural(data['flagged'], 'measured visit')} "
                   f"{'comes' if data['flagged'] == 1 else 'come'} from photos stored although they "
                   "failed the quality check (the Quality check column says why).")
    if data["left_out"]:
        st.caption(f"{plural(data['left_out'], 'visit')} left out: "
                   "their photo failed the quality check.")


def enrolment(actor, study_id: int, data: StudyData) -> None:  # noqa: ANN001
    with state.db_session() as session:
        patients = list_patients(session=session, actor=actor)
        choices = {p.id: p.code for p in patients}
        # Issue 24: researchers see only patients who consented (a date) and allow research use.
        consented = {p.id for p in patients if p.research_consent and p.consent_date is not None}
    enrolled = {patient_id for patient_id, _, _, _ in data["enrolments"]}
    arm_names = data["arms"]
    if data["enrolments"]:
        display.show_table(pd.DataFrame(
            [{"patient": choices.get(patient_id, data["subjects"].get(patient_id, ("",))[0]),
              "arm": arm_names[arm_id], "view": subject_view(data, patient_id),
              "baseline visit": f"{data['baselines'][patient_id]:%d %b %Y}"
              if patient_id in data["baselines"] else (
                  "chosen visit not measured yet" if baseline_visit_id
                  else "first measured visit"),
              "enrolled": enrolled_at,
              "researchers": "see this patient" if patient_id in consented or patient_id not in choices
              else "do not see this patient (no research consent)"}
             for patient_id, arm_id, baseline_visit_id, enrolled_at in data["enrolments"]]),
            {"patient": display.text("Patient"), "arm": display.text("Arm"),
             "view": display.text("Numbers from"),
             "baseline visit": display.text("Baseline visit"),
             "enrolled": display.moment("Enrolled (UTC)"),
             "researchers": display.text("Researchers")},
        )
    candidates = [pid for pid in choices if pid not in enrolled]
    if not candidates:
        st.caption("Every patient you may change is enrolled.")
        return
    patient_id = st.selectbox(
        "Patient", candidates, key="enrol_patient",
        format_func=lambda i: choices[i] if i in consented else f"{choices[i]} (no research consent)")
    if patient_id not in consented:
        st.warning("This patient cannot be enrolled: enrolment needs a consent date and "
                   "\"Allows research use\" ticked on the patient's record (Patients page).")
    arm_id = st.selectbox("Arm", list(arm_names), format_func=arm_names.get, key="enrol_arm")
    with state.db_session() as session:
        visits = list_visits(session=session, actor=actor, patient_id=patient_id)
        visit_dates = {v.id: v.visit_date for v in visits}
    baseline = st.selectbox(
        "Baseline visit", [None, *visit_dates], key=f"enrol_baseline_{patient_id}",
        format_func=lambda v: "first measured visit" if v is None else f"{visit_dates[v]:%d %b %Y}",
    )
    if st.button("Enrol patient", key="enrol", disabled=patient_id not in consented):
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
        st.markdown("Members: " + ", ".join(display.plain(m.full_name or m.username) for m in current))
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
leave_out = st.toggle(
    "Leave out visits whose photo failed the quality check", key=f"study_leave_out_{study_id}",
    help="Photos stored although they failed the quality check (for example a face cut off) "
         "can give numbers far off the others.")
noise = retake_noise()
data_key = (study_id, actor.id, actor.role, actor.team, version,
            state.get_settings().resolved_database_url, leave_out,
            None if noise is None else f"{noise.version}:{noise.source}:{noise.simulated}")
data = study_data(*data_key)
if data is None:
    st.error("No such study or no access.")
    st.stop()

if description:
    display.show_text(st, description)  # typed by a person: plain text, never markdown
arm_list = ", ".join(display.plain(arm) for arm in data["arms"].values())
st.caption(f"Arms: {arm_list}; {plural(len(data['enrolments']), 'patient')} enrolled"
           + ("" if state.can_edit(actor) else " (read-only)") + ".")
research_photos.show_sentence(actor, study_id)  # masked for research unless an admin allowed
coverage(data)

tab_names = ["Results", "Measurements"] + (["Enrolment", "Members"] if state.can_edit(actor) else [])
# Only the open tab is drawn (a 5,000-row table or four charts nobody looks at cost seconds).
tabs = st.tabs(tab_names, key=TAB_KEY, on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        results(data["summaries"], data["retake_simulated"])
        state.show_notice()
if tabs[1].open:
    with tabs[1]:
        table = study_table(*data_key)
        if table is None or table.empty:
            st.info("No measurement yet.")
        else:
            display.show_table(study_charts.measurement_screen(table), MEASUREMENT_COLUMNS)
            st.download_button(
                "Download every measurement (CSV)",
                # Made on the click, not on every run of the page.
                lambda: display.csv_bytes(table),  # a formula typed as a name stays text
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
