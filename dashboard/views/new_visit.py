"""New visit: date, treatment notes and several photos, checked and analysed once before saving.

Each upload is decoded, checked for duplicates and analysed once; the result is kept in the
session state so the preview, the edits of capture details and the save never re-run the model.
A photo that cannot be read is reported by name and the others go on.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time

import streamlit as st

from core.errors import PhotoError
from core.imaging import decode_photo
from core.types import VIEWS, Analysis, DecodedPhoto
from dashboard import state
from db.errors import DuplicateError, PermissionDenied
from db.repository import create_visit, find_duplicate_photo, store_photo

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "heic", "heif", "tif", "tiff"]
MAKEUP_CHOICES: dict[str, bool | None] = {"not recorded": None, "no make-up": False, "make-up": True}
LIGHTING_CHOICES: tuple[str | None, ...] = (None, "daylight", "indoor", "flash", "clinic lamp")
PREPARED_KEY = "new_visit_prepared"


@dataclass(frozen=True)
class Prepared:
    """One upload after decoding, the duplicate check and the single analysis."""

    filename: str
    photo: DecodedPhoto | None = None
    analysis: Analysis | None = None
    error: str | None = None
    duplicate: str | None = None


def with_capture_date(photo: DecodedPhoto, taken_on: date | None) -> DecodedPhoto:
    """The photo with the capture date the user confirmed (keeping the EXIF time of day)."""
    if taken_on is None:
        return replace(photo, captured_at=None)
    clock = photo.captured_at.timetz() if photo.captured_at else time(0, 0)
    return replace(photo, captured_at=datetime.combine(taken_on, clock))


def prepare(upload, patient_id: int, actor, analyzer, seen_sha: set[str]) -> Prepared:  # noqa: ANN001
    """Decode, check for a duplicate, analyse: everything a photo needs before the save."""
    data = upload.getvalue()
    try:
        photo = decode_photo(data, filename=upload.name)
    except PhotoError as error:
        return Prepared(filename=upload.name, error=str(error))
    if photo.upload_sha256 in seen_sha:
        return Prepared(filename=upload.name, duplicate="the same photo is already in this upload")
    seen_sha.add(photo.upload_sha256)
    with state.db_session() as session:
        existing = find_duplicate_photo(
            session=session, actor=actor, patient_id=patient_id, upload_sha256=photo.upload_sha256
        )
        existing_desc = f"already stored for this patient (photo #{existing.id})" if existing else None
    if existing_desc:
        return Prepared(filename=upload.name, photo=photo, duplicate=existing_desc)
    analysis = None
    if analyzer is not None:
        try:
            analysis = analyzer.analyze(photo)
        except (ValueError, RuntimeError) as error:
            return Prepared(filename=upload.name, photo=photo, error=f"analysis failed: {error}")
    return Prepared(filename=upload.name, photo=photo, analysis=analysis)


def show_quality(item: Prepared, key: str) -> bool:
    """Show the quality gate's verdict; returns whether the photo is to be stored."""
    if item.analysis is None:
        st.caption("Not analysed (no model installed); the photo is stored without an analysis.")
        return True
    quality = item.analysis.quality
    if quality.passed:
        st.success("Quality checks passed.")
    else:
        st.warning("Quality problems: " + " ".join(quality.reasons))  # each reason is a sentence
        if not st.checkbox("Store it anyway", value=False, key=f"{key}_keep"):
            return False
    counts = item.analysis.counts
    grade = item.analysis.grade
    grade_text = "clear" if counts.total == 0 else f"{grade.label} ({grade.confidence:.0%} confidence)"
    st.write(
        f"{counts.total} lesions: {counts.inflammatory} inflammatory, "
        f"{counts.non_inflammatory} non-inflammatory, {counts.nodule} nodules; grade {grade_text}."
    )
    return True


