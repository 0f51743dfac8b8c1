"""A stored photo with its lesion masks, and re-analysis of a stored photo with the current models.

Pages (visit, review, compare, reports) show stored photos through `load_photo_for`, which
de-identifies them for researchers (core.deidentify: eyes and mouth masked, unless an
administrator allowed identifiable photos for a study of theirs that enrols the patient);
`load_stored_photo` reads the photo as taken, for the application layer's own use.
The visit page's "Re-analyse" button calls `reanalyse_photo`, which adds an analysis and never
overwrites one. Nothing here is cached: a deleted patient's photo must not live on in a cache.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.deidentify import NOT_SEARCHED_NOTE, deidentify, withhold
from core.errors import PhotoError
from core.manifest import DEFAULT_WEIGHTS_DIR
from core.imaging import decode_photo, encode_png
from core.types import DecodedPhoto, Lesion
from db.errors import NotFound
from db.models import Account, Photo
from db.models import Analysis as AnalysisRow
from db.repository import (
    add_analysis,
    get_photo,
    load_colour_mask,
    load_masks,
    load_photo_bytes,
    must_mask_photo,
)
from usecases.clinic import Clinic
from usecases.visits import PhotoAnalyzer


def lesions_from_records(records: Iterable[Any]) -> list[Lesion]:
    """core Lesions from stored lesion rows (db.models.LesionRecord or alike)."""
    return [
        Lesion(bbox=(int(r.x0), int(r.y0), int(r.x1), int(r.y1)), kind=r.kind,
               score=float(r.score), area_px=int(r.area_px), region=r.region,
               type_confidence=1.0 if getattr(r, "type_confidence", None) is None else float(r.type_confidence),
               type_uncertain=bool(getattr(r, "type_uncertain", False)),
               added_by_clinician=bool(getattr(r, "added_by_clinician", False)))
        for r in records
    ]


class StoredPhotoError(LookupError):
    """A stored photo cannot be shown or re-analysed; the message says why."""


@dataclass(frozen=True)
class StoredPhoto:
    """A stored photo's pixels (upright, as stored) and, when its analysis has them and they
    fit the photo, the lesion-type map and the lesion probability map (uint8, photo size)."""

    photo: DecodedPhoto
    kind_mask: np.ndarray | None = None
    probability: np.ndarray | None = None
    # The colour layers (bits 1 red area, 2 dark mark, 4 measured skin; core.colour_measures),
    # when the analysis measured them.
    colour_mask: np.ndarray | None = None
    # None: the photo as taken. Otherwise it is de-identified for research (eyes and mouth
    # masked, or the whole photo withheld) and this sentence says so, for the page to show.
    research_note: str | None = None

    @property
    def image(self) -> np.ndarray:
        return self.photo.image

    @property
    def deidentified(self) -> bool:
        """Masked or withheld for research: a cache of pictures must key on this."""
        return self.research_note is not None


def decode_stored(clinic: Clinic, photo: Photo) -> DecodedPhoto:
    """The stored photo's pixels; raises StoredPhotoError when its file cannot be read."""
    try:
        return decode_photo(load_photo_bytes(photo_store=clinic.photo_store, photo=photo),
                            filename=photo.filename)
    except (OSError, PhotoError) as error:
        raise StoredPhotoError(
            f"The stored file of this photo cannot be read ({error}); run the integrity "
            "check (python -m usecases.cli.check)."
        ) from None


def load_stored_photo(clinic: Clinic, photo: Photo, analysis: AnalysisRow | None) -> StoredPhoto:
    """The photo row's pixels with `analysis`' masks. The rows come from repository reads
    scoped to the signed-in account, so only a photo it may see gets here. Raises
    StoredPhotoError when the photo file cannot be read; a missing or mis-sized mask is left
    out (the integrity check reports missing files)."""
    decoded = decode_stored(clinic, photo)
    kind_mask = probability = colour_mask = None
    if analysis is not None:
        try:
            kind_mask, probability = load_masks(photo_store=clinic.photo_store, analysis=analysis)
        except OSError:
            kind_mask = probability = None
        try:
            colour_mask = load_colour_mask(photo_store=clinic.photo_store, analysis=analysis)
        except OSError:
            colour_mask = None
    size = decoded.image.shape[:2]
    return StoredPhoto(
        photo=decoded,
        kind_mask=kind_mask if kind_mask is not None and kind_mask.shape == size else None,
        probability=probability if probability is not None and probability.shape == size else None,
        colour_mask=colour_mask if colour_mask is not None and colour_mask.shape == size else None,
    )


