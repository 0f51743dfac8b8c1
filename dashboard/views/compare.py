"""Compare two visits of one patient: registered photos side by side, a before/after slider,
counts with their change, and which lesions are new, resolved or persisting.

Both photos are warped into the canonical face frame with the alignment stored by their
analyses, so the same skin lands on the same pixels; nothing is re-analysed here.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.alignment import warp_to_canonical
from core.change import MATCH_DISTANCE_IOD, compare_lesions
from core.flags import face_sentence, quality_flag
from core.overlay import blend, draw_boxes, legend_items, overlay_kinds
from core.trends import RETAKE_COUNT_NOUNS, count_noise_threshold, retake_change_sentence
from core.words import version_label
from dashboard import photo_viewer, state
from dashboard.charts import colour_layers
from dashboard.charts import compare as compare_charts
from dashboard.charts import timeline as timeline_charts
from dashboard.retake import retake_noise
from db.repository import (
    get_analysis,
    get_photo,
)

OVERLAYS = ("lesion types", "boxes", "none")


def load_side(actor, photo_id: int, analysis_id: int) -> photo_viewer.ViewerSide | None:  # noqa: ANN001
    """One visit's photo, masks, analysis and lesions, or None when unreadable."""
    with state.db_session() as session:
        photo = get_photo(session=session, actor=actor, photo_id=photo_id)
        analysis = get_analysis(session=session, actor=actor, analysis_id=analysis_id)
    if photo is None or analysis is None:
        return None
    return photo_viewer.load_side(actor, photo, analysis)


def drawn(image: np.ndarray, lesions, kind_mask, overlay: str) -> np.ndarray:  # noqa: ANN001
    if overlay == "lesion types" and kind_mask is not None:
        return overlay_kinds(image, kind_mask)
    if overlay == "boxes":
        return draw_boxes(image, lesions)
    return image


actor = state.require_actor()
patient = state.require_patient(actor)
st.title(f"Compare visits of {patient.code}")

# Cached per account and data version (a rerun reads no row); photos are never cached.
timeline = state.patient_timeline_of(patient.id, state.data_key(actor))[0]
# Front, left, right, and a series of its own for the close-ups of each body site.
analysed = timeline_charts.analysed_series(timeline)
if not analysed:
    st.info("No analysed photo yet for this patient: a comparison needs two analysed visits.")
    st.stop()

controls = st.columns(3)
series = controls[0].radio("View", analysed, horizontal=True, key=f"compare_series_{patient.id}",
                           format_func=timeline_charts.series_label)
view = timeline_charts.series_label(series)
visits = timeline_charts.visit_frame(timeline, series)
if len(visits) < 2:
    st.info(f"Only one visit has an analysed {view} photo: a comparison needs two.")
    st.stop()
ids = visits["visit_id"].tolist()
dates = dict(zip(ids, visits["visit_date"]))


def label(visit_id: int) -> str:
    return f"{dates[visit_id]:%d %b %Y}"


before_id = controls[1].selectbox("Before", ids, index=0, format_func=label,
                                  key=f"compare_before_{patient.id}_{view}")
after_id = controls[2].selectbox("After", ids, index=len(ids) - 1, format_func=label,
                                 key=f"compare_after_{patient.id}_{view}")
if before_id == after_id:
    st.info("Choose two different visits.")
    st.stop()

rows = visits.set_index("visit_id")
sides = [
    load_side(actor, int(rows.at[visit_id, "photo_id"]), int(rows.at[visit_id, "analysis_id"]))
    for visit_id in (before_id, after_id)
]
if any(side is None for side in sides):
    st.error("A stored photo or mask file cannot be read. Run the integrity check.")
    st.stop()
image_a, analysis_a, lesions_a, mask_a = (sides[0].stored.image, sides[0].analysis,
                                        list(sides[0].lesions), sides[0].stored.kind_mask)
image_b, analysis_b, lesions_b, mask_b = (sides[1].stored.image, sides[1].analysis,
                                        list(sides[1].lesions), sides[1].stored.kind_mask)
aligned = analysis_a.alignment is not None and analysis_b.alignment is not None
# The photos' positions are "earlier" and "later": "left" and "right" name views here.
caption = f"Earlier: {label(before_id)}; later: {label(after_id)}"

for visit_id, analysis in ((before_id, analysis_a), (after_id, analysis_b)):
    flag = quality_flag(analysis.quality_passed, analysis.quality_reasons)
    if flag:
        st.warning(f"The photo of {label(visit_id)}: {flag}. Compare its numbers with care.")
