"""Does the reduced JPEG decode change any result? (issue 27; not a timed test)

    python -m benchmarks.check_reduced_decode [--data ../shared/data/acne04] [--split valid]
        [--limit N] [--megapixels 12] [--output benchmarks/results/reduced_decode.json]

Each photo of the split is enlarged to `--megapixels` (bicubic) and encoded as a phone would
(JPEG, quality 92, 4:2:0), then analysed twice with the same models: decoded in full (the old
way, `decode_photo(..., reduced_decode=False)`) and decoded at the reduced size the analysis
needs (the default). Compared: the counts by type, the grade, the face box, and every lesion's
box on the full photo (each lesion of the old analysis matched to the nearest of the new one).
`--noise-floor` compares instead two full decodes of the same photo saved at JPEG quality 92 and
91 (an imperceptible change): how far the results move anyway. Prints and writes a JSON summary; the photos are read from ../shared at run time and never
written anywhere.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def enlarged_jpeg(path: Path, megapixels: float, quality: int = 92) -> bytes:
    """The photo enlarged to about `megapixels`, as a phone's JPEG."""
    image = np.asarray(Image.open(path).convert("RGB"))
    h, w = image.shape[:2]
    factor = math.sqrt(megapixels * 1e6 / (h * w))
    big = cv2.resize(image, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def box_shift(a: list[int], b: list[int]) -> int:
    """The largest difference between two boxes' edges, in photo pixels."""
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def compare(old: dict, new: dict) -> dict:
    """One photo's differences between the full-decode and the reduced-decode analyses."""
    old_boxes = [lesion["bbox"] for lesion in old["lesions"]]
    new_boxes = [lesion["bbox"] for lesion in new["lesions"]]
    shifts = [min((box_shift(a, b) for b in new_boxes), default=None) for a in old_boxes]
    face_shift = None
    if old["face"]["box"] and new["face"]["box"]:
        face_shift = max(abs(x - y) for x, y in zip(old["face"]["box"], new["face"]["box"], strict=True))
    return {
        "same_counts": old["counts"] == new["counts"],
        "same_grade": (old["grade"] or {}).get("value") == (new["grade"] or {}).get("value"),
        "same_assessable": old["assessable"] == new["assessable"],
        "lesions_old": len(old_boxes), "lesions_new": len(new_boxes),
        "lesion_shifts_px": shifts,
        "face_box_shift_px": face_shift,
    }


def summarise(rows: list[dict]) -> dict:
    shifts = [s for row in rows for s in row["lesion_shifts_px"] if s is not None]
    unmatched = sum(1 for row in rows for s in row["lesion_shifts_px"] if s is None)
    faces = [row["face_box_shift_px"] for row in rows if row["face_box_shift_px"] is not None]
    return {
        "photos": len(rows),
        "photos_same_counts": sum(row["same_counts"] for row in rows),
        "photos_same_grade": sum(row["same_grade"] for row in rows),
        "photos_same_assessable": sum(row["same_assessable"] for row in rows),
        "photos_reduced": sum(row.get("reduction", 1) > 1 for row in rows),
        "lesions": len(shifts) + unmatched,
        "lesions_within_1px": sum(s <= 1 for s in shifts),
        "lesions_same_box": sum(s == 0 for s in shifts),
        "lesion_shift_max_px": max(shifts, default=0),
        "lesions_unmatched": unmatched,
        "face_box_shift_max_px": round(max(faces, default=0.0), 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.check_reduced_decode", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "acne04")
    p.add_argument("--split", default="valid")
    p.add_argument("--limit", type=int, default=0, help="at most this many photos (0: all)")
    p.add_argument("--megapixels", type=float, default=12.0)
    p.add_argument("--weights", type=Path, default=ROOT / "weights")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--output", type=Path)
    p.add_argument("--noise-floor", action="store_true",
                   help="compare instead two full decodes of the photo saved at quality 92 and 91: "
                        "how much an imperceptible change of the file moves the results")
    args = p.parse_args(argv)
    from core.imaging import decode_photo
    from core.pipeline import load_analyzer

    photos = sorted((args.data / "images" / args.split).glob("*.jpg"))
    if args.limit:
        photos = photos[: args.limit]
    if not photos:
        print(f"no photos in {args.data / 'images' / args.split}", file=sys.stderr)
        return 1
    analyzer = load_analyzer(args.weights, threads=args.threads)
    rows = []
    for index, path in enumerate(photos):
        upload = enlarged_jpeg(path, args.megapixels)
        full = decode_photo(upload, filename="photo.jpg", reduced_decode=False)
        if args.noise_floor:
            reduced = decode_photo(enlarged_jpeg(path, args.megapixels, quality=91),
                                   filename="photo.jpg", reduced_decode=False)
        else:
            reduced = decode_photo(upload, filename="photo.jpg")
        row = compare(analyzer.analyze(full).to_dict(), analyzer.analyze(reduced).to_dict())
        row["reduction"] = reduced.reduction
        rows.append(row)
        if (index + 1) % 20 == 0:
            print(f"{index + 1}/{len(photos)}", json.dumps(summarise(rows)), file=sys.stderr, flush=True)
    summary = {"split": args.split, "megapixels": args.megapixels,
               "compared": "quality 92 vs 91, both decoded in full" if args.noise_floor
               else "decoded in full vs reduced", **summarise(rows),
               "differing_photos": [{"photo": i, **row} for i, row in enumerate(rows)
                                    if not row["same_counts"] or any(
                                        s is None or s > 1 for s in row["lesion_shifts_px"])]}
    text = json.dumps(summary, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
