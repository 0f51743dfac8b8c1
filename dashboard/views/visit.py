"""One visit: its photos in the photo viewer (dashboard.photo_viewer) and the stored analysis results.

Everything shown comes from stored rows and mask files: a view never re-runs the model, except
when the user asks for a re-analysis, which adds a new analysis and keeps the old ones.
"""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import streamlit as st

from core.flags import face_state
from core.correction import plain_description
from core.overlay import legend_items
from core.types import GRADE_LABELS
from core.words import CLOSE_UP_NOTE, UNUSUAL_PHOTO_WARNING, version_label, view_label
from dashboard import display, photo_viewer, query, state
from dashboard.charts import timeline as timeline_charts
from dashboard.lesion_editor import show_clickable_photo, show_editor
from db.errors import NotFound, PermissionDenied
from db.repository import (
    get_account,
    latest_analysis,
    list_analyses,
    list_photos,
    list_reviews,
    list_visits,
    record_audit,
)
from usecases.corrections import analysis_lesions
from usecases.photos import StoredPhotoError, load_photo_for, reanalyse_photo

UNCERTAIN_TYPE_HELP = ("Inflammatory lesions the model could not type with confidence (papule, "
                       "pustule or nodule/cyst): shown so rather than as a type that is likely wrong.")


def grade_text(analysis) -> str:  # noqa: ANN001 - db.models.Analysis
    """'clear' when no lesion was found, otherwise the grade in words (its confidence is
    shown beside it: together they are too long for a metric)."""
    if analysis.total == 0:
        return "clear"
    return analysis.grade_label or GRADE_LABELS.get(analysis.grade, str(analysis.grade))


def show_not_assessable(analysis) -> None:  # noqa: ANN001
    """What a photo that cannot be assessed shows instead of numbers."""
    reasons = " ".join(analysis.not_assessable_reasons or []) or "No reason was recorded."
    st.warning(f"Not assessable: {reasons}")
    st.caption("This photo is kept in the visit for the record only: no lesion count or grade "
               "is made from it, and it is left out of trends, comparisons and studies. "
               f"Analysed {analysis.created_at:%d %b %Y %H:%M} UTC by the "
               f"{version_label(analysis.model_version)}.")


def show_results(analysis, actor) -> None:  # noqa: ANN001
    """Counts, grade, area, regions, GAGS, quality and model version of one stored analysis."""
    if not analysis.assessable:
        show_not_assessable(analysis)
        return
    # Metrics as wide as their words, wrapping where the column is narrow: never cut short.
    row = display.metric_row()
    display.metric(row, "Inflammatory", analysis.inflammatory,
                   help="Papules + pustules + nodules/cysts, with those of uncertain type.")
    display.metric(row, "Non-inflammatory", analysis.non_inflammatory, help="Comedones.")
    display.metric(row, "Total", analysis.total, help="All lesions found.")
    display.metric(row, "Lesion area", f"{100 * analysis.lesion_area_fraction:.2f}%",
                   help="Lesion pixels as a share of the facial skin pixels (% of facial skin).")
    row = display.metric_row()
    for name, label in timeline_charts.TYPE_LABELS.items():
        uncertain = name == "inflammatory_type_uncertain"
        display.metric(row, "Uncertain type" if uncertain else label, getattr(analysis, name),
                       help=UNCERTAIN_TYPE_HELP if uncertain else None)
    row = display.metric_row()
    display.metric(row, "Grade (ACNE04 / Hayashi)", grade_text(analysis),
                   help=timeline_charts.HAYASHI_SCALE + ".")
    if analysis.face_found:  # GAGS needs a face (CLOSE_UP_NOTE below says so in words)
        display.metric(row, "GAGS estimate", "—" if analysis.gags_estimate is None
                       else analysis.gags_estimate,
                       help="Global Acne Grading System score estimated from the lesions per region.")
    # One source with the Compare page (core.flags): a face found too roughly to register.
    display.metric(row, "Face found", face_state(analysis.face_found, analysis.alignment is not None))
    if analysis.total:
        st.caption(f"Model confidence in the grade: {analysis.grade_confidence:.0%}.")
    if not analysis.face_found:
        st.info(CLOSE_UP_NOTE)  # what needs a face, said in words rather than blanks
    if analysis.unusual:
        st.warning(UNUSUAL_PHOTO_WARNING)
    if analysis.quality_passed:
        st.success("Photo quality checks passed.")
    else:
        reasons = " ".join(analysis.quality_reasons or []) or "No reason was recorded."
        st.warning(f"Photo quality problems: {reasons} Compare these results with care.")
    if analysis.region_counts:
        table = timeline_charts.region_table(analysis.region_counts)
        display.show_table(table, {"region": display.text("Region"),
                                   **{label: display.count() for label in table.columns[1:]}})
    elif analysis.face_found and analysis.alignment is None:
        st.caption("No lesions by region: regions need a face that can be registered, and this "
                   "face was found only roughly.")
    st.caption(f"Analysed {analysis.created_at:%d %b %Y %H:%M} UTC by the {version_label(analysis.model_version)}.")
    with state.db_session() as session:
        reviews = list_reviews(session=session, actor=actor, analysis_id=analysis.id)
        review_rows = [
            {"when": r.created_at, "IGA": r.iga,
             "grade": "model grade confirmed" if r.grade_override is None
             else GRADE_LABELS.get(r.grade_override, r.grade_override),
             "notes": r.notes}
            for r in reviews
        ]
    if review_rows:
        st.write("Clinician reviews")
        display.show_table(pd.DataFrame(review_rows), {
            "when": display.moment("Reviewed (UTC)"), "IGA": display.count(),
            "grade": display.text("Grade"), "notes": display.text("Notes")})


