"""Trends: one patient's counts, lesion area, grade and clinician IGA over visits.

Values, absolute or percent change from a chosen baseline visit, optionally smoothed; treatment
events are drawn as vertical markers. Every number comes from stored analyses (no model runs).
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.flags import QUALITY_FLAG_NOTE
from core.trends import count_noise_threshold, is_meaningful_count_change
from core.words import version_label
from dashboard import display, state
from dashboard.retake import retake_noise
from dashboard.charts import timeline as timeline_charts
from dashboard.charts import trends as trend_charts
from db.errors import PermissionDenied
from db.repository import add_treatment_event


@st.cache_data(show_spinner=False, max_entries=64, ttl=state.CACHE_TTL_S)
def trend_visits(patient_id: int, key: tuple,
                 series: tuple[str, str | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-visit frame of one series (a view or a close-up's body site) and the page's
    table of it, cached as `state.patient_timeline_of` (per account and data version): a
    rerun builds neither."""
    visits = timeline_charts.visit_frame(state.patient_timeline_of(patient_id, key)[0], series)
    return visits, trend_charts.visit_table(visits)


METRIC_LABELS = {"inflammatory": "Inflammatory", "non_inflammatory": "Non-inflammatory",
                 "total": "All lesions"}


def change_metric(row, name: str, visits: pd.DataFrame, baseline: int) -> None:  # noqa: ANN001
    """Latest visit against the baseline, flagged when the change is within counting noise."""
    before, after = int(visits[name].iloc[baseline]), int(visits[name].iloc[-1])
    delta = after - before
    percent = "" if before == 0 else f" ({100.0 * delta / before:+.0f}%)"
    # A metric with its caption, as wide as its words (never cut short).
    cell = row.container(width="content", gap=None)
    cell.metric(
        # No arrow for no change: Streamlit would draw "+0" as a worsening.
        METRIC_LABELS[name], after, f"{delta:+d}{percent}" if delta else None, delta_color="inverse",
        help=f"Latest visit against baseline ({before}). Changes smaller than "
        f"{count_noise_threshold(before):g} lesions are within counting noise.",
        width="content",
    )
    if len(visits) > 1 and not is_meaningful_count_change(before, after):
        cell.caption("Within counting noise: not a real change.")


actor = state.require_actor()
patient = state.require_patient(actor)
st.title(f"Trends of {patient.code}")
state.show_flash()

data_key = state.data_key(actor)
timeline, events = state.patient_timeline_of(patient.id, data_key)
# Front, left, right, and a series of its own for the close-ups of each body site.
analysed_views = timeline_charts.analysed_series(timeline)

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
series = controls[0].radio(
    "View", analysed_views, horizontal=True, key=f"trend_series_{patient.id}",
    format_func=timeline_charts.series_label,
    help="Only photos of one view are compared: other views show other skin, and a close-up "
         "of each body site is a series of its own.",
)
view = timeline_charts.series_label(series)
visits, table = trend_visits(patient.id, data_key, series)
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
    "Smooth", key="trend_smoothing",
    help="The median of 3 visits: counting is noisy, the rolling median shows the direction. "
         "Measured points stay visible.",
)

baseline = trend_charts.baseline_position(visits, baseline_id)
metrics = display.metric_row()
for name in ("inflammatory", "non_inflammatory", "total"):
    change_metric(metrics, name, visits, baseline)

noise = retake_noise()
options = {"mode": mode, "baseline_visit_id": baseline_id, "smoothing": smoothing, "events": events,
           "noise": noise}
TABS = ("Overview", "Inflammatory / non-inflammatory", "By lesion type", "Lesion area",
        "Redness and dark marks", "Grade", "Clinician IGA")
# Only the open tab's chart is built and sent: six charts at once cost the browser seconds.
# Every chart shares the patient's date axis (trend_charts.date_range).
tabs = dict(zip(TABS, st.tabs(TABS, key="trend_tab", on_change="rerun")))
if tabs["Overview"].open:
    with tabs["Overview"]:
        st.plotly_chart(trend_charts.overview_figure(visits, **options), key="chart_overview")
        st.caption("Counts, lesion area and the model's grade on one date axis: a change in "
                   "one lines up with the others and with the treatment events.")