if not aligned and series[0] == timeline_charts.CLOSE_UP:
    st.info("Close-ups have no face to register them on: the photos are shown as taken, so "
            "positions do not correspond.")
elif not aligned:
    # The same facts, in the same words, as the Visit page's "Face found" (core.flags).
    reasons = [face_sentence(analysis.face_found, analysis.alignment is not None,
                             f"the photo of {label(visit_id)}")
               for visit_id, analysis in ((before_id, analysis_a), (after_id, analysis_b))]
    st.warning("; ".join(r for r in reasons if r) + ". So the photos are shown as taken "
               "(not registered): positions do not correspond.")
photo_viewer.show_pair(
    sides[0], sides[1], key="compare", aligned=aligned,
    titles=tuple(f"{when}, {label(visit_id)}: {photo_viewer.grade_title(side.analysis)}"
                 for when, visit_id, side in zip(("Earlier", "Later"), (before_id, after_id), sides)),
)
st.caption(caption + (", registered on the face" if aligned else ""))

if aligned:
    overlay = st.radio("Overlay", OVERLAYS, key="compare_overlay", horizontal=True)
    shown_a = drawn(image_a, lesions_a, mask_a, overlay)
    shown_b = drawn(image_b, lesions_b, mask_b, overlay)
    if overlay != "none":
        st.markdown(" ".join(f"<span style='color:{i.hex}'>■</span> {i.label}"
                             for i in legend_items()), unsafe_allow_html=True)
    t = st.slider("Before → after", 0.0, 1.0, 0.5, 0.05, key="compare_blend",
                  help="Cross-fades the registered photos: 0 shows before, 1 shows after.")
    st.image(blend(warp_to_canonical(shown_a, analysis_a.alignment),
                   warp_to_canonical(shown_b, analysis_b.alignment), t),
             caption=f"{t:.0%} of the way from {label(before_id)} to {label(after_id)}")

st.subheader("Counts")
table = compare_charts.count_change_table(analysis_a, analysis_b)
st.dataframe(compare_charts.styled_count_change(table), hide_index=True, width="stretch")
st.caption(
    "A change counts as real only beyond counting noise: at least "
    f"{count_noise_threshold(analysis_a.inflammatory):g} inflammatory lesions here "
    "(2 lesions, or 20% of the earlier count when that is more)."
)
noise = retake_noise()
if noise is not None:
    # Whether each change is larger than a retaken photo makes (core.retake_noise), in words.
    st.markdown("\n".join(
        f"- {retake_change_sentence(name, int(getattr(analysis_a, name)), int(getattr(analysis_b, name)), noise)}"
        for name in RETAKE_COUNT_NOUNS))
    if noise.simulated:
        st.caption("How much a retaken photo changes was measured on simulated retakes of test "
                   "photos, not on real retakes yet.")
colour_table = colour_layers.colour_change_table(analysis_a, analysis_b)
if colour_table is not None:
    st.subheader("Redness and dark marks")
    st.dataframe(colour_table, hide_index=True, width="stretch")
    st.caption(colour_layers.CHANGE_NOTE)
if analysis_a.model_version != analysis_b.model_version:
    st.warning(f"Different models ({version_label(analysis_a.model_version)} / "
               f"{version_label(analysis_b.model_version)}): part of the change may come from the model.")

st.subheader("Lesion by lesion")
if not aligned:
    st.info("Matching lesions across visits needs the face found on both photos.")
else:
    change = compare_lesions(lesions_a, analysis_a.alignment, lesions_b, analysis_b.alignment)
    counts = st.columns(3)
    counts[0].metric("New", len(change.new))
    counts[1].metric("Resolved", len(change.resolved))
    counts[2].metric("Persisting", len(change.persisting))
    boxes = compare_charts.change_boxes(change, lesions_a, analysis_a.alignment,
                                lesions_b, analysis_b.alignment)
    st.plotly_chart(
        compare_charts.lesion_change_figure(
            warp_to_canonical(image_a, analysis_a.alignment),
            warp_to_canonical(image_b, analysis_b.alignment),
            boxes, titles=(label(before_id), label(after_id)),
        ),
        key="lesion_change",
    )
    st.caption(f"Lesions are matched one to one by position on the registered face; a lesion "
               f"more than {MATCH_DISTANCE_IOD:.0%} of the eye distance away from any earlier one "
               f"counts as new (and the earlier one as resolved).")
state.show_notice()
