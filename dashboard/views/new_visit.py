"""New visit: date, treatment notes and several photos, checked and analysed once before saving.

Each upload goes through the application layer's one route (`usecases.visits`): `check_photo`
decodes it, checks for duplicates and analyses it once; the result is kept in the session state
so the preview, the edits of capture details and the save never re-run the model. The save is
`record_visit`. A photo that cannot be read is reported by name and the others go on.
For photos that compare over time, the patient's last photo of the chosen view is shown beside
the uploader as the framing guide, and each analysed upload is told how its framing differs from
the last photo of its view (`usecases.framing_guide`, `core.framing`).
"""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.types import BODY_SITES, CLOSE_UP_VIEW, VIEWS, Right
from core.words import CLOSE_UP_NOTE, UNUSUAL_PHOTO_WARNING, named_problem, plural, view_label, words
from core.imaging import resize_to_long_side
from dashboard import display, state
from usecases.analysis_queue import waiting_sentence
from usecases.framing_guide import FramingGuide, compare_with_guide, framing_guide
from usecases.visits import CaptureDetails, CheckedPhoto, check_photo, record_visit

# Every format core.imaging reads (its messages name them all: JPEG, PNG, HEIC, WebP, TIFF,
# BMP or GIF).
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "heic", "heif", "avif", "tif", "tiff", "bmp", "gif"]
MAKEUP_CHOICES: dict[str, bool | None] = {"not recorded": None, "no make-up": False, "make-up": True}
LIGHTING_CHOICES: tuple[str | None, ...] = (None, "daylight", "indoor", "flash", "clinic lamp")
PREPARED_KEY = "new_visit_prepared"


PREVIEW_LONG_SIDE = 800  # pixels: the column is at most about 400 px wide on screen


def preview_of(photo):  # noqa: ANN001, ANN201 - a DecodedPhoto in, an RGB array out
    """The photo at most PREVIEW_LONG_SIDE pixels long, for the upload's preview: from the
    reduced decode of a large JPEG, so showing a 12 MP upload never decodes it in full (issue 28:
    that decode cost more than the analysis while ten clinicians waited)."""
    image = photo.reduced if photo.reduced is not None else photo.image
    if max(image.shape[:2]) <= PREVIEW_LONG_SIDE:
        return image
    return resize_to_long_side(image, PREVIEW_LONG_SIDE)[0]


def show_numbers(analysis) -> None:  # noqa: ANN001 - core.types.Analysis
    """The counts and grade in one sentence; a close-up and an unusual photo say so."""
    counts = analysis.counts
    grade = analysis.grade
    grade_text = "clear" if counts.total == 0 else f"{grade.label} ({grade.confidence:.0%} confidence)"
    st.write(
        f"{plural(counts.total, 'lesion')}: {counts.inflammatory} inflammatory (of them "
        f"{plural(counts.nodule, 'nodule/cyst')} and {counts.inflammatory_type_uncertain} of "
        f"uncertain type), {counts.non_inflammatory} non-inflammatory; grade {grade_text}."
    )
    if analysis.is_closeup:
        st.info(CLOSE_UP_NOTE)
    if analysis.unusual:
        st.warning(UNUSUAL_PHOTO_WARNING)


def show_quality(item: CheckedPhoto, key: str) -> bool:
    """Show the quality gate's verdict with the numbers (flagged when a check failed); returns
    whether the photo is to be stored."""
    if item.analysis is None:
        st.caption("Not analysed (no model installed); the photo is stored without an analysis.")
        return True
    if not item.analysis.assessable:
        st.warning("Not assessable: " + " ".join(item.analysis.not_assessable_reasons))
        st.caption("Kept, it stays in the visit for the record only: no lesion count or grade is "
                   "made from it, and it is left out of trends, comparisons and studies.")
        return st.checkbox("Keep it in the visit for the record only", value=False,
                           key=f"{key}_keep")
    quality = item.analysis.quality
    if quality.passed:
        st.success("Quality checks passed.")
        show_numbers(item.analysis)
        return True
    st.warning("Quality problems: " + " ".join(quality.reasons))  # each reason is a sentence
    show_numbers(item.analysis)
    st.caption("Flagged: these numbers come from a photo that failed a quality check. Stored "
               "anyway, they carry the flag wherever they appear.")
    return st.checkbox("Store it anyway", value=False, key=f"{key}_keep")