if tabs["Inflammatory / non-inflammatory"].open:
    with tabs["Inflammatory / non-inflammatory"]:
        st.plotly_chart(trend_charts.groups_figure(visits, **options), key="chart_groups")
if tabs["By lesion type"].open:
    with tabs["By lesion type"]:
        st.plotly_chart(trend_charts.kinds_figure(visits, **options), key="chart_kinds")
if tabs["Lesion area"].open:
    with tabs["Lesion area"]:
        st.plotly_chart(trend_charts.area_figure(visits, **options), key="chart_area")
if tabs["Redness and dark marks"].open:
    with tabs["Redness and dark marks"]:
        st.plotly_chart(trend_charts.colour_figure(visits, **options), key="chart_colour")
        st.caption("Skin redder than the patient's own clear skin in the same photo (red area), "
                   "and darker and browner than the skin around it (dark marks), as a share of "
                   "the skin measured. Measured against the patient's own skin, so the camera's "
                   "colour cast largely cancels; not validated against a clinician's grading.")
if tabs["Grade"].open:
    with tabs["Grade"]:
        st.plotly_chart(trend_charts.grade_figure(visits, events=events), key="chart_grade")
        st.caption("The band widens as the model is less sure of its grade (1 - confidence).")
if tabs["Clinician IGA"].open:
    with tabs["Clinician IGA"]:
        if visits["iga"].notna().any():
            st.plotly_chart(
                trend_charts.iga_figure(visits, baseline_visit_id=baseline_id, events=events),
                key="chart_iga",
            )
            st.caption("IGA success: IGA 0 or 1 and at least 2 grades better than at baseline.")
        else:
            st.info("No clinician has recorded an IGA for these visits yet (Review queue).")

flagged = visits["quality_flag"].notna().sum()
if flagged:
    st.warning(f"{QUALITY_FLAG_NOTE} ({flagged} of {len(visits)} visits; the reasons are in "
               "the hover and in the table below.)")
if noise is not None and mode == "value":
    st.caption(f"The shaded band around each count: {trend_charts.RETAKE_BAND}"
               + (" (measured on simulated retakes of the test photos)." if noise.simulated else "."))
# Two narrow tables rather than one too wide for the page (cut on the right at 1280 px).
display.show_table(table, {
    "Visit date": display.day(),
    **{label: display.count() for label in trend_charts.GROUP_COUNTS.values()},
    trend_charts.AREA_COLUMN: display.number(decimals=2, help="Lesion area in % of the facial skin."),
    "Model grade": display.text(help=timeline_charts.HAYASHI_SCALE),
    "Clinician grade": display.text(help="A clinician's override of the model grade."),
    "IGA": display.text(help=timeline_charts.IGA_SCALE),
})
with st.expander("Lesions by type, grade confidence, corrections and quality, per visit"):
    display.show_table(table, {
        "Visit date": display.day(),
        **{label: display.count() for label in trend_charts.TYPE_COUNTS.values()},
        "Confidence": display.percent(help="The model's confidence in its grade."),
        "Corrected": display.text(help="Lesions corrected by a clinician."),
        # Narrow, so the table fits a 1280 px screen; the reasons are in the hover and the
        # warning above.
        "Quality check": display.text("Quality", width="small",
                                      help="Passed or failed: a photo stored although it failed "
                                           "the quality check is drawn hollow on the charts."),
    })
versions = list(dict.fromkeys(visits["model_version"].dropna()))
st.caption("Analysed by the " + "; ".join(version_label(v) for v in versions) + ".")
if len(set(visits["model_version"].dropna())) > 1:
    st.warning("These visits were analysed by different model versions: compare with care.")
if events:
    # Typed by a person: plain text, never markdown (display.plain).
    st.caption("Treatment events: " + "; ".join(f"{d:%d %b %Y} {display.plain(text)}"
                                                for d, text in events))
state.show_notice()
