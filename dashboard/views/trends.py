"""Trends: one patient's counts, lesion area, grade and clinician IGA over visits.

Values, absolute or percent change from a chosen baseline visit, optionally smoothed; treatment
events are drawn as vertical markers. Every number comes from stored analyses (no model runs).
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.trends import count_noise_threshold, is_meaningful_count_change
from core.types import VIEWS
from dashboard import state
from dashboard.charts import timeline as timeline_charts, trends as trend_charts
from db.errors import PermissionDenied
from db.repository import add_treatment_event, list_treatment_events, patient_timeline


@st.cache_data(show_spinner=False, max_entries=64)
def visit_table(timeline: pd.DataFrame, view: str) -> pd.DataFrame:
    """The per-visit frame of one view (cached on the timeline's content, so never stale)."""
    return timeline_charts.visit_frame(timeline, view)


METRIC_LABELS = {"inflammatory": "Inflammatory", "non_inflammatory": "Non-inflammatory",
                 "total": "All lesions"}


def change_metric(column, name: str, visits: pd.DataFrame, baseline: int) -> None:  # noqa: ANN001
    """Latest visit against the baseline, flagged when the change is within counting noise."""
    before, after = int(visits[name].iloc[baseline]), int(visits[name].iloc[-1])
    delta = after - before
    percent = "" if before == 0 else f" ({100.0 * delta / before:+.0f}%)"
    column.metric(
        # No arrow for no change: Streamlit would draw "+0" as a worsening.
        METRIC_LABELS[name], after, f"{delta:+d}{percent}" if delta else None, delta_color="inverse",
        help=f"Latest visit against baseline ({before}). Changes smaller than "
        f"{count_noise_threshold(before):g} lesions are within counting noise.",
    )
    if len(visits) > 1 and not is_meaningful_count_change(before, after):
        column.caption("Within counting noise: not a real change.")


actor = state.require_actor()
patient = state.require_patient(actor)
st.title(f"Trends of {patient.code}")
state.show_flash()

with state.db_session() as session:
    rows = patient_timeline(session=session, actor=actor, patient_id=patient.id)
    events = [
        (event.event_date, event.description)
        for event in list_treatment_events(session=session, actor=actor, patient_id=patient.id)
    ]

timeline = timeline_charts.timeline_frame(rows)
analysed_views = [v for v in VIEWS if v in set(timeline.loc[timeline["analysis_id"].notna(), "view"])]

if state.can_edit(actor):
    with st.expander("Record a treatment event"):
        with st.form("treatment_event", clear_on_submit=True):
            event_date = st.date_input("Date", value=date.today(), max_value=date.today())
            description = st.text_input("Treatment", placeholder="e.g. started topical adapalene")
            if st.form_submit_button("Add to the timeline"):
                if not description.strip():
                    st.error("Describe the treatment (for example the drug and the dose).")
                else:
                    try:
                        with state.db_session() as session:
                            add_treatment_event(
                                session=session, actor=actor, patient_id=patient.id,
                                event_date=event_date, description=description,
                            )
                    except (PermissionDenied, ValueError) as error:
                        st.error(str(error))
                    else:
                        state.flash(f"Treatment event of {event_date:%d %b %Y} recorded.")
                        st.rerun()

if not analysed_views:
    st.info("No analysed photo yet for this patient: trends appear after the first analysed visit.")
    st.stop()

controls = st.columns(4)
view = controls[0].radio(
    "View", analysed_views, horizontal=True, key=f"trend_view_{patient.id}",
    help="Only photos of one view are compared: other views show other skin.",
)
visits = visit_table(timeline, view)
visit_ids = visits["visit_id"].tolist()
dates = dict(zip(visit_ids, visits["visit_date"]))
baseline_id = controls[1].selectbox(
    "Baseline visit", visit_ids, key=f"trend_baseline_{patient.id}_{view}",
    format_func=lambda i: f"{dates[i]:%d %b %Y}",
)
mode = controls[2].radio(
    "Show", list(trend_charts.MODES), format_func=trend_charts.MODES.get, key="trend_mode",
)
smoothing = controls[3].toggle(
    "Smooth (median of 3 visits)", key="trend_smoothing",
    help="Counting is noisy; the rolling median shows the direction. Measured points stay visible.",
)

baseline = trend_charts.baseline_position(visits, baseline_id)
metrics = st.columns(3)
for column, name in zip(metrics, ("inflammatory", "non_inflammatory", "total")):
    change_metric(column, name, visits, baseline)

options = {"mode": mode, "baseline_visit_id": baseline_id, "smoothing": smoothing, "events": events}
TABS = ("Inflammatory / non-inflammatory", "By lesion type", "Lesion area", "Grade",
        "Clinician IGA")
# Only the open tab's chart is built and sent: five charts at once cost the browser seconds.
tabs = dict(zip(TABS, st.tabs(TABS, key="trend_tab", on_change="rerun")))
if tabs[TABS[0]].open:
    with tabs[TABS[0]]:
        st.plotly_chart(trend_charts.groups_figure(visits, **options), key="chart_groups")
if tabs[TABS[1]].open:
    with tabs[TABS[1]]:
        st.plotly_chart(trend_charts.kinds_figure(visits, **options), key="chart_kinds")
if tabs[TABS[2]].open:
    with tabs[TABS[2]]:
        st.plotly_chart(trend_charts.area_figure(visits, **options), key="chart_area")
if tabs[TABS[3]].open:
    with tabs[TABS[3]]:
        st.plotly_chart(trend_charts.grade_figure(visits, events=events), key="chart_grade")
        st.caption("The band widens as the model is less sure of its grade (1 - confidence).")
if tabs[TABS[4]].open:
    with tabs[TABS[4]]:
        if visits["iga"].notna().any():
            st.plotly_chart(
                trend_charts.iga_figure(visits, baseline_visit_id=baseline_id, events=events),
                key="chart_iga",
            )
            st.caption("IGA success: IGA 0 or 1 and at least 2 grades better than at baseline.")
        else:
            st.info("No clinician has recorded an IGA for these visits yet (Review queue).")

table = visits.assign(
    lesion_area_percent=(visits["lesion_area_fraction"].astype(float) * 100).round(2),
    visit_date=visits["visit_date"].dt.date,
    **{"corrected by clinician": visits["corrects_id"].notna().map({True: "yes", False: ""})},
)[["visit_date", *timeline_charts.TYPE_LABELS, "inflammatory", "non_inflammatory", "total",
   "lesion_area_percent", "grade", "grade_confidence", "iga", "corrected by clinician", "model_version"]]
st.dataframe(table, hide_index=True, width="stretch")
if len(set(visits["model_version"].dropna())) > 1:
    st.warning("These visits were analysed by different model versions: compare with care.")
if events:
    st.caption("Treatment events: " + "; ".join(f"{d:%d %b %Y} {text}" for d, text in events))
state.show_notice()
