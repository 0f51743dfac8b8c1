"""Reports: one patient's PDF (core.report.build_patient_report) for the patient file.

Baseline and latest photo warped into the same face frame with their lesion overlays, the
count trend, the table of visits, the model version and the "not a diagnosis" notice. The PDF
is built on request (not on every rerun); downloading it is recorded in the audit trail.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from core.flags import quality_flag, quality_problems
from core.report import PatientReport, ReportVisit, build_patient_report
from core.types import GRADE_LABELS
from core.words import plural
from dashboard import state
from dashboard.charts import timeline as timeline_charts
from db.repository import (
    patient_timeline,
    record_audit,
)
from usecases.reports import report_picture

REPORT_KEY = "report_pdf"



def _percent(fraction: object) -> float | None:
    """A share as a percent with one decimal; None when not measured."""
    value = timeline_charts.none_if_missing(fraction)
    return None if value is None else round(100.0 * float(value), 1)

def audit_export(actor_id: int, patient_id: int, visits: int) -> None:
    """Called when the PDF is downloaded (no names or photo bytes in the audit detail)."""
    with state.db_session() as session:
        record_audit(session=session, actor_id=actor_id, action="export", target_type="patient",
                     target_id=patient_id, detail=f"PDF report, {plural(visits, 'visit')}")


def report_visits(visits: pd.DataFrame) -> tuple[ReportVisit, ...]:
    """The visit table: counts, area in percent, grade in words (the clinician's override when
    given; no number, which would read like IGA's), and why a photo stored although it failed
    the quality check failed it."""
    rows = []
    for row in visits.itertuples():
        override = timeline_charts.none_if_missing(row.review_grade_override)
        grade = int(override if override is not None else row.grade)
        rows.append(
            ReportVisit(
                visit_date=row.visit_date.date(),
                total=int(row.total),
                inflammatory=int(row.inflammatory),
                nodule=int(row.nodule),
                non_inflammatory=int(row.non_inflammatory),
                area_percent=round(100.0 * float(row.lesion_area_fraction), 2),
                red_percent=_percent(getattr(row, "red_area_fraction", None)),
                dark_percent=_percent(getattr(row, "dark_area_fraction", None)),
                grade=GRADE_LABELS[grade] + (" (clinician)" if override is not None else ""),
                iga=None if timeline_charts.none_if_missing(row.iga) is None else int(row.iga),
                corrected=timeline_charts.none_if_missing(row.corrects_id) is not None,
                quality_problem=quality_problems(row.quality_reasons)
                if quality_flag(row.quality_passed, row.quality_reasons) else None,
            )
        )
    return tuple(rows)


def build(actor, patient, visits: pd.DataFrame, include_name: bool,  # noqa: ANN001
          view: str | None = None) -> bytes:
    """The PDF bytes for this patient and these visits."""
    first = last = None
    if not visits.empty:
        # A researcher's pictures come de-identified (usecases.photos.load_photo_for).
        first = report_picture(state.get_clinic(), actor, photo_id=int(visits["photo_id"].iloc[0]),
                               analysis_id=int(visits["analysis_id"].iloc[0]))
        if len(visits) > 1:  # one visit: the baseline is the only picture
            last = report_picture(state.get_clinic(), actor, photo_id=int(visits["photo_id"].iloc[-1]),
                                  analysis_id=int(visits["analysis_id"].iloc[-1]))
    shown = [first, last]
    notes = [picture.research_note for picture in shown if picture and picture.research_note]
    versions = list(dict.fromkeys(visits["model_version"].dropna())) if not visits.empty else []
    report = PatientReport(
        patient_code=patient.code,
        model_version=", ".join(versions),  # in words in the PDF (core.report.model_words)
        generated_at=datetime.now(timezone.utc),
        generated_by=actor.full_name or actor.username,
        name=patient.name if include_name else None,
        consent_date=patient.consent_date,
        baseline_overlay=first.image if first else None,
        latest_overlay=last.image if last else None,
        visits=report_visits(visits),
        photo_note=" ".join(dict.fromkeys(notes)) or None,
        view=view,
    )
    return build_patient_report(report)


actor = state.require_actor()
patient = state.require_patient(actor)
st.title(f"Report for {patient.code}")

with state.db_session() as session:
    timeline = timeline_charts.timeline_frame(
        patient_timeline(session=session, actor=actor, patient_id=patient.id)
    )
# Front, left, right, and a series of its own for the close-ups of each body site.
analysed = timeline_charts.analysed_series(timeline)
series = st.radio("View", analysed or [("front", None)], horizontal=True,
                  key=f"report_series_{patient.id}", format_func=timeline_charts.series_label,
                  help="The report follows one view: other views show other skin.")
view = timeline_charts.series_label(series)
visits = timeline_charts.visit_frame(timeline, series)
if visits.empty:
    st.info("No analysed photo yet: the report will say so and show no trend.")
else:
    first, last = visits["visit_date"].iloc[0], visits["visit_date"].iloc[-1]
    st.write(f"{plural(len(visits), 'analysed visit')}, " + (
        f"{first:%d %b %Y} to {last:%d %b %Y}." if len(visits) > 1 else f"{first:%d %b %Y}."))
include_name = st.checkbox("Include the patient's name", value=False,
                           disabled=not patient.name,
                           help="Off by default: the pseudonymous code identifies the report.")

if st.button("Prepare the PDF report", key="prepare_report", type="primary"):
    with st.spinner("Building the report ..."):
        pdf = build(actor, patient, visits, include_name, view if not visits.empty else None)
    st.session_state[REPORT_KEY] = {"patient_id": patient.id, "pdf": pdf, "visits": len(visits),
                                    "view": view}

prepared = st.session_state.get(REPORT_KEY)
# A report prepared for another patient is never offered here.
if prepared and prepared["patient_id"] == patient.id:
    st.download_button(
        "Download the PDF report", prepared["pdf"],
        file_name=f"acne_report_{patient.code}_{datetime.now(timezone.utc):%Y%m%d}.pdf",
        mime="application/pdf", key="download_report", on_click=audit_export,
        args=(actor.id, patient.id, prepared["visits"]),
    )
    st.caption(f"{len(prepared['pdf']) / 1024:.0f} KB, {plural(prepared['visits'], 'visit')} "
               f"({prepared['view']} view).")
state.show_notice()
