"""An administrator exports the clinician-corrected photos of patients who allow research use as
a training set in the layout of ../shared/data/acne04, for `core.training.train_segmenter
--extra-data` and `core.training.evaluate --data`.

What goes in: every photo whose current analysis is a clinician's correction (the lesions a
clinician checked), of a patient whose `research_consent` is set. Photos the model alone
measured are left out: training on the model's own output would teach it its own mistakes.

De-identified: subjects are numbered in a random order (`subject-0001`), visits by their rank
(`visit01`); no name, code, date, file name or patient id is written, and the photos are
re-encoded without metadata. The face itself is in the photo: the consent covers that. A
bystander's face is not covered by it (issue 24): only photos with exactly one face go in, the
analysis' one face and nothing else a search at four quarter turns finds (core.face
.find_every_face, unsure regions included); a photo that cannot be searched is left out too.

Layout: `images/{train,valid,test}/*.jpg`, `labels_voc/{split}/*.xml` (Pascal VOC; classes as
ACNE04's, and `acne` for an inflammatory lesion whose type is uncertain), and `index.csv`
(split, image, acne04_source_image = the subject, acne04_grade_from_filename = the grade a
clinician confirmed or set in a review, empty when none did, and the box counts by class). One
subject's photos are always in one split.
"""
from __future__ import annotations

import csv
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.types import Lesion, Right, role_may
from db.errors import PermissionDenied
from db.models import Account
from db.repository import (
    get_analysis,
    get_photo,
    list_lesions,
    record_audit,
    research_photo_rows,
)
from usecases.clinic import Clinic
from usecases.photos import decode_stored, lesions_from_records, search_faces

EXPORT_CLASSES: dict[str, str] = {"comedone": "whitehead and blackhead", "papule": "papules",
                                  "pustule": "pustules", "nodule": "nodules and cysts"}
UNTYPED_CLASS = "acne"
INDEX_COLUMNS = ("split", "image", "acne04_source_image", "acne04_grade_from_filename", "n_boxes",
                 "n_whitehead_and_blackhead", "n_papules", "n_pustules", "n_nodules_and_cysts", "n_acne")
MAX_SIDE = 1280  # photos are written at most this many pixels on their long side
JPEG_QUALITY = 95


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    folder: Path
    subjects: int
    photos: int
    lesions: int
    photos_by_split: dict[str, int] = field(default_factory=dict)
    uncorrected_left_out: int = 0
    # Photos with another face than the patient's (or one that could not be searched for faces).
    other_faces_left_out: int = 0


def has_one_face_only(clinic: Clinic, image: np.ndarray, analysis) -> bool:  # noqa: ANN001
    """Whether the photo shows exactly one face: its analysis found one, with a box, and every
    face-like region a search of the photo at four quarter turns finds (unsure ones included)
    lies on that face (its centre inside the face's box). False when the search cannot run."""
    if analysis is None or not analysis.face_found or analysis.n_faces != 1 or not analysis.face_box:
        return False
    faces = search_faces(clinic, image)
    if faces is None:
        return False
    x0, y0, x1, y1 = analysis.face_box
    return all(x0 <= (f.box[0] + f.box[2]) / 2 <= x1 and y0 <= (f.box[1] + f.box[3]) / 2 <= y1
               for f in faces)


def split_subjects(patient_ids: list[int], *, seed: int, valid_share: float,
                   test_share: float) -> dict[int, tuple[str, str]]:
    """Each patient's (subject label, split), in a random order fixed by `seed`. With three or
    more subjects, valid and test get at least one each."""
    if not (0 <= valid_share < 1 and 0 <= test_share < 1 and valid_share + test_share < 1):
        raise ValueError(f"valid share {valid_share} and test share {test_share} must be in [0, 1) "
                         "and leave some subjects for training")
    order = list(np.random.default_rng(seed).permutation(sorted(set(patient_ids))))
    n = len(order)
    n_test = max(1, round(n * test_share)) if n >= 3 and test_share > 0 else 0
    n_valid = max(1, round(n * valid_share)) if n >= 3 and valid_share > 0 else 0
    splits = ["test"] * n_test + ["valid"] * n_valid + ["train"] * (n - n_test - n_valid)
    return {int(pid): (f"subject-{i + 1:04d}", split) for i, (pid, split) in enumerate(zip(order, splits))}


def _voc(name: str, width: int, height: int, boxes: list[tuple[str, tuple[int, int, int, int]]]) -> bytes:
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = name
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    for label, (x0, y0, x1, y1) in boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = label
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x0), ("ymin", y0), ("xmax", x1), ("ymax", y1)):
            ET.SubElement(box, tag).text = str(value)
    return ET.tostring(root, encoding="utf-8")


