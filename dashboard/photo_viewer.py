"""The photo viewer of the Visit, Review and Compare pages: the face first (a switch shows the
whole photo), zoom and pan down to the photo's own pixels, lesions ringed by type with a legend
in words that hides or shows each type, and the lesion heat map on a switch (the switches are
in the figure: dashboard.charts.viewer).

The figure comes from `dashboard.charts.viewer`; this module reads what it needs (stored photo,
masks, lesion rows) and keeps the encoded pictures in `st.cache_data`, keyed by the photo's id
and file checksum (or the analysis' id and mask checksum), never by the pixels: hashing a 12 MP
photo on every run would cost what the cache saves; a de-identified copy (a researcher's) has
keys of its own. Only a page that read the photo row
through the repository (access-checked) knows those keys; deleting a patient clears
`st.cache_data`, and entries expire after CACHE_TTL_S anyway.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.alignment import alignment_at_size, native_canonical_size, warp_to_canonical
from core.overlay import face_crop_box, heat_rgba, shrink_max
from core.types import GRADE_LABELS, Lesion
from dashboard import state
from dashboard.charts import viewer as viewer_charts
from dashboard.charts.colour_layers import colour_outlines
from db.repository import list_lesions
from usecases.photos import (
    StoredPhoto,
    StoredPhotoError,
    lesions_from_records,
    load_photo_for,
)

CACHE_TTL_S = 900
CACHE_ENTRIES = 8  # two compare sides and their heat layers, and a few photos looked at before
HEAT_SIDE = 2048  # the heat layer's longer side at most (a 12 MP photo's in blocks of 2 x 2)
HOW_TO = ("Scroll to zoom in, down to the photo's own pixels; drag to move; double-click to go "
          "back. Click a type in the legend to hide or show its rings. The heat map colours the "
          "skin by how likely the lesion model found a lesion there. \"Redness\" and \"Dark "
          "marks\" in the legend outline the skin that is redder or darker and browner than the "
          "patient's own clear skin in the same photo.")


@dataclass(frozen=True)
class ViewerSide:
    """What a viewer shows of one photo: its row, its pixels and masks, its analysis row (None
    when it has none) and the lesions to ring (none for a photo that cannot be assessed)."""

    photo: object  # db.models.Photo
    stored: StoredPhoto
    analysis: object | None  # db.models.Analysis
    lesions: tuple[Lesion, ...] = ()

    @property
    def measured(self) -> bool:
        return self.analysis is not None and bool(self.analysis.assessable)


def load_side(actor, photo, analysis, stored: StoredPhoto | None = None) -> ViewerSide | None:  # noqa: ANN001 - db rows
    """The photo's pixels, masks and lesion rows for a viewer (`stored` when the page has
    already read them); None when its file cannot be read. Rows come from access-checked
    repository reads, as the page's own did."""
    if stored is None:
        try:
            # De-identified for a researcher (eyes and mouth masked), as taken for others.
            stored = load_photo_for(state.get_clinic(), actor, photo, analysis)
        except StoredPhotoError:
            return None
    lesions: tuple[Lesion, ...] = ()
    if analysis is not None and analysis.assessable:
        with state.db_session() as session:
            lesions = tuple(lesions_from_records(
                list_lesions(session=session, actor=actor, analysis_id=analysis.id)))
    return ViewerSide(photo=photo, stored=stored, analysis=analysis, lesions=lesions)


def grade_words(analysis) -> str | None:  # noqa: ANN001 - db.models.Analysis or None
    """The grade as the legend names it: 'clear' without a lesion, else the label and confidence
    (None when there is no assessable analysis)."""
    if analysis is None or not analysis.assessable:
        return None
    if analysis.total == 0:
        return "clear"
    label = analysis.grade_label or GRADE_LABELS.get(analysis.grade, str(analysis.grade))
    return f"{label} ({analysis.grade_confidence:.0%} confidence)"


def grade_title(analysis) -> str:  # noqa: ANN001 - db.models.Analysis or None
    """The grade for a photo's title: 'grade mild (80% confidence)', or why there is none."""
    words = grade_words(analysis)
    if words is not None:
        return f"grade {words}"
    return "no analysis" if analysis is None else "not assessable"


# ---- encoded pictures, cached ------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=CACHE_TTL_S)
def _photo_uri(key: tuple, _image: np.ndarray, alignment: tuple[float, ...] | None,
               size: int) -> str:
    """The photo (or its face-aligned copy, `size` pixels square) as a full-size JPEG data URI."""
    image = _image if alignment is None else warp_to_canonical(_image, alignment, size=size)
    return viewer_charts.jpeg_data_uri(image)


