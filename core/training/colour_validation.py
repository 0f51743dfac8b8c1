"""Validation of the colour measures (redness and dark marks, issue 29) through the product.

    OMP_NUM_THREADS=1 python -m core.training.colour_validation --data ../shared/data/acne04 \\
        --split valid --photos 30 --out /tmp/colour/validation [--weights weights]

Three parts, every photo through `core.pipeline.Analyzer.analyze` (the app's own analysis):
1. Stability under the camera: white balance +-8% per channel and exposure +-15% (gains in
   linear light), JPEG quality 70, 85 and 95; the red area and dark-mark area of each copy
   against the clean photo's, in percentage points of the measured skin (target: median
   absolute change at most 1).
2. Sensitivity: discs of known total area (0.5-8% of the measured skin) painted onto the clear
   skin of photos with few lesions (at most 5 boxes), red (a* up) or brown (darker, browner) at
   two contrasts and one under the threshold; the measured increase against the painted area:
   least-squares slope and R^2.
3. A colour card: a ColorChecker Classic drawn from its published sRGB values into each photo,
   the photo's colours shifted (per-channel gains 0.8-1.2, cross-talk +-5%, a tone curve
   gamma 0.9-1.1, JPEG 85), found and corrected back; CIEDE2000 of the corrected patches
   against the reference (target: median at most 2), and how far the clear skin's colour moves
   with and without the card.
4. Retake noise: each photo retaken 5 times as `core.training.retakes` draws them; the pooled
   within-photo SD (SEM), ICC and MDC95 of both areas (what compare needs to tell a change).
Writes `colour_validation.json` and `colour_validation.md` (the model card's tables) to --out.
The photos are read at run time and never copied.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

from core.colour_card import COLOUR_CHECKER_LAB, CARD_COLUMNS, correct_colours, draw_colour_checker, find_colour_card
from core.colour_measures import DARK_BIT, MEASURED_BIT, RED_BIT
from core.colour_space import delta_e_2000, linear_to_srgb8, srgb_to_lab, srgb_to_linear
from core.manifest import DEFAULT_WEIGHTS_DIR
from core.regions import facial_skin_mask
from core.training.data import labelled_only, read_rgb, read_split

WHITE_BALANCE = 0.08
EXPOSURE = 0.15
JPEG_QUALITIES = (70, 85, 95)
FEW_LESIONS = 5
PAINTED_PERCENT = (0.5, 1.0, 2.0, 4.0, 8.0)
# Linear-light gains of the painted marks: red (a* about +9 / +13), brown (L* about -7 / -10),
# and one of each under the thresholds (a* about +4, L* about -4).
PAINTS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "red, strong": ("red", (1.0, 0.68, 0.76)),
    "red, moderate": ("red", (1.0, 0.78, 0.84)),
    "red, under threshold": ("red", (1.0, 0.90, 0.93)),
    "brown, strong": ("dark", (0.75, 0.66, 0.55)),
    "brown, moderate": ("dark", (0.84, 0.77, 0.68)),
    "brown, under threshold": ("dark", (0.92, 0.88, 0.82)),
}
DISC_RADIUS = 0.025  # of the square root of the skin's pixel count


def encode_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])


def linear_gain(image: np.ndarray, gains) -> np.ndarray:  # noqa: ANN001
    """White balance / exposure: gains per channel in linear light."""
    return linear_to_srgb8(srgb_to_linear(image) * np.asarray(gains, np.float32))


def camera_variants() -> dict[str, object]:
    """name -> function(image) of the stability part."""
    variants: dict[str, object] = {}
    for channel, name in enumerate("RGB"):
        for sign in (+1, -1):
            gains = [1.0, 1.0, 1.0]
            gains[channel] += sign * WHITE_BALANCE
            variants[f"white balance {name} {sign * WHITE_BALANCE:+.0%}"] = (
                lambda image, g=tuple(gains): linear_gain(image, g))
    for sign in (+1, -1):
        variants[f"exposure {sign * EXPOSURE:+.0%}"] = (
            lambda image, e=1 + sign * EXPOSURE: linear_gain(image, (e, e, e)))
    for quality in JPEG_QUALITIES:
        variants[f"JPEG {quality}"] = lambda image, q=quality: encode_jpeg(image, q)
    return variants


def areas(analysis) -> tuple[float, float] | None:  # noqa: ANN001
    c = analysis.colour
    return None if c is None else (100.0 * c.red_area_fraction, 100.0 * c.dark_area_fraction)


def stability(analyzer, samples, log) -> dict:  # noqa: ANN001
    variants = camera_variants()
    changes: dict[str, dict[str, list[float]]] = {name: {"red": [], "dark": []} for name in variants}
    clean_values = []
    for i, sample in enumerate(samples):
        image = read_rgb(sample.image_path)
        clean = areas(analyzer.analyze(image))
        if clean is None:
            continue
        clean_values.append(clean)
        for name, vary in variants.items():
            moved = areas(analyzer.analyze(vary(image)))
            if moved is None:
                continue
            changes[name]["red"].append(moved[0] - clean[0])
            changes[name]["dark"].append(moved[1] - clean[1])
        log(f"stability {i + 1}/{len(samples)}")
    rows = {}
    for name, by in changes.items():
        rows[name] = {f"{k}_{stat}": round(float(f(np.abs(v))), 3) if v else None
                      for k, v in by.items()
                      for stat, f in (("median_abs_pp", np.median), ("p90_abs_pp", lambda a: np.percentile(a, 90)))}
        rows[name]["n"] = len(by["red"])
    everything = {k: np.abs(np.concatenate([np.asarray(by[k]) for by in changes.values()])) for k in ("red", "dark")}
    clean_arr = np.asarray(clean_values)
    return {"variants": rows, "n_photos": len(clean_values),
            "all": {f"{k}_median_abs_pp": round(float(np.median(v)), 3) for k, v in everything.items()}
            | {f"{k}_p90_abs_pp": round(float(np.percentile(v, 90)), 3) for k, v in everything.items()},
            "clean_red_area_percent_median": round(float(np.median(clean_arr[:, 0])), 2),
            "clean_dark_area_percent_median": round(float(np.median(clean_arr[:, 1])), 2)}


def paint_discs(image: np.ndarray, allowed: np.ndarray, n_px: int, radius: int, gains,  # noqa: ANN001
                rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """`image` with non-overlapping discs (about `n_px` pixels in all) painted inside `allowed`."""
    out = image.copy()
    painted = np.zeros(allowed.shape, np.uint8)
    free = allowed.copy()
    ys, xs = np.nonzero(cv2.erode(free.astype(np.uint8), np.ones((2 * radius + 1,) * 2, np.uint8)))
    tries = 0
    while painted.sum() < n_px and tries < 2000 and len(ys):
        tries += 1
        k = int(rng.integers(len(ys)))
        y, x = int(ys[k]), int(xs[k])
        disc = np.zeros_like(painted)
        cv2.circle(disc, (x, y), radius, 1, -1)
        if (disc.astype(bool) & ~free).any():
            continue
        painted |= disc
        grown = cv2.dilate(disc, np.ones((2 * radius + 1,) * 2, np.uint8)).astype(bool)
        free &= ~grown
    mask = painted.astype(bool)
    out[mask] = linear_to_srgb8(srgb_to_linear(out[mask]) * np.asarray(gains, np.float32))
    return out, int(mask.sum())


def _fit(points: dict[str, list[tuple[float, float]]]) -> dict:
    rows = {}
    for name, pts in points.items():
        if len(pts) < 3:
            continue
        x, y = np.asarray(pts).T
        slope, intercept = np.polyfit(x, y, 1)
        r2 = 1.0 - np.sum((y - (slope * x + intercept)) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-12)
        rows[name] = {"slope": round(float(slope), 3), "intercept_pp": round(float(intercept), 3),
                      "r2": round(float(r2), 3), "n": len(pts),
                      "painted_percent_max": round(float(x.max()), 2)}
    return rows


def sensitivity(analyzer, samples, log) -> dict:  # noqa: ANN001
    """Two tables: the colour measure alone (`measure_colour` on the painted photo with the skin
    and lesions found on the clean photo), and the whole product (`analyze` of the painted
    photo, where the segmenter may take a painted disc for a lesion: lesions are no dark mark)."""
    from core.colour_measures import measure_colour

    points: dict[str, list[tuple[float, float]]] = {name: [] for name in PAINTS}
    alone: dict[str, list[tuple[float, float]]] = {name: [] for name in PAINTS}
    taken_for_lesions: dict[str, list[float]] = {name: [] for name in PAINTS}
    for i, sample in enumerate(samples):
        image = read_rgb(sample.image_path)
        clean = analyzer.analyze(image)
        if clean.colour is None or not clean.face.measurable:
            continue
        skin = facial_skin_mask(image.shape[:2], clean.face, clean.alignment)
        size = np.sqrt(skin.sum())
        margin = int(0.08 * size)
        lesions = cv2.dilate((clean.kind_mask > 0).astype(np.uint8), np.ones((margin + 1,) * 2, np.uint8))
        marks = (clean.colour.mask & (RED_BIT | DARK_BIT)) > 0
        marked = cv2.dilate(marks.astype(np.uint8), np.ones((margin + 1,) * 2, np.uint8))
        # clear skin that was measured (no hair, shadow or glare), well inside the face
        measured = cv2.erode(((clean.colour.mask & MEASURED_BIT) > 0).astype(np.uint8),
                             np.ones((2 * margin + 1,) * 2, np.uint8)).astype(bool)
        allowed = measured & ~lesions.astype(bool) & ~marked.astype(bool)
        measured_px = clean.colour.measured_fraction * skin.sum()
        base = areas(clean)
        clean_lesions = clean.kind_mask > 0
        own = measure_colour(image, skin, clean_lesions)
        rng = np.random.default_rng(zlib.crc32(sample.image_path.name.encode()))
        for name, (kind, gains) in PAINTS.items():
            for percent in PAINTED_PERCENT:
                target = int(percent / 100.0 * measured_px)
                painted_image, n = paint_discs(image, allowed, target, max(3, int(DISC_RADIUS * size)), gains, rng)
                if n == 0:
                    continue
                index = 0 if kind == "red" else 1
                measured = measure_colour(painted_image, skin, clean_lesions)
                if own is not None and measured is not None:
                    own_px = own.measured_fraction * skin.sum()
                    fractions = (measured.red_area_fraction, measured.dark_area_fraction)
                    before = (own.red_area_fraction, own.dark_area_fraction)
                    alone[name].append((100.0 * n / own_px, 100.0 * (fractions[index] - before[index])))
                analysis = analyzer.analyze(painted_image)
                after = areas(analysis)
                if after is None:
                    continue
                painted = np.any(painted_image != image, axis=2)
                taken_for_lesions[name].append(float((analysis.kind_mask[painted] > 0).mean()))
                points[name].append((100.0 * n / measured_px, after[index] - base[index]))
        log(f"sensitivity {i + 1}/{len(samples)}")
    return {"measure": _fit(alone), "product": _fit(points),
            "share_of_painted_pixels_taken_for_lesions": {
                name: round(float(np.mean(v)), 3) for name, v in taken_for_lesions.items() if v}}


def card_shift(rng: np.random.Generator):  # noqa: ANN201
    """A random camera: per-channel gains, cross-talk and a tone curve."""
    gains = rng.uniform(0.8, 1.2, 3)
    mix = np.eye(3) + rng.uniform(-0.05, 0.05, (3, 3)) * (1 - np.eye(3))
    mix /= mix.sum(axis=1, keepdims=True)
    gamma = rng.uniform(0.9, 1.1)

    def apply(image: np.ndarray) -> np.ndarray:
        linear = srgb_to_linear(image).reshape(-1, 3) @ (mix * gains[None, :]).T.astype(np.float32)
        shifted = linear_to_srgb8(linear).reshape(image.shape)
        toned = np.clip(255.0 * (shifted / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
        return encode_jpeg(toned, 85)
    return apply, {"gains": gains.round(3).tolist(), "gamma": round(float(gamma), 3)}


def card_check(analyzer, samples, log) -> dict:  # noqa: ANN001
    per_photo, found, skin_with, skin_without = [], 0, [], []
    for i, sample in enumerate(samples):
        image = read_rgb(sample.image_path)
        h, w = image.shape[:2]
        patch = max(12, int(0.045 * w))
        card = draw_colour_checker(patch)
        ch, cw = card.shape[:2]
        y0, x0 = h - ch - int(0.03 * h), int(0.03 * w)
        photo = image.copy()
        photo[y0:y0 + ch, x0:x0 + cw] = card
        clean = analyzer.analyze(photo)
        shift, _ = card_shift(np.random.default_rng(zlib.crc32(sample.image_path.name.encode())))
        shifted = shift(photo)
        found_card = find_colour_card(shifted)
        if found_card is None:
            continue
        found += 1
        corrected = correct_colours(shifted, np.asarray(found_card.matrix))
        gap = max(2, patch // 4)
        centres = [corrected[y0 + gap + r * (patch + gap) + patch // 2 - patch // 4:
                             y0 + gap + r * (patch + gap) + patch // 2 + patch // 4,
                             x0 + gap + c * (patch + gap) + patch // 2 - patch // 4:
                             x0 + gap + c * (patch + gap) + patch // 2 + patch // 4].reshape(-1, 3).mean(axis=0)
                   for r in range(4) for c in range(CARD_COLUMNS)]
        de = delta_e_2000(srgb_to_lab(np.asarray(centres) / 255.0), COLOUR_CHECKER_LAB)
        per_photo.append(float(np.median(de)))
        referenced = analyzer.analyze(shifted)
        if clean.colour is not None and referenced.colour is not None:
            truth = np.array([clean.colour.skin_l, clean.colour.skin_a, clean.colour.skin_b])
            with_card = np.array([referenced.colour.skin_l, referenced.colour.skin_a, referenced.colour.skin_b])
            skin_with.append(float(delta_e_2000(with_card, truth)))
            # the same shifted photo measured without its card: the card cut out
            no_card = shifted.copy()
            no_card[y0:y0 + ch, x0:x0 + cw] = 0
            alone = analyzer.analyze(no_card)
            if alone.colour is not None:
                skin_without.append(float(delta_e_2000(np.array([alone.colour.skin_l, alone.colour.skin_a,
                                                                 alone.colour.skin_b]), truth)))
        log(f"card {i + 1}/{len(samples)}")
    return {"photos": len(samples), "card_found": found,
            "patch_delta_e2000_median": round(float(np.median(per_photo)), 3) if per_photo else None,
            "patch_delta_e2000_p90": round(float(np.percentile(per_photo, 90)), 3) if per_photo else None,
            "clear_skin_delta_e2000_with_card_median": round(float(np.median(skin_with)), 3) if skin_with else None,
            "clear_skin_delta_e2000_without_card_median": round(float(np.median(skin_without)), 3) if skin_without else None}


def retake_noise(analyzer, samples, log, retakes: int = 5, seed: int = 0,  # noqa: ANN001
                 vary: str = "all") -> dict:
    """The retake noise of the red area and dark-mark area: each photo retaken `retakes` times
    as `core.training.retakes` draws them (shift, scale, turn, exposure, white balance, JPEG);
    per measure the pooled within-photo SD (= SEM), ICC(1,1) and MDC95 = 1.96 sqrt(2) SEM, in
    percentage points of the measured skin."""
    from core.training.retake_stats import icc_oneway
    from core.training.retakes import draw_retake, retake_jpeg

    groups: dict[str, list[np.ndarray]] = {"red": [], "dark": []}
    for i, sample in enumerate(samples):
        image = read_rgb(sample.image_path)
        values = []
        for index in range(retakes):
            data, _ = retake_jpeg(image, draw_retake(seed, sample.image_path.name, index, vary))
            pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
            measured = areas(analyzer.analyze(np.ascontiguousarray(pixels)))
            if measured is not None:
                values.append(measured)
        if len(values) >= 2:
            arr = np.asarray(values)
            groups["red"].append(arr[:, 0])
            groups["dark"].append(arr[:, 1])
        log(f"retakes {i + 1}/{len(samples)}")
    table = {"photos": len(groups["red"]), "retakes": retakes, "vary": vary}
    for name, g in groups.items():
        if len(g) < 2:
            continue
        icc, sem = icc_oneway(g)
        sds = np.array([x.std(ddof=1) for x in g])
        worst = int(np.argmax(sds))
        _, sem_rest = icc_oneway([x for i, x in enumerate(g) if i != worst])
        table[name] = {"sem_pp": round(sem, 3), "icc": None if icc is None else round(icc, 3),
                       "mdc95_pp": round(1.96 * np.sqrt(2.0) * sem, 3),
                       "mean_level_pp": round(float(np.mean([x.mean() for x in g])), 3),
                       "median_photo_sd_pp": round(float(np.median(sds)), 3),
                       "worst_photo_sd_pp": round(float(sds[worst]), 3),
                       "sem_without_worst_photo_pp": round(sem_rest, 3),
                       "mdc95_without_worst_photo_pp": round(1.96 * np.sqrt(2.0) * sem_rest, 3)}
    return table


def markdown(result: dict) -> str:
    s = result["stability"]
    lines = [f"Stability under the camera ({s['n_photos']} ACNE04 {result['split']} photos, one per "
             "source photo; change against the clean photo, percentage points of the measured skin):", "",
             "| change | red area: median abs | p90 | dark marks: median abs | p90 |", "|---|---|---|---|---|"]
    for name, row in s["variants"].items():
        lines.append(f"| {name} | {row['red_median_abs_pp']} | {row['red_p90_abs_pp']} | "
                     f"{row['dark_median_abs_pp']} | {row['dark_p90_abs_pp']} |")
    a = s["all"]
    lines += [f"| all changes | {a['red_median_abs_pp']} | {a['red_p90_abs_pp']} | {a['dark_median_abs_pp']} | "
              f"{a['dark_p90_abs_pp']} |", "",
              f"Clean photos: median red area {s['clean_red_area_percent_median']}%, median dark-mark area "
              f"{s['clean_dark_area_percent_median']}%.", "",
              "Sensitivity (discs painted onto clear skin of photos with at most 5 lesions; measured increase "
              "against painted area, both in % of the measured skin). The measure alone keeps the clean "
              "photo's skin and lesions; the product analyses the painted photo, lesions found on it "
              "included:", "",
              "| paint | measure: slope | intercept (pp) | R^2 | product: slope | R^2 | painted pixels taken for lesions | n |",
              "|---|---|---|---|---|---|---|---|"]
    sens = result["sensitivity"]
    for name in PAINTS:
        m, p = sens["measure"].get(name), sens["product"].get(name)
        if m is None or p is None:
            continue
        lines.append(f"| {name} | {m['slope']} | {m['intercept_pp']} | {m['r2']} | {p['slope']} | {p['r2']} | "
                     f"{sens['share_of_painted_pixels_taken_for_lesions'].get(name)} | {m['n']} |")
    c = result["card"]
    lines += ["", f"Colour card: found in {c['card_found']} of {c['photos']} photos with a drawn ColorChecker and "
              f"shifted colours; corrected patches against the published values: CIEDE2000 median of the per-photo "
              f"medians {c['patch_delta_e2000_median']} (p90 {c['patch_delta_e2000_p90']}); the clear skin's colour "
              f"against the unshifted photo: {c['clear_skin_delta_e2000_with_card_median']} with the card, "
              f"{c['clear_skin_delta_e2000_without_card_median']} without.", ""]
    for key, what in (("retakes", "framing, exposure, white balance and JPEG"), ("retakes_light", "exposure and "
                      "white balance alone"), ("retakes_framing", "framing alone")):
        r = result.get(key)
        if not r:
            continue
        lines += [f"Retake noise ({r['photos']} photos x {r['retakes']} simulated retakes, {what}; percentage points "
                  "of the measured skin):", "",
                  "| measure | SEM | MDC95 | ICC | median per-photo SD | worst photo's SD | SEM without it | MDC95 without it |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, label in (("red", "red area"), ("dark", "dark-mark area")):
            m = r[name]
            lines.append(f"| {label} | {m['sem_pp']} | {m['mdc95_pp']} | {m['icc']} | {m.get('median_photo_sd_pp')} | "
                         f"{m.get('worst_photo_sd_pp')} | {m.get('sem_without_worst_photo_pp')} | "
                         f"{m.get('mdc95_without_worst_photo_pp')} |")
        lines.append("")
    return "\n".join(lines)


def one_per_source(samples):  # noqa: ANN001, ANN201
    seen, kept = set(), []
    for s in samples:
        if s.source_image not in seen:
            seen.add(s.source_image)
            kept.append(s)
    return kept


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", default="valid", choices=("train", "valid"))
    p.add_argument("--photos", type=int, default=30)
    p.add_argument("--sensitivity-photos", type=int, default=12)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--parts", default="stability,sensitivity,card,retakes")
    args = p.parse_args(argv)
    from core.pipeline import load_analyzer

    analyzer = load_analyzer(args.weights, threads=1)
    samples = one_per_source(labelled_only(read_split(args.data, args.split)))
    step = max(1, len(samples) // args.photos)
    chosen = samples[::step][: args.photos]
    few = [s for s in samples if len(s.lesions) <= FEW_LESIONS]
    few = few[:: max(1, len(few) // args.sensitivity_photos)][: args.sensitivity_photos]
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.time()

    def log(text: str) -> None:
        print(f"{time.time() - start:7.0f} s  {text}", file=sys.stderr, flush=True)

    parts = set(args.parts.split(","))
    result: dict = {"split": args.split, "model_version": analyzer.model_version}
    if "stability" in parts:
        result["stability"] = stability(analyzer, chosen, log)
    if "sensitivity" in parts:
        result["sensitivity"] = sensitivity(analyzer, few, log)
    if "card" in parts:
        result["card"] = card_check(analyzer, chosen, log)
    if "retakes" in parts:
        result["retakes"] = retake_noise(analyzer, chosen, log)
    for vary in ("framing", "light", "jpeg"):
        if f"retakes-{vary}" in parts:
            result[f"retakes_{vary}"] = retake_noise(analyzer, chosen, log, vary=vary)
    (args.out / "colour_validation.json").write_text(json.dumps(result, indent=2))
    if {"stability", "sensitivity", "card"} <= parts:
        (args.out / "colour_validation.md").write_text(markdown(result))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
