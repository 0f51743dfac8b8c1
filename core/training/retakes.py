"""How much would a retaken photo change? Simulated retakes of the valid photos, through the product.

    python -m core.training.retakes --data ../shared/data/acne04 --data ../shared/data/web_acne \\
        --split valid --retakes 5 --photos 80 --work /tmp/retakes/run --install weights

Each retake of a photo combines a shift and crop (a window of 80% of each side, moved by up to
+-5% within the photo), scale +-10% (the window's size), rotation +-5 degrees, exposure +-15%,
white balance +-8% per channel and JPEG quality 70-95, each drawn from a generator seeded by
`--seed`, the photo's name and the retake's number (a rerun draws the same retakes). The JPEG
bytes go through the upload's decoder and `core.analyze.result_for`: the command line's own
analysis, the assessable decision included. Per retake one JSON line is appended to
`WORK/retakes.jsonl`, so a killed run resumes where it stopped.

The table (`core.training.retake_stats`) gives per measure (total, inflammatory and
non-inflammatory counts, lesion area, grade) the per-photo SD and coefficient of variation, the
ICC and SEM, and by count level the SD, the band a retaken photo lands within (1.96 SD) and
MDC95 = 1.96 * sqrt(2) * SEM. `--install DIR` writes it to DIR/retake_noise.json and lists it with
its SHA-256 in DIR/manifest.json (`core.retake_noise` reads it); `--markdown FILE` writes the
model card's table. The test split is refused: it stays for the final numbers.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from core.manifest import DEFAULT_WEIGHTS_DIR, MANIFEST_NAME, sha256_of
from core.retake_noise import TABLE_FILE, TABLE_KEY
from core.training.data import Sample, labelled_only, read_split
from core.training.retake_stats import noise_table, markdown_table

CROP = 0.8  # the retake's window: this share of each side of the photo
MAX_SHIFT = 0.05
MAX_SCALE = 0.10
MAX_ROTATION_DEG = 5.0
MAX_EXPOSURE = 0.15
MAX_WHITE_BALANCE = 0.08
JPEG_QUALITY = (70, 95)
RECORDS = "retakes.jsonl"
# What a retake varies: everything (the table), or one part alone (what moves the numbers).
VARY = ("all", "framing", "light", "jpeg")


@dataclass(frozen=True)
class Retake:
    """One simulated retake's settings."""

    shift_x: float  # share of the photo's width, after keeping the window inside the photo
    shift_y: float
    scale: float  # >1: the skin looks larger (closer)
    rotation_deg: float
    exposure: float
    white_balance: tuple[float, float, float]
    jpeg_quality: int


def draw_retake(seed: int, photo: str, index: int, vary: str = "all") -> Retake:
    """The retake `index` of `photo`, drawn from a generator seeded by all three. `vary` keeps
    one part of the retake as drawn and the others plain (the central crop, exposure and white
    balance unchanged, JPEG quality 95), to tell which part moves the numbers: see VARY."""
    if vary not in VARY:
        raise ValueError(f"vary={vary!r}; valid: {', '.join(VARY)}")
    rng = np.random.default_rng([seed, zlib.crc32(photo.encode()), index])
    drawn = Retake(shift_x=float(rng.uniform(-MAX_SHIFT, MAX_SHIFT)),
                   shift_y=float(rng.uniform(-MAX_SHIFT, MAX_SHIFT)),
                   scale=float(rng.uniform(1 - MAX_SCALE, 1 + MAX_SCALE)),
                   rotation_deg=float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)),
                   exposure=float(rng.uniform(1 - MAX_EXPOSURE, 1 + MAX_EXPOSURE)),
                   white_balance=tuple(float(g) for g in rng.uniform(1 - MAX_WHITE_BALANCE,
                                                                      1 + MAX_WHITE_BALANCE, 3)),
                   jpeg_quality=int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))
    plain = Retake(0.0, 0.0, 1.0, 0.0, 1.0, (1.0, 1.0, 1.0), JPEG_QUALITY[1])
    keep = {"all": asdict(drawn), "framing": {"shift_x", "shift_y", "scale", "rotation_deg"},
            "light": {"exposure", "white_balance"}, "jpeg": {"jpeg_quality"}}[vary]
    return Retake(**{k: (getattr(drawn, k) if k in keep else v) for k, v in asdict(plain).items()})


