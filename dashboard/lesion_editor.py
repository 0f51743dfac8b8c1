"""The lesion editor of the visit page: a clinician clicks on the photo to add a lesion, or on a
lesion to remove it or change its type, and may undo the last correction.

Clicks come from streamlit-image-coordinates (a published Streamlit component, MIT). The editor
zooms as the viewer does (issue 26: a 12 MP photo shown 580 px wide could not be edited): it
shows a part of the photo (`editor_window`: the face at 1x, then 2x, 4x or 8x closer around the
last click) at most CLICK_SIDE pixels wide, and maps each click back to photo pixels through
the part that was shown when it was made (the part is in the click's widget key, so a click
never moves when the zoom changes). A click selects a lesion only inside its own outline (its
box plus the viewer's ring pad, core.correction.lesion_at); anywhere else it offers "Add".
Every edit goes through usecases.corrections, which stores it beside the model's analysis.
"""
from __future__ import annotations

import cv2
import numpy as np
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from core.correction import KIND_WORDS, LesionEdit, lesion_at, lesion_name, plain_description
from core.overlay import draw_correction_marks, face_crop_box, ring_pad
from core.types import LESION_KINDS, Box, Lesion
from core.words import plural
from dashboard import state
from db.errors import ConflictError, NotFound, PermissionDenied
from usecases.corrections import PhotoLesions, correct_lesions, undo_correction

CLICK_SIDE = 1200  # the clickable photo's width in the browser's pixels, at most
MAX_UPSCALE = 8  # a small part of a small photo is enlarged at most this much
ZOOMS: tuple[int, ...] = (1, 2, 4, 8)
CLICK_KEY = "lesion_click_key"  # the session key of the current click widget (for tests too)
HINT = ("Click on the photo: inside a lesion's outline to remove it or change its type, anywhere "
        "else to add one the model missed. Zoom in to reach small lesions.")
CONFLICT = ("The lesions of this photo changed since they were shown (another correction was "
            "saved meanwhile): reload the page and try again.")


def zoom_label(zoom: int) -> str:
    return "the face" if zoom == 1 else f"{zoom} times closer"


def editor_window(width: int, height: int, face_box, zoom: int,  # noqa: ANN001
                  centre: tuple[float, float] | None = None) -> Box:
    """The part of the photo the editor shows: the face crop (core.overlay.face_crop_box) at
    zoom 1; at zoom z a part 1/z of its size, centred on `centre` (default: the face crop's
    centre), kept inside the photo."""
    if zoom not in ZOOMS:
        raise ValueError(f"zoom {zoom!r} must be one of {ZOOMS}")
    x0, y0, x1, y1 = face_crop_box(face_box, width, height)
    if zoom == 1:
        return (x0, y0, x1, y1)
    part_w = max(8, int(round((x1 - x0) / zoom)))
    part_h = max(8, int(round((y1 - y0) / zoom)))
    cx, cy = centre if centre is not None else ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    left = int(round(min(max(cx - part_w / 2.0, 0.0), max(width - part_w, 0))))
    top = int(round(min(max(cy - part_h / 2.0, 0.0), max(height - part_h, 0))))
    return (left, top, min(width, left + part_w), min(height, top + part_h))


def _click_key(analysis_id: int, window: Box) -> str:
    # A new analysis after each edit, or another part of the photo, starts with no click: an old
    # click must not act again, nor be mapped through a part it was not made on.
    return f"lesion_click_{analysis_id}_" + "_".join(str(int(v)) for v in window)


def clicked_point(window: Box, analysis_id: int) -> tuple[float, float] | None:
    """The last click on the shown part `window` of the photo of `analysis_id`, in photo
    pixels (None before any)."""
    value = st.session_state.get(_click_key(analysis_id, window))
    if not value or not value.get("width") or not value.get("height"):
        return None
    x0, y0, x1, y1 = window
    x = x0 + float(value["x"]) * (x1 - x0) / float(value["width"])
    y = y0 + float(value["y"]) * (y1 - y0) / float(value["height"])
    return (min(max(x, float(x0)), x1 - 1.0), min(max(y, float(y0)), y1 - 1.0))


def _zoom_key(photo_id: int) -> str:
    return f"editor_zoom_{photo_id}"


