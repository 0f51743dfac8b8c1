"""Pack what a training run needs into one archive small enough to carry to a lent GPU machine.

    python -m core.training.pack_data --data ../shared/data/acne04 --out gpu_carry/acne04-pack.tar.gz

The machine receives the checkout plus at most 64 MiB of carried files, and ACNE04 is about
150 MB, so the archive holds a subset in ACNE04's own layout (`read_split` reads it unchanged):
- train: one of the exporter's three augmented copies of each photo (chosen with the seed), as
  many photos as the size budget allows, in a seeded random order so every grade keeps its share;
- valid: only the photos that `train_segmenter` scores after each epoch;
- the MobileNetV2 ImageNet weights as float16 (`imagenet.pth`, for `--imagenet`), half the size.
JPEG files are copied byte for byte (re-encoding them made them larger); the XML labels compress.
The archive is patient data: keep it in an ignored folder and delete it after the run.
"""
from __future__ import annotations

import argparse
import csv
import io
import random
import tarfile
from pathlib import Path

import torch

from core.training.imagenet import imagenet_encoder_path
from core.training.data import read_split
from core.training.train_segmenter import monitor_photos

ROOT = "acne04"  # folder name inside the archive


def _index_rows(data_dir: Path) -> list[dict]:
    with (data_dir / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def choose_train_rows(rows: list[dict], seed: int) -> list[dict]:
    """One augmented copy per training photo (grouped by the original photo), in a seeded order."""
    rng = random.Random(seed)
    copies: dict[str, list[dict]] = {}
    for row in rows:
        if row["split"] == "train":
            copies.setdefault(row["acne04_source_image"], []).append(row)
    chosen = [rng.choice(group) for _, group in sorted(copies.items())]
    rng.shuffle(chosen)
    return chosen


def _files(data_dir: Path, row: dict) -> list[tuple[Path, str]]:
    split, image = row["split"], row["image"]
    label = f"labels_voc/{split}/{Path(image).stem}.xml"
    return [(data_dir / "images" / split / image, f"images/{split}/{image}"), (data_dir / label, label)]


def pack(data_dir: Path, out: Path, budget_mb: float, val_images: int, seed: int = 0,
         imagenet: Path | None = None) -> dict[str, int]:
    """Write the archive; returns how many photos of each split it holds and its size in bytes."""
    if budget_mb <= 0:
        raise ValueError(f"budget_mb must be positive, got {budget_mb}")
    data_dir = Path(data_dir)
    rows = _index_rows(data_dir)
    monitor = {s.image_path.name for s in monitor_photos(read_split(data_dir, "valid"), val_images)}
    valid_rows = [r for r in rows if r["split"] == "valid" and r["image"] in monitor]
    budget = budget_mb * 1e6
    # Valid always goes; train photos fill what the budget leaves (the float16 ImageNet weights,
    # 7 MB, come on top).
    spent = sum(src.stat().st_size for r in valid_rows for src, _ in _files(data_dir, r))
    train_rows = []
    for row in choose_train_rows(rows, seed):
        size = sum(src.stat().st_size for src, _ in _files(data_dir, row))
        if spent + size > budget:
            break
        train_rows.append(row)
        spent += size
    if not train_rows:
        raise ValueError(f"a budget of {budget_mb} MB leaves no room for a training photo")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as archive:
        for row in train_rows + valid_rows:
            for src, name in _files(data_dir, row):
                archive.add(src, arcname=f"{ROOT}/{name}")
        index = io.StringIO()
        writer = csv.DictWriter(index, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        kept = {r["image"] for r in train_rows}  # index.csv order, as read_split expects
        writer.writerows([r for r in rows if r["split"] == "train" and r["image"] in kept] + valid_rows)
        _add_bytes(archive, f"{ROOT}/index.csv", index.getvalue().encode())
        state = torch.load(imagenet or imagenet_encoder_path("mobilenet_v2"), map_location="cpu",
                           weights_only=True)
        buffer = io.BytesIO()
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, buffer)
        _add_bytes(archive, "imagenet.pth", buffer.getvalue())
    tmp.replace(out)
    return {"train": len(train_rows), "valid": len(valid_rows), "bytes": out.stat().st_size}


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("gpu_carry/acne04-pack.tar.gz"))
    p.add_argument("--budget-mb", type=float, default=40.0,
                   help="photos and labels before compression; the checkout, the wheels and the "
                        "ImageNet weights need the rest of the device's 64 MiB")
    p.add_argument("--val-images", type=int, default=60, help="as train_segmenter's --val-images")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    result = pack(args.data, args.out, args.budget_mb, args.val_images, args.seed)
    print(f"{args.out}: {result['train']} train photos, {result['valid']} valid photos, "
          f"{result['bytes'] / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