def retake_pixels(image: np.ndarray, retake: Retake) -> tuple[np.ndarray, Retake]:
    """The retaken photo (RGB uint8, CROP of each side at the photo's own pixel size) and the
    retake with its shift as applied: clipped so the turned window stays inside the photo."""
    h, w = image.shape[:2]
    ow, oh = max(1, round(w * CROP)), max(1, round(h * CROP))
    theta = np.deg2rad(retake.rotation_deg)
    cos, sin, s = float(np.cos(theta)), float(np.sin(theta)), retake.scale
    # Half-extents, in the photo, of the turned window.
    ex = (abs(cos) * ow + abs(sin) * oh) / (2 * s)
    ey = (abs(sin) * ow + abs(cos) * oh) / (2 * s)
    dx = float(np.clip(retake.shift_x * w, -max(0.0, w / 2 - ex), max(0.0, w / 2 - ex)))
    dy = float(np.clip(retake.shift_y * h, -max(0.0, h / 2 - ey), max(0.0, h / 2 - ey)))
    cx, cy = w / 2 + dx, h / 2 + dy
    # Output pixel -> photo pixel.
    matrix = np.array([[cos / s, -sin / s, cx - (cos * ow - sin * oh) / (2 * s)],
                       [sin / s, cos / s, cy - (sin * ow + cos * oh) / (2 * s)]], np.float64)
    out = cv2.warpAffine(image, matrix, (ow, oh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REFLECT_101)
    gain = retake.exposure * np.asarray(retake.white_balance, np.float32)
    out = np.clip(out.astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)
    applied = Retake(**{**asdict(retake), "shift_x": dx / w, "shift_y": dy / h})
    return out, applied


def retake_jpeg(image: np.ndarray, retake: Retake) -> tuple[bytes, Retake]:
    """The retaken photo as the JPEG bytes a phone would upload."""
    pixels, applied = retake_pixels(image, retake)
    ok, data = cv2.imencode(".jpg", pixels[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, retake.jpeg_quality])
    if not ok:
        raise ValueError("JPEG encoding of a retake failed")
    return data.tobytes(), applied


def choose_photos(samples: list[Sample], limit: int | None, seed: int) -> list[Sample]:
    """Up to `limit` labelled photos: as many of each true grade as there are (grades with few
    photos give all they have, so severe acne is not left to chance), else a seeded sample."""
    samples = labelled_only(samples)
    if limit is None or limit >= len(samples):
        return samples
    rng = np.random.default_rng(seed)
    by_grade: dict[object, list[Sample]] = {}
    for sample in samples:
        by_grade.setdefault(sample.grade, []).append(sample)
    pools = {g: [group[i] for i in rng.permutation(len(group))] for g, group in sorted(
        by_grade.items(), key=lambda item: (item[0] is None, item[0] or 0))}
    chosen: list[Sample] = []
    while len(chosen) < limit:  # round-robin over grades
        for pool in pools.values():
            if pool and len(chosen) < limit:
                chosen.append(pool.pop())
    order = {id(s): i for i, s in enumerate(samples)}
    return sorted(chosen, key=lambda s: order[id(s)])


def measures_of(result: dict) -> dict:
    """The retake's numbers from the analysis JSON (None where the photo was not assessable)."""
    counts, grade = result.get("counts"), result.get("grade")
    assessable = bool(result.get("assessable"))
    return {
        "assessable": assessable,
        "reasons": list(result.get("not_assessable_reasons") or []),
        "total": counts["total"] if assessable and counts else None,
        "inflammatory": counts["inflammatory"] if assessable and counts else None,
        "non_inflammatory": counts["non_inflammatory"] if assessable and counts else None,
        "lesion_area": result.get("lesion_area_fraction") if assessable else None,
        "grade": grade["value"] if assessable and grade else None,
    }


def read_records(path: Path, seed: int, model_version: str, vary: str = "all"
                 ) -> dict[tuple[str, str, int], dict]:
    """The retakes already measured with this seed, model and `vary` (a torn last line is
    skipped)."""
    done: dict[tuple[str, str, int], dict] = {}
    if not path.is_file():
        return done
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("seed") == seed and record.get("model_version") == model_version \
                and record.get("vary", "all") == vary:
            done[(record["set"], record["image"], record["retake"])] = record
    return done


def run_retakes(sets: dict[str, list[Sample]], retakes: int, seed: int, analyzer,  # noqa: ANN001
                work: Path, log=print, vary: str = "all") -> list[dict]:  # noqa: ANN001
    """Measure every retake not yet in `work`'s records; all records of this seed, model and
    `vary`."""
    from core.analyze import result_for
    from core.imaging import decode_photo

    work.mkdir(parents=True, exist_ok=True)
    path = work / RECORDS
    done = read_records(path, seed, analyzer.model_version, vary)
    todo = sum(1 for name, samples in sets.items() for s in samples for r in range(retakes)
               if (name, s.image_path.name, r) not in done)
    log(f"{len(done)} retakes measured before, {todo} to go")
    started, finished = time.monotonic(), 0
    torn = path.is_file() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
    with path.open("a") as handle:
        if torn:  # a run killed mid-line: start the next record on a line of its own
            handle.write("\n")
        for name, samples in sets.items():
            for sample in samples:
                image, photo_name = None, sample.image_path.name
                for index in range(retakes):
                    key = (name, photo_name, index)
                    if key in done:
                        continue
                    if image is None:
                        image = decode_photo(sample.image_path.read_bytes(), filename=photo_name).image
                    data, applied = retake_jpeg(image, draw_retake(seed, photo_name, index, vary))
                    record = {"set": name, "image": photo_name, "retake": index,
                              "true_grade": sample.grade, "seed": seed, "vary": vary,
                              "model_version": analyzer.model_version,
                              "retake_settings": asdict(applied)}
                    try:
                        photo = decode_photo(data, filename=f"retake{index}.jpg")
                        record.update(measures_of(result_for(analyzer, photo, photo_name)))
                    except Exception as exc:  # noqa: BLE001 - one failed retake must not stop the run
                        record.update({"assessable": False, "error": str(exc)})
                    handle.write(json.dumps(record) + "\n")
                    handle.flush()
                    done[key] = record
                    finished += 1
                    if finished % 25 == 0 or finished == todo:
                        rate = (time.monotonic() - started) / finished
                        log(f"{finished}/{todo} retakes, {rate:.2f} s each, "
                            f"about {rate * (todo - finished) / 60:.0f} min left")
    wanted = {(name, s.image_path.name) for name, samples in sets.items() for s in samples}
    return [r for k, r in sorted(done.items()) if (k[0], k[1]) in wanted and k[2] < retakes]


def install_table(table: dict, weights_dir: Path) -> Path:
    """Write the table into `weights_dir` and list it, with its SHA-256, under the manifest's
    "tables" (every other entry kept; the manifest is re-read just before it is written)."""
    target = weights_dir / TABLE_FILE
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=2) + "\n")
    tmp.replace(target)
    manifest_path = weights_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest.setdefault("tables", {})[TABLE_KEY] = {
        "file": TABLE_FILE, "sha256": sha256_of(target), "version": table["version"]}
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(manifest_path)
    return target


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m core.training.retakes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, action="append", required=True,
                   help="a data set folder in the ACNE04 layout (repeat for several)")
    p.add_argument("--split", default="valid", choices=("train", "valid"),
                   help="the split retaken (valid by default; test is kept for the final numbers)")
    p.add_argument("--retakes", type=int, default=5, help="retakes per photo (at least 2)")
    p.add_argument("--photos", type=int, default=None,
                   help="at most this many photos per data set, spread over the true grades")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vary", choices=VARY, default="all",
                   help="vary the whole retake (the table; default) or one part alone: framing "
                        "(shift, crop, scale, rotation), light (exposure, white balance) or jpeg")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    p.add_argument("--engine", choices=("auto", "onnx", "torch"), default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", type=Path, required=True,
                   help="folder of the per-retake records (a rerun resumes from them)")
    p.add_argument("--install", type=Path, metavar="DIR",
                   help="write retake_noise.json into this weights folder and list it in its manifest")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="write the model card's table here")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    args = p.parse_args(argv)
    if args.retakes < 2:
        p.error(f"--retakes {args.retakes}: the spread between retakes needs at least 2")
    if args.install and args.vary != "all":
        p.error(f"--install with --vary {args.vary}: the product's table varies the whole retake")
    if args.photos is not None and args.photos < 2:
        p.error(f"--photos {args.photos}: at least 2 photos are needed")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from core.pipeline import load_analyzer

    analyzer = load_analyzer(args.weights, engine=args.engine, threads=args.threads)
    sets = {}
    for folder in args.data:
        name = folder.resolve().name
        if name in sets:
            raise SystemExit(f"--data {folder}: two data sets named {name!r}")
        sets[name] = choose_photos(read_split(folder, args.split), args.photos, args.seed)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    log(", ".join(f"{name}: {len(s)} photos" for name, s in sets.items())
        + f", {args.retakes} retakes each, model {analyzer.model_version}")
    records = run_retakes(sets, args.retakes, args.seed, analyzer, args.work, log, args.vary)
    made = {"split": args.split, "retakes_per_photo": args.retakes, "seed": args.seed,
            "vary": args.vary,
            "photos": {name: len(s) for name, s in sets.items()},
            "photos_limit_per_set": args.photos, "model_version": analyzer.model_version,
            "engine": analyzer.engine, "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "retake": {"crop": CROP, "shift": MAX_SHIFT, "scale": MAX_SCALE,
                       "rotation_deg": MAX_ROTATION_DEG, "exposure": MAX_EXPOSURE,
                       "white_balance": MAX_WHITE_BALANCE, "jpeg_quality": list(JPEG_QUALITY)}}
    try:
        table = noise_table(records, made)
    except ValueError as exc:
        log(f"No table: {exc}")
        return 2
    if args.install:
        log(f"wrote {install_table(table, args.install)}")
    if args.markdown:
        args.markdown.write_text(markdown_table(table))
        log(f"wrote {args.markdown}")
    print(json.dumps(table, indent=2) if args.json else markdown_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