def _boxes(lesions: list[Lesion], scale: float, width: int, height: int) -> list[tuple[str, tuple[int, int, int, int]]]:
    boxes = []
    for lesion in lesions:
        label = UNTYPED_CLASS if lesion.type_uncertain else EXPORT_CLASSES[lesion.kind]
        x0, y0, x1, y1 = (float(v) * scale for v in lesion.bbox)
        box = (int(np.floor(x0)), int(np.floor(y0)), min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))
        if box[2] > box[0] and box[3] > box[1]:
            boxes.append((label, box))
    return boxes


def _confirmed_grade(row) -> str:  # noqa: ANN001 - a photo_measure_rows row
    """The grade a clinician set, or confirmed in a review; '' when no clinician graded it."""
    if row.review_grade_override is not None:
        return str(int(row.review_grade_override))
    return str(int(row.grade)) if row.review_iga is not None else ""


def export_training_set(clinic: Clinic, actor: Account, folder: Path | str, *, seed: int = 0,
                        valid_share: float = 0.15, test_share: float = 0.15) -> ExportSummary:
    """Write the research training set to `folder` (which must not exist yet). Administrators
    only: raises PermissionDenied for other accounts, FileExistsError for an existing folder."""
    if not role_may(actor.role, Right.ADMINISTER):
        raise PermissionDenied("only an administrator may export photos for research")
    folder = Path(folder)
    if folder.exists():
        raise FileExistsError(f"{folder} already exists: choose a new folder for the export")
    with clinic.session() as session:
        rows = research_photo_rows(session=session, actor=actor)
    measured = [r for r in rows if r.analysis_id is not None]
    corrected = [r for r in measured if r.corrects_id is not None]
    subjects = split_subjects([r.patient_id for r in corrected], seed=seed,
                              valid_share=valid_share, test_share=test_share)
    visit_rank: dict[int, dict[int, int]] = defaultdict(dict)
    for row in sorted(corrected, key=lambda r: (r.visit_date, r.visit_id)):
        ranks = visit_rank[row.patient_id]
        ranks.setdefault(row.visit_id, len(ranks) + 1)

    # Written next to the target and renamed at the end: a failed export leaves no half folder.
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        index, by_split, n_lesions, per_image, other_faces = [], Counter(), 0, Counter(), 0
        for row in corrected:
            subject, split = subjects[row.patient_id]
            with clinic.session() as session:
                photo = get_photo(session=session, actor=actor, photo_id=row.photo_id)
                analysis = get_analysis(session=session, actor=actor, analysis_id=row.analysis_id)
                lesions = lesions_from_records(list_lesions(session=session, actor=actor,
                                                            analysis_id=row.analysis_id))
            image = decode_stored(clinic, photo).image
            if not has_one_face_only(clinic, image, analysis):
                other_faces += 1  # a bystander's face never leaves the clinic
                continue
            height, width = image.shape[:2]
            scale = min(1.0, MAX_SIDE / max(height, width))
            if scale < 1.0:
                width, height = round(width * scale), round(height * scale)
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            stem = f"{subject}_visit{visit_rank[row.patient_id][row.visit_id]:02d}_{row.view}"
            per_image[stem] += 1
            if per_image[stem] > 1:  # a second photo of the same view in one visit
                stem = f"{stem}_{per_image[stem]}"
            for sub in ("images", "labels_voc"):
                (work / sub / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(work / "images" / split / f"{stem}.jpg", quality=JPEG_QUALITY)
            boxes = _boxes(lesions, scale, width, height)
            (work / "labels_voc" / split / f"{stem}.xml").write_bytes(_voc(f"{stem}.jpg", width, height, boxes))
            counts = Counter(label for label, _ in boxes)
            index.append({"split": split, "image": f"{stem}.jpg", "acne04_source_image": subject,
                          "acne04_grade_from_filename": _confirmed_grade(row), "n_boxes": len(boxes),
                          **{f"n_{label.replace(' ', '_')}": counts[label]
                             for label in (*EXPORT_CLASSES.values(), UNTYPED_CLASS)}})
            by_split[split] += 1
            n_lesions += len(boxes)
        with (work / "index.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=INDEX_COLUMNS)
            writer.writeheader()
            writer.writerows(index)
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    with clinic.session() as session:
        for patient_id in sorted(subjects):
            record_audit(session=session, actor_id=actor.id, action="export", target_type="patient",
                         target_id=patient_id,
                         detail=f"research training set: {sum(r.patient_id == patient_id for r in corrected)} photos")
    return ExportSummary(folder=folder, subjects=len(subjects), photos=len(index), lesions=n_lesions,
                         photos_by_split=dict(by_split), uncorrected_left_out=len(measured) - len(corrected),
                         other_faces_left_out=other_faces)
