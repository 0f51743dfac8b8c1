"""Readers of ACNE04 and of other data sets in its layout (photos, lesion boxes by kind, grades);
training targets and augmentation.

A data set folder holds `images/{train,valid,test}/<name>.jpg`, `labels_voc/{split}/<name>.xml`
(Pascal VOC boxes in pixels, tags read by name) and `index.csv` with at least the columns split,
image and a subject/source column (`acne04_source_image` in ACNE04 and the clinic's research
export, `source_image` in web_acne). The grade column `acne04_grade_from_filename` is optional
(missing or empty: the grade is not known, `Sample.grade is None`). Photos may have any size.

Lesion classes: the four ACNE04 types, and `acne` for a lesion whose type is not labelled
(`TrueLesion.kind is None`): it counts as a lesion everywhere (masks, centres, counts, F1) but
never in anything about types (the type loss, type metrics, inflammatory counts).
"""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.types import LESION_KINDS

# ACNE04 export class names -> product lesion kinds.
CLASS_TO_KIND: dict[str, str] = {
    "whitehead and blackhead": "comedone",
    "papules": "papule",
    "pustules": "pustule",
    "nodules and cysts": "nodule",
    "acne": None,  # a lesion whose type is not labelled (web_acne, part of the clinic's export)
}
# The kind map's value for a lesion of unknown type (0 = skin, 1..4 = LESION_KINDS): part of the
# lesion mask, left out of the type loss (core.training.losses).
UNTYPED = len(LESION_KINDS) + 1
GRADE_COLUMN = "acne04_grade_from_filename"
SOURCE_COLUMNS = ("acne04_source_image", "source_image")
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class TrueLesion:
    bbox: tuple[int, int, int, int]
    kind: str | None  # None: a lesion whose type is not labelled


@dataclass(frozen=True)
class Sample:
    image_path: Path
    source_image: str
    grade: int | None  # None: not known for this photo
    lesions: tuple[TrueLesion, ...]
    # False when the photo carries no labels at all (no box and no grade, or no label file):
    # "not labelled", never "clear skin"; left out of training and evaluation.
    labelled: bool = True
    size: tuple[int, int] | None = None  # (width, height) from the VOC file, when it says

    @property
    def types_known(self) -> bool:
        """Every labelled lesion of this photo has a type."""
        return all(l.kind is not None for l in self.lesions)


def read_voc_size(xml_path: Path) -> tuple[int, int] | None:
    """The (width, height) a VOC file states, or None."""
    size = ET.parse(xml_path).getroot().find("size")
    if size is None:
        return None
    try:
        w, h = int(float(size.findtext("width", ""))), int(float(size.findtext("height", "")))
    except ValueError:
        return None
    return (w, h) if w > 0 and h > 0 else None


def image_size(sample: Sample) -> tuple[int, int]:
    """(width, height) of a sample's photo: the VOC size, else the image header (no decode)."""
    if sample.size:
        return sample.size
    from PIL import Image

    with Image.open(sample.image_path) as image:
        return image.size


def read_boxes(xml_path: Path) -> tuple[TrueLesion, ...]:
    """Parse one Pascal VOC file; bndbox tags are read by name (their order is unusual).
    Class `acne` gives a lesion of unknown type (kind None)."""
    root = ET.parse(xml_path).getroot()
    lesions = []
    for obj in root.iter("object"):
        name = obj.findtext("name", "").strip()
        if name not in CLASS_TO_KIND:
            raise ValueError(f"{xml_path}: unknown lesion class {name!r}")
        box = obj.find("bndbox")
        x0, x1 = float(box.findtext("xmin")), float(box.findtext("xmax"))
        y0, y1 = float(box.findtext("ymin")), float(box.findtext("ymax"))
        lesions.append(TrueLesion((int(x0), int(y0), int(round(x1)), int(round(y1))), CLASS_TO_KIND[name]))
    return tuple(lesions)


