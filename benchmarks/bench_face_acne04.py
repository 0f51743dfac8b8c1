"""Face found share and views on the ACNE04 valid split (not a test: the photos are read at run
time from ../shared/data/acne04 and never copied into the repository).

    python -m benchmarks.bench_face_acne04 [--data ../shared/data/acne04] [--split valid]
                                           [--threads 2] [--every 1] [--json OUT.json]

Prints one JSON object: photos, faces found (share), found on which look (`first`: MTCNN on the
photo; `second`: MTCNN on a copy, core.face.RETRY_VIEWS, rough), view counts, the median time per
photo, and a check of the second look's views: on every `--check-every`-th photo whose first
look finds the face, each mirrored or turned copy of RETRY_VIEWS is looked at on its own and its
view (from its landmarks mapped back onto the photo) compared with the first look's. `--json`
also writes the per-photo results (photo names are the dataset's file names: keep that file
outside the repository).
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from core.face import RETRY_VIEWS, FaceDetector

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "acne04"


def look(face) -> str:
    if not face.found:
        return "none"
    if not face.rough:
        return "first"
    return "second"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--every", type=int, default=1, help="use every n-th photo (sorted by name)")
    parser.add_argument("--check-every", type=int, default=4, help="second-look view check on every n-th face")
    parser.add_argument("--json", type=Path, default=None, help="per-photo results (outside the repo)")
    args = parser.parse_args(argv)

    paths = sorted((args.data / "images" / args.split).glob("*.jpg"))[:: args.every]
    detector = FaceDetector(threads=args.threads)
    rows, seconds = [], []
    for path in paths:
        image = np.asarray(Image.open(path).convert("RGB"))
        started = time.perf_counter()
        face = detector.detect(image)
        seconds.append(time.perf_counter() - started)
        row = {"photo": path.name, "look": look(face), "view": face.view, "yaw_ratio": face.yaw_ratio,
               "box": face.box, "landmarks": face.landmarks}
        if row["look"] == "first" and sum(r["look"] == "first" for r in rows) % args.check_every == 0:
            row["second_look_views"] = {
                str(view): detector._detect(image, first_look=False, retry_views=(view,)).view
                for view in RETRY_VIEWS if view[0] or view[1]  # mirrored or turned copies
            }
        rows.append(row)

    looks = Counter(r["look"] for r in rows)
    found = sum(r["look"] != "none" for r in rows)
    pairs = [(r["view"], v) for r in rows for v in r.get("second_look_views", {}).values() if v is not None]
    result = {
        "split": args.split,
        "photos": len(rows),
        "found": found,
        "found_share": round(found / max(1, len(rows)), 4),
        "looks": dict(looks),
        "views": dict(Counter(r["view"] for r in rows if r["look"] != "none")),
        "views_by_look": {
            name: dict(Counter(r["view"] for r in rows if r["look"] == name)) for name in looks if name != "none"
        },
        "second_look_view_check": {
            "first_look_faces_checked": sum("second_look_views" in r for r in rows),
            "copies_with_a_face": len(pairs),
            "same_view_as_first_look": sum(a == b for a, b in pairs),
            "side_views": sum(a != "front" for a, _ in pairs),
            "side_views_same": sum(a == b for a, b in pairs if a != "front"),
            "side_views_opposite": sum({a, b} == {"left", "right"} for a, b in pairs),
        },
        "ms_per_photo_median": round(float(np.median(seconds)) * 1000, 1),
        "ms_per_photo_without_a_first_look_face_median": round(
            float(np.median([s for s, r in zip(seconds, rows) if r["look"] != "first"] or [0.0])) * 1000, 1),
        "misses": [r["photo"] for r in rows if r["look"] == "none"],
    }
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
