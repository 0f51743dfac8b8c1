"""ACNE04 reader: photos, lesion boxes by kind, grades; training targets and augmentation."""
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
}
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class TrueLesion:
    bbox: tuple[int, int, int, int]
    kind: str


@dataclass(frozen=True)
class Sample:
    image_path: Path
    source_image: str
    grade: int
    lesions: tuple[TrueLesion, ...]


def read_boxes(xml_path: Path) -> tuple[TrueLesion, ...]:
    """Parse one Pascal VOC file; bndbox tags are read by name (their order is unusual)."""
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


def read_split(data_dir: Path | str, split: str) -> list[Sample]:
    """All samples of one split, in index.csv order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    data_dir = Path(data_dir)
    index = data_dir / "index.csv"
    if not index.is_file():
        raise FileNotFoundError(f"{index} not found: is --data the ACNE04 folder?")
    samples = []
    with index.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["split"] != split:
                continue
            stem = Path(row["image"]).stem
            samples.append(
                Sample(
                    image_path=data_dir / "images" / split / row["image"],
                    source_image=row["acne04_source_image"],
                    grade=int(row["acne04_grade_from_filename"]),
                    lesions=read_boxes(data_dir / "labels_voc" / split / f"{stem}.xml"),
                )
            )
    return samples


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def scaled_sample(sample: Sample, scale: float) -> tuple[np.ndarray, tuple[TrueLesion, ...]]:
    """The photo and its boxes resized by `scale` (the segmenter's working scale)."""
    image = read_rgb(sample.image_path)
    if scale == 1.0:
        return image, sample.lesions
    h, w = image.shape[:2]
    image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    lesions = tuple(
        TrueLesion(tuple(int(round(v * scale)) for v in l.bbox), l.kind) for l in sample.lesions
    )
    return image, lesions


def render_targets(shape: tuple[int, int], lesions: tuple[TrueLesion, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Kind map (0 = skin, k+1 = ellipse of kind k inside each box) and centre heatmap.

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
                    0, 0, 360, LESION_KINDS.index(lesion.kind) + 1, -1)
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
    """Random augmented crops with their kind map and heatmap (torch Dataset protocol)."""

    def __init__(self, samples: list[Sample], crop: int, mean, std, scale: float = 1.0,
                 seed: int = 0) -> None:
        self.samples = samples
        self.scale = scale
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
        image, lesions = scaled_sample(sample, self.scale)
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