CORRECTION_STATUS_HELP = ("In use: the numbers shown count it. Undone: taken back, kept for the "
                          "record. Replaced: a later correction of the same photo is in use.")


def correction_status(correction, current_id: int | None) -> str:  # noqa: ANN001 - db row
    if correction.withdrawn_at is not None:
        return "undone"
    return "in use" if correction.id == current_id else "replaced by a later correction"


def show_correction_state(analysis, corrections) -> None:  # noqa: ANN001 - db.models rows
    """'Clinician-corrected' with every correction made so far, undone ones included, in full
    (issue 26): what was done in words, when, what it left and whether it is in use."""
    if analysis.corrects_id is not None:
        st.info("Clinician-corrected: the numbers below count the lesions as a clinician "
                "corrected them, with the grade recomputed by the same grader. The model's own "
                "result is kept.")
    if corrections:
        st.write(f"Lesion corrections ({len(corrections)}, undone ones included)")
        display.show_table(pd.DataFrame([
            {"when": c.created_at,
             "correction": plain_description((c.correction or {}).get("description")),
             "lesions after": c.total, "grade after": c.grade_label,
             "status": correction_status(c, analysis.id)}
            for c in corrections
        ]), {"when": display.moment("When (UTC)"), "correction": display.text("Correction"),
             "lesions after": display.count("Lesions after"),
             "grade after": display.text("Grade after"),
             "status": display.text("Status", help=CORRECTION_STATUS_HELP)})


def reanalyse(photo, actor) -> None:  # noqa: ANN001
    with st.spinner("Analysing with the installed model ..."):
        row = reanalyse_photo(state.get_clinic(), actor, photo_id=photo.id,
                              analyzer=state.get_analyzer())
    state.flash(f"Re-analysed with the {version_label(row.model_version)}; earlier analyses are kept.")


@st.cache_data(show_spinner=False, max_entries=32, ttl=state.CACHE_TTL_S)
def visit_list(patient_id: int, key: tuple) -> list[SimpleNamespace]:
    """The patient's visits (id, visit_date, treatment_notes) as the account of `key`
    (`state.data_key`: the account and the data version, which every change moves) may see
    them: a patient with 1,000 visits cost a third of a second of row objects per rerun."""
    with state.db_session() as session:
        account = get_account(session=session, account_id=key[0])
        if account is None:
            return []
        return [SimpleNamespace(id=v.id, visit_date=v.visit_date,
                                treatment_notes=v.treatment_notes)
                for v in list_visits(session=session, actor=account, patient_id=patient_id)]


actor = state.require_actor()
patient = state.require_patient(actor)
st.title(f"Visits of {patient.code}")
state.show_flash()

visits = visit_list(patient.id, state.data_key(actor))
if not visits:
    st.info("No visit recorded for this patient yet.")
    st.stop()

by_id = {v.id: v for v in visits}
requested = query.require_id("visit")  # a value that cannot be an id: "No such patient or no access."
if requested is not None:
    st.session_state[state.VISIT_KEY] = requested
if st.session_state.get(state.VISIT_KEY) not in by_id:
    # Only this patient's visits (as the repository returned them) can be shown.
    st.session_state[state.VISIT_KEY] = visits[-1].id
st.session_state["visit_picker"] = st.session_state[state.VISIT_KEY]
# A researcher reads the visit's rank and study day only, never a date (issue 24).
study_days = {v.id: (rank, (v.visit_date - visits[0].visit_date).days)
              for rank, v in enumerate(visits, start=1)}
# The visits of each day, grouped once (per label it cost a pass over every visit: a second
# for a patient with 1,000 visits).
visits_of_day: dict = {}
for v in visits:
    visits_of_day.setdefault(v.visit_date, []).append(v.id)


def _visit_label(i: int) -> str:
    if state.hides_identity(actor):
        rank, day = study_days[i]
        return f"visit {rank} of {len(visits)}, study day {day}"
    # By its date in words; a second visit on the same day says so (never an id, issue 26).
    same_day = visits_of_day[by_id[i].visit_date]
    label = f"{by_id[i].visit_date:%d %b %Y}"
    if len(same_day) > 1:
        label += f", visit {same_day.index(i) + 1} of {len(same_day)} that day"
    return label