def _grade(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(float(text)) if text else None


def read_split(data_dir: Path | str, split: str) -> list[Sample]:
    """All samples of one split, in index.csv order (ACNE04, the clinic's research export or
    web_acne; see the module docstring).

    An empty label file counts as "no lesions" only when the photo has a grade (ACNE04's six
    box-less photos are graded, so someone looked at them); a photo with no box and no grade
    (web_acne's 12 empty files, whose README says "not labelled") or with no label file at all
    is read with `labelled=False`. Callers leave those out: `labelled_only`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    data_dir = Path(data_dir)
    index = data_dir / "index.csv"
    if not index.is_file():
        raise FileNotFoundError(f"{index} not found: is --data the ACNE04 folder?")
    samples = []
    with index.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        source = next((c for c in SOURCE_COLUMNS if c in columns), None)
        missing = [c for c in ("split", "image") if c not in columns]
        if source is None:
            missing.append(" or ".join(SOURCE_COLUMNS))
        if missing:
            raise ValueError(f"{index}: missing column(s) {', '.join(missing)}")
        for row in reader:
            if row["split"] != split:
                continue
            xml_path = data_dir / "labels_voc" / split / f"{Path(row['image']).stem}.xml"
            grade = _grade(row.get(GRADE_COLUMN))
            has_file = xml_path.is_file()
            lesions = read_boxes(xml_path) if has_file else ()
            samples.append(
                Sample(
                    image_path=data_dir / "images" / split / row["image"],
                    source_image=row[source],
                    grade=grade,
                    lesions=lesions,
                    labelled=has_file and (bool(lesions) or grade is not None),
                    size=read_voc_size(xml_path) if has_file else None,
                )
            )
    return samples


def labelled_only(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if s.labelled]


def median_box_ratio(samples: list[Sample]) -> float | None:
    """The median lesion box side (square root of its area) as a share of its photo's long side,
    over all boxes of `samples`; None without boxes."""
    ratios = []
    for sample in samples:
        if sample.lesions:
            long_side = max(image_size(sample))
            ratios += [np.sqrt(max(l.bbox[2] - l.bbox[0], 1) * max(l.bbox[3] - l.bbox[1], 1)) / long_side
                       for l in sample.lesions]
    return float(np.median(ratios)) if ratios else None


# An extra set's zoom relative to ACNE04 is kept within this range: a set whose boxes are
# mostly wrong would otherwise blow its photos up or shrink them to nothing.
ZOOM_LIMITS = (0.5, 2.0)
REFERENCE_SIDE = 640  # ACNE04's photo side, which --scale is a share of


def extra_set_scales(samples: list[Sample], work_scale: float, reference_box_ratio: float | None
                     ) -> tuple[list[float], float]:
    """Per-photo resize factors for an extra data set, and the set's zoom.

    The segmenter works at `work_scale` of ACNE04's 640 px photos, so what it learns is lesions
    at the size they have there. Each extra photo is first brought to the same long side
    (640 x work_scale; a 1024x768 photo at scale 0.6 becomes 384x288), then the whole set is
    zoomed by one factor so its median lesion box, as a share of the long side, matches ACNE04's
    (`reference_box_ratio`, measured on the main set's train boxes). One factor per set rather
    than per photo: a photo with two boxes says little about its own magnification, while the
    set's median over thousands of boxes is steady; and a clinic's face photos, framed like
    ACNE04's, come out near zoom 1 (the long-side rule), while close-ups of cheeks (web_acne:
    median box 38 px of 640 against ACNE04's 31) are shrunk so their lesions are ACNE04-sized.
    The zoom is clipped to ZOOM_LIMITS; without boxes or a reference it is 1.
    """
    ratio = median_box_ratio(samples)
    zoom = 1.0
    if ratio and reference_box_ratio:
        zoom = float(np.clip(reference_box_ratio / ratio, *ZOOM_LIMITS))
    scales = [REFERENCE_SIDE * work_scale * zoom / max(image_size(s)) for s in samples]
    return scales, zoom


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def scaled_sample(sample: Sample, scale: float) -> tuple[np.ndarray, tuple[TrueLesion, ...]]:
    """The photo and its boxes resized by `scale` (the segmenter's working scale, or an extra
    set's per-photo factor, `extra_set_scales`)."""
    image = read_rgb(sample.image_path)
    if scale == 1.0:
        return image, sample.lesions
    h, w = image.shape[:2]
    image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    lesions = tuple(
        TrueLesion(tuple(int(round(v * scale)) for v in l.bbox), l.kind) for l in sample.lesions
    )
    return image, lesions


def kind_value(kind: str | None) -> int:
    return UNTYPED if kind is None else LESION_KINDS.index(kind) + 1


def render_targets(shape: tuple[int, int], lesions: tuple[TrueLesion, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Kind map (0 = skin, k+1 = ellipse of kind k inside each box, UNTYPED for a lesion of
    unknown type) and centre heatmap.

    Large boxes are drawn first so a small lesion on top of a large one stays visible.
    The heatmap is an elliptical Gaussian per lesion (sigma = box side / 6), peak 1 at its centre.
    """
    h, w = shape
    kind_map = np.zeros((h, w), np.uint8)
    heat = np.zeros((h, w), np.float32)
    order = sorted(lesions, key=lambda l: -(l.bbox[2] - l.bbox[0]) * (l.bbox[3] - l.bbox[1]))
    for lesion in order:
        x0, y0, x1, y1 = lesion.bbox
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ax, ay = max((x1 - x0) / 2, 1), max((y1 - y0) / 2, 1)
        cv2.ellipse(kind_map, (int(round(cx)), int(round(cy))), (int(round(ax)), int(round(ay))),
                    0, 0, 360, kind_value(lesion.kind), -1)
        sx, sy = max(ax / 3, 1.0), max(ay / 3, 1.0)
        xa, xb = max(int(cx - 3 * sx), 0), min(int(cx + 3 * sx) + 1, w)
        ya, yb = max(int(cy - 3 * sy), 0), min(int(cy + 3 * sy) + 1, h)
        if xa >= xb or ya >= yb:
            continue
        gx = np.exp(-((np.arange(xa, xb) - cx) ** 2) / (2 * sx**2))
        gy = np.exp(-((np.arange(ya, yb) - cy) ** 2) / (2 * sy**2))
        g = (gy[:, None] * gx[None, :]).astype(np.float32)
        g /= g.max()
        np.maximum(heat[ya:yb, xa:xb], g, out=heat[ya:yb, xa:xb])
    return kind_map, heat


def build_augmentation(crop: int, seed: int | None = None):
    """Geometry, scale, colour, blur and compression changes so the model generalises to other
    cameras, distances and lighting than the one hospital's. Albumentations keeps its own random
    generator (numpy's global seed does not reach it), hence the explicit seed."""
    import albumentations as A

    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(scale=(0.7, 1.4), rotate=(-15, 15), p=0.8, border_mode=cv2.BORDER_CONSTANT),
        A.PadIfNeeded(crop, crop, border_mode=cv2.BORDER_CONSTANT),
        A.RandomCrop(crop, crop),
        A.ColorJitter(brightness=0.4, contrast=0.3, saturation=0.3, hue=0.04, p=0.8),
        # One gain per colour channel: another white balance (`evaluate --perturb` measured warm and
        # cool casts, exposure and messaging-app JPEG as the shifts that moved counts most).
        A.MultiplicativeNoise(multiplier=(0.85, 1.15), per_channel=True, elementwise=False, p=0.4),
        A.RandomGamma(p=0.3),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 7)), A.MotionBlur(blur_limit=(3, 7))], p=0.3),
        A.Downscale(scale_range=(0.5, 0.9), p=0.15),
        A.ImageCompression(quality_range=(20, 95), p=0.4),
        A.GaussNoise(std_range=(0.02, 0.06), p=0.2),
    ], seed=seed)


