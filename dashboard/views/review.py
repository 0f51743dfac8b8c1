"""Review queue: a clinician confirms or overrides the model grade and records the IGA (0-4).

The queue holds the latest analysis of every photo nobody has reviewed yet, oldest first,
for the patients the signed-in clinician may see. Model and clinician values stay side by side:
a review adds a row, it never edits the analysis.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.flags import quality_cell, quality_flag
from core.trends import iga_success
from core.types import GRADE_LABELS, Right
from core.words import plural, version_label, view_label
from dashboard import display, photo_viewer, state
from dashboard.charts import timeline as timeline_charts
from db.errors import NotFound, PermissionDenied
from db.repository import (
    add_review,
    get_patient,
    get_photo,
    latest_reviews,
    patient_timeline,
    review_queue_entries,
)

QUEUE_LIMIT = 200  # oldest first: a longer backlog is worked through page by page
LAST_PATIENT = "review_last_patient"


def grade_text(grade: int | None) -> str:
    """An ACNE04 / Hayashi grade in words (no number: IGA's numbers mean other things)."""
    return "-" if grade is None else GRADE_LABELS.get(int(grade), str(grade))


def iga_text(iga: int) -> str:
    return f"IGA {iga} {timeline_charts.IGA_LABELS[iga]}"


def open_lesion_editor(entry) -> None:  # noqa: ANN001 - ReviewQueueEntry
    """The visit page on this photo, with the lesion editor open."""
    state.select_patient(entry.patient_id)
    st.session_state[state.VISIT_KEY] = entry.visit_id
    st.session_state[f"photo_of_visit_{entry.visit_id}"] = entry.photo_id
    st.session_state["correct_lesions"] = True
    st.switch_page("views/visit.py")


def patient_reviews(actor, patient_id: int) -> tuple[str, pd.DataFrame] | None:  # noqa: ANN001
    """The patient's reviewed analyses: model grade next to the clinician's, who, when,
    and IGA success against the first visit's IGA (None when the patient is not visible)."""
    with state.db_session() as session:
        patient = get_patient(session=session, actor=actor, patient_id=patient_id)
        if patient is None:
            return None
        code = patient.code
        timeline = timeline_charts.timeline_frame(
            patient_timeline(session=session, actor=actor, patient_id=patient_id)
        )
        # One query for every review and reviewer, not one per reviewed photo.
        reviews = latest_reviews(session=session, actor=actor, patient_id=patient_id)
    reviewed = timeline[timeline["review_iga"].notna()]
    # Reviews are found by the model's analysis, which a clinician's correction stands in for.
    model_ids = [int(item.analysis_id if pd.isna(item.corrects_id) else item.corrects_id)
                 for item in reviewed.itertuples()]
    rows = [
        (item, reviews[model_id].review, reviews[model_id].reviewer)
        for item, model_id in zip(reviewed.itertuples(), model_ids)
        if model_id in reviews
    ]
    # IGA success is judged against the first visit's IGA (the baseline of a treatment course).
    first_visit = timeline["visit_id"].iloc[0] if not timeline.empty else None
    baseline = timeline.loc[timeline["visit_id"] == first_visit, "review_iga"].dropna()
    baseline_iga = int(baseline.iloc[-1]) if not baseline.empty else None
    table = pd.DataFrame(
        [
            {
                "visit": item.visit_date.date(),
                "view": item.view,
                "model grade": grade_text(item.grade),
                "model confidence": round(100.0 * float(item.grade_confidence)),
                "clinician grade": "confirmed" if review.grade_override is None
                else grade_text(review.grade_override),
                "IGA": review.iga,
                "IGA success": None if baseline_iga is None
                else iga_success(baseline_iga, review.iga),
                "reviewer": name,
                "reviewed": review.created_at,
                "notes": review.notes,
            }
            for item, review, name in rows
        ]
    )
    return code, table


def show_patient_reviews(actor, patient_id: int) -> None:  # noqa: ANN001
    found = patient_reviews(actor, patient_id)
    if found is None:
        return
    code, table = found
    st.subheader(f"Reviews of {code}")
    if table.empty:
        st.caption("No review recorded for this patient yet.")
        return
    display.show_table(table, {
        "visit": display.day("Visit"), "view": display.text("View"),
        "model grade": display.text("Model grade"),
        "model confidence": display.percent("Model confidence"),
        "clinician grade": display.text("Clinician grade"), "IGA": display.count(),
        "IGA success": display.tick(), "reviewer": display.text("Reviewer"),
        "reviewed": display.moment("Reviewed (UTC)"), "notes": display.text("Notes"),
    })
    if table["IGA success"].isna().all():
        st.caption("IGA success needs an IGA at the first visit (the baseline).")
    else:
        st.caption("IGA success: IGA 0 or 1 and at least 2 grades better than at the first visit.")


actor = state.require_actor(Right.RECORD)
st.title("Review queue")
state.show_flash()

with state.db_session() as session:
    entries = review_queue_entries(session=session, actor=actor, limit=QUEUE_LIMIT)

if not entries:
    st.success("Nothing to review: every latest analysis has a clinician review.")
    if LAST_PATIENT in st.session_state:
        show_patient_reviews(actor, st.session_state[LAST_PATIENT])
    st.stop()

waiting = plural(len(entries), "analysis") + (" awaits" if len(entries) == 1 else " await")
st.caption(f"{waiting} review, oldest first"
           + (f" (the first {QUEUE_LIMIT} are listed)." if len(entries) == QUEUE_LIMIT else "."))
by_id = {entry.analysis.id: entry for entry in entries}
display.show_table(
    pd.DataFrame(
        [
            {
                "patient": e.patient_code,
                "visit": e.visit_date,
                "model grade": grade_text(e.analysis.grade),
                "confidence": round(100.0 * e.analysis.grade_confidence),
                "inflammatory": e.analysis.inflammatory,
                "total": e.analysis.total,
                "view": view_label(e.view, e.body_site),
                # A photo stored although it failed the quality check says so, with why.
                "quality": quality_cell(e.analysis.quality_passed, e.analysis.quality_reasons),
                "analysed": e.analysis.created_at,
            }
            for e in entries
        ]
    ),
    {"patient": display.text("Patient"), "visit": display.day("Visit"),
     "model grade": display.text("Model grade"), "confidence": display.percent("Confidence"),
     "inflammatory": display.count("Inflammatory"), "total": display.count("All lesions"),
     "view": display.text("View"), "quality": display.text("Quality check"),
     "analysed": display.moment("Analysed (UTC)")},
)
analysis_id = st.selectbox(
    "Analysis to review", list(by_id), key="review_pick",
    format_func=lambda i: f"{by_id[i].patient_code}, visit {by_id[i].visit_date:%d %b %Y}, "
    f"{view_label(by_id[i].view, by_id[i].body_site)}, analysed "
    f"{by_id[i].analysis.created_at:%d %b %Y %H:%M}"
    + (" (failed the quality check)" if quality_flag(by_id[i].analysis.quality_passed) else ""),
)
entry = by_id[analysis_id]
analysis = entry.analysis

with state.db_session() as session:
    photo = get_photo(session=session, actor=actor, photo_id=entry.photo_id)

left, right = st.columns([3, 2])
with left:
    side = photo_viewer.load_side(actor, photo, analysis) if photo is not None else None
    if side is None:
        st.error("The stored photo file cannot be read. Run the integrity check.")
    else:
        st.caption(f"{entry.patient_code}, {photo.view} view")
        photo_viewer.show_photo(side, key="review")
        if st.button("Correct the lesions on this photo", key=f"correct_{analysis.id}",
                     help="Opens the visit page with the lesion editor: add a lesion the model "
                          "missed, remove one it found by mistake, or change its type."):
            open_lesion_editor(entry)
with right:
    st.subheader("Model")
    row = display.metric_row()  # as wide as their words, wrapping: never cut short
    display.metric(row, "Inflammatory", analysis.inflammatory,
                   help="Papules + pustules + nodules/cysts.")
    display.metric(row, "Non-inflammatory", analysis.non_inflammatory, help="Comedones.")
    display.metric(row, "Nodules/cysts", analysis.nodule, help="Also counted as inflammatory.")
    display.metric(row, "Model grade (ACNE04 / Hayashi)", grade_text(analysis.grade),
                   help=f"Confidence {analysis.grade_confidence:.0%}")
    st.caption(f"Analysed {analysis.created_at:%d %b %Y %H:%M} UTC by the {version_label(analysis.model_version)}.")
    if analysis.corrects_id is not None:
        st.info("Clinician-corrected: these counts are the lesions as a clinician corrected them.")
    flag = quality_flag(analysis.quality_passed, analysis.quality_reasons)
    if flag:
        st.warning(f"{flag}. Review these numbers with care.")
    state.show_notice()

    st.subheader("Clinician")
    st.caption(f"{timeline_charts.HAYASHI_SCALE}.  \n{timeline_charts.IGA_SCALE}.  \n"
               f"{timeline_charts.SCALE_MAPPING}")
    with st.form(f"review_{analysis.id}", clear_on_submit=True):
        decision = st.radio(
            "Grade", ("confirm", "override"), horizontal=True,
            format_func=lambda d: f"Confirm the model grade ({grade_text(analysis.grade)})"
            if d == "confirm" else "Override",
        )
        override = st.selectbox("Corrected grade (when overriding)", list(GRADE_LABELS),
                                format_func=grade_text, index=int(analysis.grade))
        iga = st.selectbox("IGA (Investigator's Global Assessment)",
                           list(timeline_charts.IGA_LABELS),
                           index=None, format_func=iga_text,
                           placeholder="Choose 0-4")
        notes = st.text_area("Notes")
        if st.form_submit_button("Save review"):
            if iga is None:
                st.error("Choose the IGA (0-4) before saving.")
            else:
                try:
                    with state.db_session() as session:
                        add_review(session=session, actor=actor, analysis_id=analysis.id, iga=iga,
                                   grade_override=int(override) if decision == "override" else None,
                                   notes=notes)
                except (PermissionDenied, NotFound, ValueError) as error:
                    st.error(str(error))
                else:
                    st.session_state[LAST_PATIENT] = entry.patient_id
                    state.flash(f"Review of {entry.patient_code} ({entry.visit_date:%d %b %Y}) saved.")
                    st.rerun()

show_patient_reviews(actor, entry.patient_id)
if st.session_state.get(LAST_PATIENT, entry.patient_id) != entry.patient_id:
    show_patient_reviews(actor, st.session_state[LAST_PATIENT])