def capture_details(item: CheckedPhoto, key: str, visit_date: date) -> CaptureDetails:
    """Capture date (from EXIF, else the visit date), view, make-up and lighting for one photo."""
    guess = CaptureDetails.from_photo(item)  # only decoded, non-duplicate items reach this point
    if guess.taken_on:
        taken_on = st.date_input("Taken on", value=guess.taken_on, max_value=date.today(),
                                 key=f"{key}_taken")
    else:
        # Never blank: a photo with no date of its own was taken at the visit, unless corrected
        # (the key follows the visit date, so a changed visit date is followed too).
        taken_on = st.date_input(
            "Taken on (no date in the photo: the visit date)", value=visit_date,
            max_value=date.today(), key=f"{key}_taken_{visit_date:%Y%m%d}",
        )
    view = st.radio("View", VIEWS, index=VIEWS.index(guess.view), horizontal=True, key=f"{key}_view")
    body_site = None
    if view == CLOSE_UP_VIEW:
        body_site = st.selectbox("Where on the body (optional)", (None, *BODY_SITES),
                                 format_func=lambda site: words(site, "not recorded"),
                                 key=f"{key}_site")
    makeup = st.selectbox("Make-up", list(MAKEUP_CHOICES), key=f"{key}_makeup")
    lighting = st.selectbox(
        "Lighting", LIGHTING_CHOICES, format_func=lambda v: v or "not recorded", key=f"{key}_light"
    )
    return CaptureDetails(view=view, taken_on=taken_on, makeup=MAKEUP_CHOICES[makeup],
                          lighting=lighting, body_site=body_site)


def save_visit(actor, patient_id: int, visit_date: date, notes: str,  # noqa: ANN001
               ready: list[tuple[CheckedPhoto, CaptureDetails]]) -> None:
    """Record the visit through the application layer, with a progress bar and the problems."""
    progress = st.progress(0.0, text="Saving photos ...")
    recorded = record_visit(
        state.get_clinic(), actor, patient_id=patient_id, visit_date=visit_date, notes=notes,
        photos=ready,
        on_progress=lambda done, total: progress.progress(done / total, text=f"Saved {done} of {total}"),
    )
    for result in recorded.refused:
        st.error(display.plain(named_problem(result.filename, result.reason or "not stored")))
    st.session_state[state.VISIT_KEY] = recorded.visit_id
    st.session_state.pop(PREPARED_KEY, None)
    st.session_state["new_visit_round"] = st.session_state.get("new_visit_round", 0) + 1
    saved = plural(recorded.stored, "photo") if recorded.stored else "no photo"
    state.flash(f"Visit of {visit_date:%d %b %Y} saved with {saved}.")


def show_guide(guide: FramingGuide | None, view: str) -> None:
    """The patient's last photo of the view, small, as the framing guide for the next one."""
    if view == CLOSE_UP_VIEW:
        st.caption("Close-ups have no framing guide: the guide needs a face.")
        return
    if guide is None:
        st.caption(f"No earlier {view} photo of this patient yet: the one taken now becomes the "
                   "framing guide for the next visit.")
        return
    st.image(guide.image_bytes, width=160,
             caption=f"Last {view} photo, {guide.visit_date:%d %b %Y}: frame the new one like this.")


def show_framing(item: CheckedPhoto, guide: FramingGuide | None, view: str) -> None:
    """How the upload's framing differs from the last photo of its view, in sentences."""
    if view == CLOSE_UP_VIEW:
        return
    comparison = compare_with_guide(guide, item) if guide is not None else None
    if comparison is None:
        return
    if comparison.matches:
        st.success(" ".join(comparison.sentences))
    else:
        st.info(f"Framing against the last {view} photo ({guide.visit_date:%d %b %Y}): "
                + " ".join(comparison.sentences))


actor = state.require_actor(Right.RECORD)
patient = state.require_patient(actor)
st.title(f"New visit for {patient.code}")
state.show_flash()
if st.session_state.get(state.VISIT_KEY):
    st.page_link("views/visit.py", label="Open the last saved visit", icon=":material/photo_library:")

analyzer = state.get_analyzer()
if analyzer is None:
    state.show_no_model_warning()