@st.cache_data(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=CACHE_TTL_S)
def _heat_uri(key: tuple, _probability: np.ndarray, alignment: tuple[float, ...] | None,
              size: int) -> tuple[str, int]:
    """The heat layer as a PNG data URI and its block side (photo pixels per layer pixel)."""
    plane = _probability if alignment is None else warp_to_canonical(_probability, alignment, size=size)
    small, step = shrink_max(plane, HEAT_SIDE)
    return viewer_charts.png_data_uri(heat_rgba(small)), step


@st.cache_data(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=CACHE_TTL_S)
def _colour_outlines(key: tuple, _mask: np.ndarray) -> dict:
    """The colour layers' outlines (photo pixels) of a stored colour mask."""
    return colour_outlines(_mask)


def _picture(side: ViewerSide, *, alignment: tuple[float, ...] | None = None,
             size: int = 0) -> viewer_charts.ViewerImage:
    """The viewer's picture of one side: the photo (first shown cropped to its face) or its
    face-aligned copy `size` pixels square, with the heat layer when the analysis has one."""
    photo, analysis = side.photo, side.analysis
    height, width = side.stored.image.shape[:2]
    # A researcher's copy is de-identified (by the analysis' landmarks): never the same entry
    # as the photo as taken.
    masked = (side.stored.research_note, analysis.id if analysis is not None else None) \
        if side.stored.deidentified else None
    source = _photo_uri(("photo", photo.id, photo.file_sha256, masked), side.stored.image,
                        alignment, size)
    heat_source, step = None, 1
    if side.measured and side.stored.probability is not None:
        heat_source, step = _heat_uri(("heat", analysis.id, analysis.probability_sha256),
                                      side.stored.probability, alignment, size)
    # The "Redness" and "Dark marks" layers, when the analysis measured them.
    colour: dict = {}
    if side.measured and side.stored.colour_mask is not None:
        colour = {"colour_outlines": _colour_outlines(("colour", analysis.id, analysis.colour_mask_sha256),
                                                      side.stored.colour_mask),
                  "colour_fractions": {"redness": analysis.red_area_fraction,
                                       "dark_marks": analysis.dark_area_fraction}}
    if alignment is not None:
        return viewer_charts.ViewerImage(
            source=source, width=size, height=size, view=(0, 0, size, size), lesions=side.lesions,
            to_image=alignment_at_size(alignment, size), heat_source=heat_source, heat_step=step,
            **colour)
    face_box = analysis.face_box if analysis is not None else None
    return viewer_charts.ViewerImage(
        source=source, width=width, height=height, view=face_crop_box(face_box, width, height),
        lesions=side.lesions, heat_source=heat_source, heat_step=step, **colour)


def research_note(*sides: ViewerSide) -> None:
    """Say when a photo is de-identified for research (masked or withheld), once per sentence
    (usecases.photos.load_photo_for: researchers' photos)."""
    for note in dict.fromkeys(side.stored.research_note for side in sides):
        if note:
            st.info(note, icon=":material/visibility_off:")


def show_photo(side: ViewerSide, *, key: str) -> None:
    """One photo in the viewer, cropped to the face first, and a how-to line. The page shows
    the numbers (counts by type, grade) in the column beside it; the legend repeats each
    type's count next to its colour."""
    figure = viewer_charts.photo_figure(_picture(side), revision=str(side.photo.id))
    st.plotly_chart(figure, key=f"{key}_viewer", config=viewer_charts.PLOTLY_CONFIG, width="stretch")
    st.caption(HOW_TO)
    research_note(side)


def show_pair(before: ViewerSide, after: ViewerSide, *, key: str, titles: tuple[str, str],
              aligned: bool) -> None:
    """Two photos side by side. Aligned on the face (both analyses have an alignment): both in
    the face frame at the sharper photo's resolution, zoomed and moved together. Otherwise each
    as taken, cropped to its face."""
    sides = (before, after)
    if aligned:
        alignments = [tuple(float(v) for v in side.analysis.alignment) for side in sides]
        size = native_canonical_size(alignments)
        pictures = [_picture(side, alignment=alignment, size=size)
                    for side, alignment in zip(sides, alignments)]
    else:
        pictures = [_picture(side) for side in sides]
    figure = viewer_charts.pair_figure(pictures[0], pictures[1], titles=titles, linked=aligned,
                                       revision=f"{before.photo.id}-{after.photo.id}")
    st.plotly_chart(figure, key=f"{key}_viewer", config=viewer_charts.PLOTLY_CONFIG, width="stretch")
    st.caption(HOW_TO + (" Both photos move together." if aligned else ""))
    research_note(*sides)