def capture_details(item: Prepared, key: str) -> dict[str, object]:
    """Capture date (prefilled from EXIF), view, make-up and lighting for one photo."""
    photo = item.photo  # only decoded, non-duplicate items reach this point
    taken_on = st.date_input(
        "Taken on" + ("" if photo.captured_at else " (no date in the photo)"),
        value=photo.captured_at.date() if photo.captured_at else None,
        max_value=date.today(),
        key=f"{key}_taken",
    )
    estimated = item.analysis.face.view if item.analysis else None
    view = st.radio(
        "View", VIEWS, index=VIEWS.index(estimated) if estimated in VIEWS else 0,
        horizontal=True, key=f"{key}_view",
    )
    makeup = st.selectbox("Make-up", list(MAKEUP_CHOICES), key=f"{key}_makeup")
    lighting = st.selectbox(
        "Lighting", LIGHTING_CHOICES, format_func=lambda v: v or "not recorded", key=f"{key}_light"
    )
    return {
        "photo": with_capture_date(photo, taken_on),
        "view": view,
        "makeup": MAKEUP_CHOICES[makeup],
        "lighting": lighting,
    }


def save_visit(actor, patient_id: int, visit_date: date, notes: str, ready: list) -> None:  # noqa: ANN001
    """Create the visit, then store each photo with its analysis (one unit per photo)."""
    store = state.get_photo_store()
    with state.db_session() as session:
        visit = create_visit(
            session=session, actor=actor, patient_id=patient_id,
            visit_date=visit_date, treatment_notes=notes,
        )
        visit_id = visit.id
    stored = 0
    progress = st.progress(0.0, text="Saving photos ...")
    for index, (item, details) in enumerate(ready, start=1):
        try:
            with state.db_session() as session:
                # Checked again inside the write: a double click or a second tab may have
                # stored the same photo for this patient meanwhile.
                store_photo(
                    session=session, actor=actor, photo_store=store, visit_id=visit_id,
                    analysis=item.analysis, refuse_duplicate=True, **details,
                )
                stored += 1
        except DuplicateError:
            pass  # already stored by the other click or tab: nothing to do
        except (PermissionDenied, ValueError, OSError) as error:
            st.error(f"{item.filename}: not stored ({error})")
        progress.progress(index / len(ready), text=f"Saved {index} of {len(ready)}")
    st.session_state[state.VISIT_KEY] = visit_id
    st.session_state.pop(PREPARED_KEY, None)
    st.session_state["new_visit_round"] = st.session_state.get("new_visit_round", 0) + 1
    state.flash(f"Visit of {visit_date:%d %b %Y} saved with {stored} photo(s).")


actor = state.require_actor(roles=("admin", "clinician"))
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
uploads = st.file_uploader(
    "Photos (several at once)", type=UPLOAD_TYPES, accept_multiple_files=True,
    key=f"visit_photos_{round_}",
) or []

# Prepared results belong to one patient and one set of uploads.
cache = st.session_state.get(PREPARED_KEY)
if cache is None or cache["patient_id"] != patient.id:
    cache = {"patient_id": patient.id, "items": {}}
    st.session_state[PREPARED_KEY] = cache
items: dict[str, Prepared] = cache["items"]
current_ids = [upload.file_id for upload in uploads]
for stale in set(items) - set(current_ids):
    del items[stale]

pending = [upload for upload in uploads if upload.file_id not in items]
if pending:
    seen = {item.photo.upload_sha256 for item in items.values() if item.photo and not item.duplicate}
    progress = st.progress(0.0, text="Checking photos ...")
    for index, upload in enumerate(pending, start=1):
        progress.progress((index - 1) / len(pending), text=f"Checking {upload.name} ...")
        items[upload.file_id] = prepare(upload, patient.id, actor, analyzer, seen)
    progress.progress(1.0, text=f"Checked {len(pending)} photo(s).")

ready: list[tuple[Prepared, dict[str, object]]] = []
for upload in uploads:
    item = items[upload.file_id]
    if item.error:
        st.error(f"{item.filename}: {item.error}")
        continue
    if item.duplicate:
        st.warning(f"{item.filename}: skipped, {item.duplicate}.")
        continue
    with st.container(border=True):
        left, right = st.columns([1, 2])
        left.image(item.photo.image, caption=item.filename, width="stretch")
        with right:
            keep = show_quality(item, upload.file_id)
            details = capture_details(item, upload.file_id)
        if keep:
            ready.append((item, details))

if any(item.analysis for item, _ in ready):
    state.show_notice()

label = f"Save the visit with {len(ready)} photo(s)" if ready else "Save the visit without photos"
if st.button(label, type="primary", key=f"save_visit_{round_}"):
    save_visit(actor, patient.id, visit_date, notes, ready)
    st.rerun()
