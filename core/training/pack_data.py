"""Pack what a training run needs into one archive small enough to carry to a lent GPU machine.

    python -m core.training.pack_data --data ../shared/data/acne04 --out gpu_carry/acne04-pack.tar.gz
    python -m core.training.pack_data --data ../shared/data/acne04 --extra-data ../shared/data/web_acne

The machine receives the checkout plus at most 64 MiB of carried files, and ACNE04 is about
150 MB, so the archive holds a subset in ACNE04's own layout (`read_split` reads it unchanged):
- train: one of the exporter's three augmented copies of each photo (chosen with the seed), as
  many photos as the size budget allows, in a seeded random order so every grade keeps its share;
- valid: only the photos that `train_segmenter` scores after each epoch;
- the MobileNetV2 ImageNet weights as float16 (`imagenet.pth`, for `--imagenet`), half the size;
- each `--extra-data` set (train_segmenter's option) as `extra/<folder name>/`, its train split
  only (training monitors ACNE04's valid photos alone), one copy of each labelled photo (photos
  without any label are left out, as training leaves them out), packed before ACNE04's train
  photos within `--extra-budget-share` of the budget (split equally between the sets; a seeded
  subset where a set does not fit). gpu_train.sh passes every packed set to training.
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
from core.training.data import SOURCE_COLUMNS, read_split
from core.training.train_segmenter import monitor_photos

ROOT = "acne04"  # folder name inside the archive
EXTRA_ROOT = "extra"  # extra sets: extra/<their folder name>/


def _index_rows(data_dir: Path) -> list[dict]:
    with (data_dir / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def choose_train_rows(rows: list[dict], seed: int) -> list[dict]:
    """One augmented copy per training photo (grouped by the original photo: ACNE04's
    `acne04_source_image`, web_acne's `source_image`), in a seeded order."""
    rng = random.Random(seed)
    copies: dict[str, list[dict]] = {}
    source = next((c for c in SOURCE_COLUMNS if rows and c in rows[0]), "acne04_source_image")
    for row in rows:
        if row["split"] == "train":
            copies.setdefault(row[source], []).append(row)
    chosen = [rng.choice(group) for _, group in sorted(copies.items())]
    rng.shuffle(chosen)
    return chosen


def _files(data_dir: Path, row: dict) -> list[tuple[Path, str]]:
    split, image = row["split"], row["image"]
    label = f"labels_voc/{split}/{Path(image).stem}.xml"
    return [(data_dir / "images" / split / image, f"images/{split}/{image}"), (data_dir / label, label)]


def _fill(data_dir: Path, rows: list[dict], room: float) -> tuple[list[dict], float]:
    """The rows, in their order, while their files fit in `room` bytes; and the bytes spent."""
    chosen, spent = [], 0.0
    for row in rows:
        size = sum(src.stat().st_size for src, _ in _files(data_dir, row))
        if spent + size > room:
            break
        chosen.append(row)
        spent += size
    return chosen, spent


def _write_set(archive: tarfile.TarFile, root: str, data_dir: Path, rows: list[dict], chosen: list[dict]) -> None:
    """The chosen rows' files and an index.csv of them (in index.csv order, as read_split expects)."""
    for row in chosen:
        for src, name in _files(data_dir, row):
            archive.add(src, arcname=f"{root}/{name}")
    index = io.StringIO()
    writer = csv.DictWriter(index, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    kept = {(r["split"], r["image"]) for r in chosen}
    writer.writerows([r for r in rows if r["split"] == "train" and (r["split"], r["image"]) in kept]
                     + [r for r in rows if r["split"] != "train" and (r["split"], r["image"]) in kept])
    _add_bytes(archive, f"{root}/index.csv", index.getvalue().encode())


def pack(data_dir: Path, out: Path, budget_mb: float, val_images: int, seed: int = 0,
         imagenet: Path | None = None, extra: list[Path] | tuple = (),
         extra_budget_share: float = 0.25) -> dict:
    """Write the archive; returns how many photos of each split it holds, the photos of each
    extra set (`extra`: {folder name: photos}), the bytes of photos and labels before
    compression (`payload_bytes`, within the budget) and the archive's size in bytes."""
    if budget_mb <= 0:
        raise ValueError(f"budget_mb must be positive, got {budget_mb}")
    if not 0 <= extra_budget_share < 1:
        raise ValueError(f"extra_budget_share must lie in [0, 1), got {extra_budget_share}")
    data_dir = Path(data_dir)
    rows = _index_rows(data_dir)
    monitor = {s.image_path.name for s in monitor_photos(read_split(data_dir, "valid"), val_images)}
    valid_rows = [r for r in rows if r["split"] == "valid" and r["image"] in monitor]
    budget = budget_mb * 1e6
    # Valid always goes; then each extra set within its share; train photos fill what the budget
    # leaves (the float16 ImageNet weights, 7 MB, come on top).
    spent = sum(src.stat().st_size for r in valid_rows for src, _ in _files(data_dir, r))
    extras = []
    names = [Path(folder).name for folder in extra]
    if len(set(names)) != len(names):
        raise ValueError(f"extra sets need distinct folder names, got {names}")
    for folder in extra:
        folder = Path(folder)
        extra_rows = _index_rows(folder)
        labelled = {s.image_path.name for s in read_split(folder, "train") if s.labelled}
        candidates = [r for r in choose_train_rows(extra_rows, seed) if r["image"] in labelled]
        chosen, used = _fill(folder, candidates, min(budget * extra_budget_share / len(extra), budget - spent))
        if not chosen:
            raise ValueError(f"a budget of {budget_mb} MB leaves no room for a photo of {folder}")
        extras.append((folder, extra_rows, chosen))
        spent += used
    train_rows, used = _fill(data_dir, choose_train_rows(rows, seed), budget - spent)
    spent += used
    if not train_rows:
        raise ValueError(f"a budget of {budget_mb} MB leaves no room for a training photo")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as archive:
        _write_set(archive, ROOT, data_dir, rows, train_rows + valid_rows)
        for folder, extra_rows, chosen in extras:
            _write_set(archive, f"{EXTRA_ROOT}/{folder.name}", folder, extra_rows, chosen)
        state = torch.load(imagenet or imagenet_encoder_path("mobilenet_v2"), map_location="cpu",
                           weights_only=True)
        buffer = io.BytesIO()
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, buffer)
        _add_bytes(archive, "imagenet.pth", buffer.getvalue())
    tmp.replace(out)
    return {"train": len(train_rows), "valid": len(valid_rows),
            "extra": {folder.name: len(chosen) for folder, _, chosen in extras},
            "payload_bytes": int(spent), "bytes": out.stat().st_size}


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
    p.add_argument("--extra-data", type=Path, action="append", default=[], metavar="DIR",
                   help="an extra set in ACNE04's layout, as train_segmenter's option (repeatable)")
    p.add_argument("--extra-budget-share", type=float, default=0.25,
                   help="most of the budget the extra sets may take, together (default 0.25)")
    args = p.parse_args(argv)
    result = pack(args.data, args.out, args.budget_mb, args.val_images, args.seed, extra=args.extra_data,
                  extra_budget_share=args.extra_budget_share)
    extra = "".join(f", {n} photos of {name}" for name, n in result["extra"].items())
    print(f"{args.out}: {result['train']} train photos, {result['valid']} valid photos{extra}, "
          f"{result['payload_bytes'] / 1e6:.1f} MB of photos and labels, archive {result['bytes'] / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