round_ = st.session_state.get("new_visit_round", 0)
visit_date = st.date_input("Visit date", value=date.today(), max_value=date.today(),
                           key=f"visit_date_{round_}")
notes = st.text_area("Treatment notes", key=f"visit_notes_{round_}")
guides: dict[str, FramingGuide | None] = {}  # the last photo of each view, looked up once a run


def guide_for(view: str) -> FramingGuide | None:
    if view == CLOSE_UP_VIEW:
        return None  # the framing guide needs a face
    if view not in guides:
        guides[view] = framing_guide(state.get_clinic(), actor, patient_id=patient.id, view=view)
    return guides[view]


upload_column, guide_column = st.columns([3, 1])
with guide_column:
    guide_view = st.radio("View you are taking", VIEWS, horizontal=True, key=f"guide_view_{round_}",
                          format_func=view_label)
    show_guide(guide_for(guide_view), guide_view)
with upload_column:
    uploads = st.file_uploader(
        "Photos (several at once)", type=UPLOAD_TYPES, accept_multiple_files=True,
        key=f"visit_photos_{round_}",
    ) or []

# Prepared results belong to one patient and one set of uploads.
cache = st.session_state.get(PREPARED_KEY)
if cache is None or cache["patient_id"] != patient.id:
    cache = {"patient_id": patient.id, "items": {}}
    st.session_state[PREPARED_KEY] = cache
items: dict[str, CheckedPhoto] = cache["items"]
current_ids = [upload.file_id for upload in uploads]
for stale in set(items) - set(current_ids):
    del items[stale]

pending = [upload for upload in uploads if upload.file_id not in items]
if pending:
    seen = {item.photo.upload_sha256 for item in items.values() if item.photo and not item.duplicate}
    progress = st.progress(0.0, text="Checking photos ...")
    for index, upload in enumerate(pending, start=1):
        progress.progress((index - 1) / len(pending), text=f"Checking {upload.name} ...")
        waiting = st.empty()  # this user's place in the process's analysis queue (issue 28)
        items[upload.file_id] = check_photo(
            state.get_clinic(), actor, patient_id=patient.id, filename=upload.name,
            data=upload.getvalue(), analyzer=analyzer, seen=seen,
            on_wait=lambda ahead: waiting.caption(waiting_sentence(ahead)),
        )
        waiting.empty()
    progress.progress(1.0, text=f"Checked {plural(len(pending), 'photo')}.")

ready: list[tuple[CheckedPhoto, CaptureDetails]] = []
for upload in uploads:
    item = items[upload.file_id]
    if item.error:
        st.error(display.plain(named_problem(item.filename, item.error)))  # a file name is typed text
        continue
    if item.duplicate:
        st.warning(display.plain(f"{item.filename}: skipped, {item.duplicate}."))
        continue
    with st.container(border=True):
        left, right = st.columns([1, 2])
        # A preview, not the 12 MP array: encoding it for the browser cost a second a photo.
        left.image(preview_of(item.photo), caption=item.filename, width="stretch")
        with right:
            keep = show_quality(item, upload.file_id)
            details = capture_details(item, upload.file_id, visit_date)
            show_framing(item, guide_for(details.view), details.view)
        if keep:
            ready.append((item, details))

if any(item.analysis for item, _ in ready):
    state.show_notice()

if ready:
    label, confirmed = f"Save the visit with {plural(len(ready), 'photo')}", True
else:
    # A visit without a photo has nothing to measure: saved only when asked for in so many words.
    if uploads:
        st.warning("None of the uploaded photos can be stored as they are (see above).")
    label = "Save the visit without photos"
    confirmed = st.checkbox("Save this visit without any photo (treatment notes only)",
                            key=f"no_photo_{round_}")
if patient.consent_date is None:
    # No visit of a patient who has not consented is recorded without saying so in so many words.
    st.warning(f"No consent is recorded for {patient.code}. Record it on the Patients page, or "
               "confirm that this visit is recorded without it.")
    confirmed = st.checkbox("Record this visit although no consent is recorded",
                            key=f"no_consent_{round_}") and confirmed
if st.button(label, type="primary" if ready else "secondary", disabled=not confirmed,
             key=f"save_visit_{round_}"):
    save_visit(actor, patient.id, visit_date, notes, ready)
    st.rerun()