visit_id = st.selectbox(
    "Visit", list(by_id), format_func=_visit_label,
    key="visit_picker",
    on_change=lambda: st.session_state.update({state.VISIT_KEY: st.session_state["visit_picker"]}),
)
visit = by_id[visit_id]
if visit.treatment_notes:
    display.show_text(st, visit.treatment_notes, "Treatment notes: ")  # plain text, never markdown

viewed = st.session_state.setdefault("audited_visits", set())
if visit.id not in viewed:
    with state.db_session() as session:
        record_audit(session=session, actor_id=actor.id, action="view", target_type="visit",
                     target_id=visit.id)
    viewed.add(visit.id)

with state.db_session() as session:
    photos = list_photos(session=session, actor=actor, visit_id=visit.id)
if not photos:
    st.info("This visit has no photo.")
    st.stop()

photo_ids = {p.id: p for p in photos}
# A file name may carry a person's name: researchers see the photo's number instead.
names = {i: f"photo {n} of {len(photos)}" if state.hides_identity(actor) else p.filename
         for n, (i, p) in enumerate(photo_ids.items(), start=1)}
photo_id = st.radio(
    "Photo", list(photo_ids), horizontal=True, key=f"photo_of_visit_{visit.id}",
    format_func=lambda i: f"{view_label(photo_ids[i].view, photo_ids[i].body_site)} — {names[i]}",
)
photo = photo_ids[photo_id]
with state.db_session() as session:
    analysis = latest_analysis(session=session, actor=actor, photo_id=photo.id)
    history = list_analyses(session=session, actor=actor, photo_id=photo.id)
    corrections = [a for a in history if a.corrects_id is not None]
    history = [a for a in history if a.corrects_id is None]
    history_rows = [
        {"analysed": a.created_at, "model version": version_label(a.model_version),
         "total": a.total if a.assessable else None,
         "inflammatory": a.inflammatory if a.assessable else None,
         "grade": a.grade_label if a.assessable else "not assessable"}
        for a in history
    ]

try:
    # Not cached on purpose: a deleted patient's photo must not live on in a cache.
    # De-identified for a researcher (eyes and mouth masked), as taken for others.
    stored = load_photo_for(state.get_clinic(), actor, photo, analysis)
except StoredPhotoError as error:
    st.error(str(error))
    st.stop()

correctable = analysis is not None and analysis.assessable and state.can_edit(actor)
left, right = st.columns([3, 2])
with left:
    editing = correctable and st.toggle(
        "Correct the lesions", key="correct_lesions",
        help="Add a lesion the model missed, remove one it found by mistake, or change its type. "
             "Each correction is kept beside the model's own result and can be undone.")
    found = analysis_lesions(state.get_clinic(), actor, analysis.id) if editing else None
    if found is not None:
        show_clickable_photo(stored.image, found)
        st.markdown(" ".join(
            f"<span style='color:{item.hex}'>■</span> {item.label}" for item in legend_items()
        ), unsafe_allow_html=True)
    else:
        photo_viewer.show_photo(photo_viewer.load_side(actor, photo, analysis, stored), key="visit")
    details = [f"{names[photo.id]} ({photo.width} x {photo.height} pixels)",
               f"view {view_label(photo.view, photo.body_site)}"]
    # Never blank: a photo with no date of its own is taken as of the visit.
    details.append(f"taken {photo.captured_at:%d %b %Y}" if photo.captured_at
                   else f"taken {visit.visit_date:%d %b %Y} (the visit date)")
    if photo.makeup is not None:
        details.append("make-up" if photo.makeup else "no make-up")
    if photo.lighting:
        details.append(f"lighting: {photo.lighting}")
    if photo.device:
        details.append(f"device: {photo.device}")
    if state.hides_identity(actor):
        # No capture date, camera or file details for research (issue 24): rank and study day.
        rank, day = study_days[visit.id]
        details = [f"visit {rank} of {len(visits)}", f"study day {day}",
                   f"view {view_label(photo.view, photo.body_site)}"]
    st.caption(display.plain(", ".join(details)))  # the camera's words are not markdown

with right:
    if found is not None:
        show_editor(actor, found, photo.width, photo.height)
    if analysis is None:
        st.info("This photo has no analysis.")
    else:
        show_correction_state(analysis, corrections)
        show_results(analysis, actor)
    state.show_notice()
    if len(history_rows) > 1:
        st.write("Analysis history (re-analysis adds a row, it never overwrites)")
        display.show_table(pd.DataFrame(history_rows), {
            "analysed": display.moment("Analysed (UTC)"), "model version": display.text("Model version"),
            "total": display.count("Lesions"), "inflammatory": display.count("Inflammatory"),
            "grade": display.text("Grade")})
    if state.can_edit(actor):
        if state.get_analyzer() is None:
            state.show_no_model_warning()
        elif st.button("Re-analyse with the installed model", key=f"reanalyse_{photo.id}",
                       help=None if analysis is None or analysis.corrects_id is None else
                       "The new analysis replaces the clinician-corrected lesions in the numbers; "
                       "the corrections stay in the history."):
            try:
                reanalyse(photo, actor)
            except (PermissionDenied, NotFound, StoredPhotoError) as error:
                st.error(str(error))
            else:
                st.rerun()