class SegmentationDataset:
    """Random augmented crops with their kind map and heatmap (torch Dataset protocol).
    `scale`: one resize factor for every photo, or one per photo (mixed data sets)."""

    def __init__(self, samples: list[Sample], crop: int, mean, std, scale: float | list[float] = 1.0,
                 seed: int = 0) -> None:
        self.samples = samples
        self.scales = [scale] * len(samples) if isinstance(scale, (int, float)) else list(scale)
        if len(self.scales) != len(samples):
            raise ValueError(f"{len(self.scales)} scales for {len(samples)} samples")
        self.augment = build_augmentation(crop, seed)
        self.mean = np.asarray(mean, np.float32) * 255
        self.std = np.asarray(std, np.float32) * 255

    def __len__(self) -> int:
        return len(self.samples)

    def reseed(self, seed: int) -> None:
        self.augment.set_random_seed(seed)

    def __getitem__(self, index: int):
        import torch

        sample = self.samples[index]
        image, lesions = scaled_sample(sample, self.scales[index])
        kind_map, heat = render_targets(image.shape[:2], lesions)
        out = self.augment(image=image, masks=[kind_map, heat])
        image, (kind_map, heat) = out["image"], out["masks"]
        x = (image.astype(np.float32) - self.mean) / self.std
        return (
            torch.from_numpy(x.transpose(2, 0, 1).copy()),
            torch.from_numpy(np.asarray(kind_map, np.int64)),
            torch.from_numpy(np.asarray(heat, np.float32)),
        )


def seed_augmentation_worker(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: each worker draws its own augmentations, fixed by the
    loader's seed (forked workers would otherwise all repeat the parent's random state)."""
    import torch

    info = torch.utils.data.get_worker_info()
    info.dataset.reseed(info.seed % 2**32)
