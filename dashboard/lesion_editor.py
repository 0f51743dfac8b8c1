"""The lesion editor of the visit page: a clinician clicks on the photo to add a lesion, or on a
lesion to remove it or change its type, and may undo the last correction.

Clicks come from streamlit-image-coordinates (a published Streamlit component, MIT): the photo is
sent to the browser at most CLICK_SIDE pixels wide, and the click is mapped back to photo pixels.
Every edit goes through usecases.corrections, which stores it beside the model's analysis.
"""
from __future__ import annotations

import cv2
import numpy as np
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from core.correction import KIND_WORDS, LesionEdit, added_lesion_radius, lesion_name, nearest_lesion
from core.overlay import draw_correction_marks
from core.types import LESION_KINDS
from core.words import plural
from dashboard import state
from db.errors import ConflictError, NotFound, PermissionDenied
from usecases.corrections import PhotoLesions, correct_lesions, undo_correction

CLICK_SIDE = 1200  # the clickable photo's width in the browser's pixels, at most
HINT = ("Click on the photo: on a lesion to remove it or change its type, on skin to add one "
        "the model missed.")


def _click_key(analysis_id: int) -> str:
    # A new analysis after each edit starts with no click: the old one must not act again.
    return f"lesion_click_{analysis_id}"


def clicked_point(width: int, height: int, analysis_id: int) -> tuple[float, float] | None:
    """The last click on the photo of `analysis_id`, in photo pixels (None before any)."""
    value = st.session_state.get(_click_key(analysis_id))
    if not value or not value.get("width") or not value.get("height"):
        return None
    x = float(value["x"]) * width / float(value["width"])
    y = float(value["y"]) * height / float(value["height"])
    return (min(max(x, 0.0), width - 1.0), min(max(y, 0.0), height - 1.0))


def selection(found: PhotoLesions, width: int, height: int) -> tuple[tuple[float, float] | None, int | None]:
    """The clicked point and the lesion it falls on or next to (None when on bare skin)."""
    point = clicked_point(width, height, found.analysis.id)
    if point is None:
        return None, None
    reach = added_lesion_radius(found.analysis.face_box, width, height)
    return point, nearest_lesion(found.lesions, point, max_distance=reach)


def show_clickable_photo(image: np.ndarray, found: PhotoLesions) -> None:
    """The photo with the lesion boxes, the selection and the click, clickable."""
    height, width = image.shape[:2]
    point, selected = selection(found, width, height)
    marked = draw_correction_marks(image, found.lesions, selected=selected, point=point)
    scale = min(1.0, CLICK_SIDE / width)
    if scale < 1.0:
        marked = cv2.resize(marked, (round(width * scale), round(height * scale)),
                            interpolation=cv2.INTER_AREA)
    streamlit_image_coordinates(marked, key=_click_key(found.analysis.id), width="stretch",
                                image_format="JPEG", jpeg_quality=90, cursor="crosshair")


def _apply(actor, found: PhotoLesions, edit: LesionEdit | None) -> None:  # noqa: ANN001
    try:
        if edit is None:
            row = undo_correction(state.get_clinic(), actor, analysis_id=found.analysis.id)
            state.flash(f"Undone: {(row.correction or {}).get('description', 'the last correction')}.")
        else:
            row = correct_lesions(state.get_clinic(), actor, analysis_id=found.analysis.id,
                                  edit=edit, grader=state.get_analyzer().grader)
            state.flash(f"Correction saved: {row.correction['description']}. Now "
                        f"{plural(row.total, 'lesion')}, grade {row.grade_label}.")
    except ConflictError as error:
        st.error(f"{str(error)[0].upper()}{str(error)[1:]}.")
        return
    except (ValueError, NotFound, PermissionDenied) as error:
        st.error(str(error))
        return
    st.rerun()


def show_editor(actor, found: PhotoLesions, width: int, height: int) -> None:  # noqa: ANN001
    """What can be done with the current click: retype or remove the lesion under it, add one."""
    analyzer = state.get_analyzer()
    if analyzer is None or getattr(analyzer, "grader", None) is None:
        st.warning("Lesions can be corrected once the lesion model and its grader are installed: "
                   "the grade is recomputed by the same grader.")
        return
    point, selected = selection(found, width, height)
    key = found.analysis.id
    if point is None:
        st.info(HINT)
    elif selected is not None:
        lesion = found.lesions[selected]
        st.write(f"Selected: {lesion_name(lesion)} (lesion {selected + 1} of {len(found.lesions)})"
                 + (", added by a clinician" if lesion.added_by_clinician else ""))
        others = [kind for kind in LESION_KINDS if kind != lesion.kind or lesion.type_uncertain]
        kind = st.selectbox("Change its type to", others, format_func=KIND_WORDS.get,
                            key=f"retype_kind_{key}")
        left, right = st.columns(2)
        if left.button("Change the type", key=f"retype_{key}"):
            _apply(actor, found, LesionEdit("retype", lesion=selected, kind=kind))
        if right.button("Remove this lesion", key=f"remove_{key}"):
            _apply(actor, found, LesionEdit("remove", lesion=selected))
    else:
        kind = st.selectbox("Type of the lesion to add", LESION_KINDS, format_func=KIND_WORDS.get,
                            key=f"add_kind_{key}")
        if st.button("Add a lesion here", key=f"add_{key}", type="primary"):
            _apply(actor, found, LesionEdit("add", kind=kind, point=point))
    if found.corrected and st.button("Undo the last correction", key=f"undo_{key}"):
        _apply(actor, found, None)