def _centre_key(photo_id: int) -> str:
    return f"editor_centre_{photo_id}"


def _last_point_key(photo_id: int) -> str:
    return f"editor_last_point_{photo_id}"


def current_window(found: PhotoLesions, width: int, height: int) -> Box:
    photo_id = found.analysis.photo_id
    zoom = int(st.session_state.get(_zoom_key(photo_id), 1))
    return editor_window(width, height, found.analysis.face_box, zoom,
                         st.session_state.get(_centre_key(photo_id)))


def selection(found: PhotoLesions, width: int, height: int) -> tuple[tuple[float, float] | None, int | None]:
    """The clicked point and the lesion whose outline holds it (None on bare skin)."""
    window = current_window(found, width, height)
    point = clicked_point(window, found.analysis.id)
    if point is None:
        return None, None
    st.session_state[_last_point_key(found.analysis.photo_id)] = point
    return point, lesion_at(found.lesions, point, pad=ring_pad(width, height))


def _zoom_to_last_click(photo_id: int) -> None:
    """Zooming centres on the last click (else on the face)."""
    st.session_state[_centre_key(photo_id)] = st.session_state.get(_last_point_key(photo_id))


def _in_window(lesion: Lesion, window: Box, scale: float) -> Lesion | None:
    """The lesion in the shown part's pixels (None when it lies outside the part)."""
    x0, y0, x1, y1 = window
    a, b, c, d = lesion.bbox
    if c <= x0 or a >= x1 or d <= y0 or b >= y1:
        return None
    box = tuple(int(round((v - o) * scale)) for v, o in ((a, x0), (b, y0), (c, x0), (d, y0)))
    box = (box[0], box[1], max(box[2], box[0] + 1), max(box[3], box[1] + 1))
    return Lesion(bbox=box, kind=lesion.kind, score=lesion.score, area_px=lesion.area_px,
                  type_uncertain=lesion.type_uncertain, added_by_clinician=lesion.added_by_clinician)


def show_clickable_photo(image: np.ndarray, found: PhotoLesions) -> None:
    """The zoom, then the shown part of the photo with the lesion boxes, the selection and the
    click, clickable."""
    height, width = image.shape[:2]
    photo_id = found.analysis.photo_id
    st.select_slider("Zoom", ZOOMS, format_func=zoom_label, key=_zoom_key(photo_id),
                     on_change=_zoom_to_last_click, args=(photo_id,),
                     help="Closer views centre on the last click.")
    point, selected = selection(found, width, height)
    window = current_window(found, width, height)
    x0, y0, x1, y1 = window
    part = image[y0:y1, x0:x1]
    scale = min(CLICK_SIDE / max(1, x1 - x0), float(MAX_UPSCALE))
    shown = cv2.resize(part, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)
    lesions, index = [], None
    for i, lesion in enumerate(found.lesions):
        moved = _in_window(lesion, window, scale)
        if moved is not None:
            if i == selected:
                index = len(lesions)
            lesions.append(moved)
    marked_point = None if point is None else ((point[0] - x0) * scale, (point[1] - y0) * scale)
    marked = draw_correction_marks(shown, lesions, selected=index, point=marked_point)
    key = _click_key(found.analysis.id, window)
    st.session_state[CLICK_KEY] = key
    streamlit_image_coordinates(marked, key=key, width="stretch", image_format="JPEG",
                                jpeg_quality=90, cursor="crosshair")


def _apply(actor, found: PhotoLesions, edit: LesionEdit | None) -> None:  # noqa: ANN001
    try:
        if edit is None:
            row = undo_correction(state.get_clinic(), actor, analysis_id=found.analysis.id)
            what = plain_description((row.correction or {}).get("description")) or "the last correction"
            state.flash(f"Undone: {what}.")
        else:
            row = correct_lesions(state.get_clinic(), actor, analysis_id=found.analysis.id,
                                  edit=edit, grader=state.get_analyzer().grader)
            state.flash(f"Correction saved: {plain_description(row.correction['description'])}. "
                        f"Now {plural(row.total, 'lesion')}, grade {row.grade_label}.")
    except ConflictError:
        st.error(CONFLICT)
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