def research_landmarks(analysis: AnalysisRow | None) -> list[list[float]] | None:
    """The landmarks to mask a photo by: those of the one face its analysis measured the photo
    by (an alignment was fitted, so they are not a rough second look's). None when there is no
    analysis, no such face, or more than one face (a second face would stay unmasked): the
    photo is then withheld."""
    if analysis is None or not analysis.face_found or not analysis.alignment:
        return None
    if analysis.n_faces > 1 or not analysis.landmarks:
        return None
    return analysis.landmarks


# The product's own face networks (weights/), used when the clinic's weights folder has none.
PRODUCT_WEIGHTS_DIR = DEFAULT_WEIGHTS_DIR


def search_faces(clinic: Clinic, image: np.ndarray) -> tuple | None:
    """Every face-like region of the photo at four quarter turns (core.face.find_every_face),
    by the face networks of the clinic's weights folder, else the product's own; None when
    neither can run (the photo is then withheld or left out: fail closed)."""
    from core.face import find_every_face, get_face_detector

    for folder in dict.fromkeys((clinic.weights_dir, PRODUCT_WEIGHTS_DIR)):
        try:
            return find_every_face(get_face_detector(folder), image)
        except Exception:  # noqa: BLE001, S112 - a failure tries the next; none: withheld
            continue
    return None


def deidentify_stored(photo: Photo, stored: StoredPhoto, analysis: AnalysisRow | None,
                      clinic: Clinic | None = None) -> StoredPhoto:
    """`stored` as a researcher may see it: eyes and mouth masked by the analysis' landmarks and
    those of every other face a search of the photo finds at any quarter turn (with `clinic`,
    whose face networks search), or withheld (grey) without usable landmarks, when a face-like
    region is uncertain or the search cannot run. The lesion masks stay (they show no face);
    the file name, capture time and device are dropped (they can name or date a person)."""
    landmarks = research_landmarks(analysis)
    faces = None if clinic is None or landmarks is None else search_faces(clinic, stored.image)
    if clinic is not None and landmarks is not None and faces is None:
        result = withhold(stored.image, NOT_SEARCHED_NOTE)
    else:
        result = deidentify(stored.image, landmarks, faces,
                            analysis.face_box if analysis is not None else None)
    image = result.image
    shown = DecodedPhoto(
        image=image, upload_sha256=stored.photo.upload_sha256, source_format="PNG",
        encode_stored=functools.partial(encode_png, image), stored_extension=".png",
        filename=f"photo_{photo.id}.png",
    )
    return StoredPhoto(photo=shown, kind_mask=stored.kind_mask, probability=stored.probability,
                       colour_mask=stored.colour_mask, research_note=result.note)


def load_photo_for(clinic: Clinic, actor: Account, photo: Photo,
                   analysis: AnalysisRow | None) -> StoredPhoto:
    """The photo row's pixels and masks as this account may see them: as taken for clinicians
    and administrators; de-identified (`deidentify_stored`) for a researcher unless an
    administrator allowed identifiable photos for a study of theirs that enrols the patient
    (db.repository.must_mask_photo). The rows come from repository reads scoped to the account.
    Raises StoredPhotoError when the photo file cannot be read."""
    with clinic.session() as session:
        mask = must_mask_photo(session=session, actor=actor, photo_id=photo.id)
    stored = load_stored_photo(clinic, photo, analysis)
    return deidentify_stored(photo, stored, analysis, clinic) if mask else stored


def reanalyse_photo(clinic: Clinic, actor: Account, *, photo_id: int,
                    analyzer: PhotoAnalyzer) -> AnalysisRow:
    """Analyse a stored photo again with `analyzer` and store the result as a new analysis
    (earlier ones are kept). Raises NotFound when the account may not see the photo,
    PermissionDenied when it may not change it, StoredPhotoError when its file is unreadable."""
    with clinic.session() as session:
        photo = get_photo(session=session, actor=actor, photo_id=photo_id)
    if photo is None:
        raise NotFound(f"no photo with id {photo_id!r}")
    result = analyzer.analyze(decode_stored(clinic, photo))
    with clinic.session() as session:
        return add_analysis(session=session, actor=actor, photo_store=clinic.photo_store,
                            photo_id=photo_id, analysis=result)
