"""The retake-noise table from per-retake records (`core.training.retakes`): per measure the
per-photo SD and coefficient of variation, the ICC and SEM, and by level the SD, the band a
retaken photo lands within and MDC95.

Per photo (at least two assessable retakes) the level is the mean over its retakes. The SEM is
the within-photo SD pooled over photos (sqrt of the one-way ANOVA's within mean square); the
ICC is ICC(1,1), one-way random effects, for groups of unequal size. In each level bin the SD
is the pooled within-photo SD of its photos; band = 1.96 SD, MDC95 = 1.96 sqrt(2) SEM. Bins with
fewer than MIN_BIN_PHOTOS photos are merged into a neighbour. For the counts and the lesion area,
the SD the product reads (`sd`) is made non-decreasing with the level (weighted pool-adjacent-
violators: a smaller spread at a higher count is sampling noise); `sd_observed` keeps the bin's
own value.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict

import numpy as np

from core.retake_noise import MEASURES, Z95

# Lower edges of the level bins (the last bin is open).
EDGES: dict[str, tuple[float, ...]] = {
    "total": (0, 5, 10, 20, 40),
    "inflammatory": (0, 5, 10, 20, 40),
    "non_inflammatory": (0, 5, 10, 20, 40),
    "lesion_area": (0, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08),
    "grade": (0, 0.5, 1.5, 2.5),
}
MONOTONE = ("total", "inflammatory", "non_inflammatory", "lesion_area")
MIN_BIN_PHOTOS = 6
TABLE_FORMAT = 1


def photo_groups(records: list[dict], measure: str) -> list[np.ndarray]:
    """Per photo, its assessable retakes' values of `measure` (photos with at least two)."""
    by_photo: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in records:
        if r.get("assessable") and r.get(measure) is not None:
            by_photo[(r["set"], r["image"])].append(float(r[measure]))
    return [np.asarray(v) for _, v in sorted(by_photo.items()) if len(v) >= 2]


def icc_oneway(groups: list[np.ndarray]) -> tuple[float | None, float]:
    """(ICC(1,1), SEM = sqrt(within mean square)) for groups of unequal size; ICC None when
    every value is the same."""
    if len(groups) < 2:
        raise ValueError(f"the ICC needs at least 2 photos with 2 retakes, got {len(groups)}")
    sizes = np.array([len(g) for g in groups], float)
    n_total, n = sizes.sum(), len(groups)
    means = np.array([g.mean() for g in groups])
    grand = np.concatenate(groups).mean()
    ms_between = float((sizes * (means - grand) ** 2).sum() / (n - 1))
    ms_within = float(sum(((g - g.mean()) ** 2).sum() for g in groups) / (n_total - n))
    k0 = (n_total - (sizes**2).sum() / n_total) / (n - 1)
    denominator = ms_between + (k0 - 1) * ms_within
    icc = (ms_between - ms_within) / denominator if denominator > 0 else None
    return icc, math.sqrt(ms_within)


def pooled_sd(groups: list[np.ndarray]) -> float:
    """The within-photo SD pooled over `groups` (each weighted by its degrees of freedom)."""
    dof = sum(len(g) - 1 for g in groups)
    return math.sqrt(sum(((g - g.mean()) ** 2).sum() for g in groups) / dof) if dof else 0.0


def mean_cv(groups: list[np.ndarray]) -> float | None:
    """The mean per-photo coefficient of variation (SD / mean) over photos with a mean above 0."""
    cvs = [g.std(ddof=1) / g.mean() for g in groups if g.mean() > 0]
    return float(np.mean(cvs)) if cvs else None


def level_bins(groups: list[np.ndarray], edges: tuple[float, ...]) -> list[list[np.ndarray]]:
    """`groups` binned by their mean; sparse bins merged into their smaller neighbour."""
    index = np.searchsorted(np.asarray(edges[1:]), [g.mean() for g in groups], side="right")
    bins: list[list[np.ndarray]] = [[] for _ in edges]
    for group, i in zip(groups, index):
        bins[i].append(group)
    bins = [b for b in bins if b]
    while len(bins) > 1 and min(len(b) for b in bins) < MIN_BIN_PHOTOS:
        i = min(range(len(bins)), key=lambda j: len(bins[j]))
        if i == 0:
            j = 1
        elif i == len(bins) - 1:
            j = i - 1
        else:
            j = i - 1 if len(bins[i - 1]) <= len(bins[i + 1]) else i + 1
        lo, hi = sorted((i, j))
        bins[lo:hi + 1] = [bins[lo] + bins[hi]]
    return bins


def non_decreasing(values: list[float], weights: list[float]) -> list[float]:
    """Weighted pool-adjacent-violators: the closest non-decreasing sequence."""
    blocks: list[list[float]] = []  # [value, weight, length]
    for v, w in zip(values, weights):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return [b[0] for b in blocks for _ in range(int(b[2]))]


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def measure_table(groups: list[np.ndarray], measure: str) -> dict:
    """One measure's row of the table (see the module docstring)."""
    icc, sem = icc_oneway(groups)
    bins = []
    for members in level_bins(groups, EDGES[measure]):
        means = [g.mean() for g in members]
        bins.append({"from": _r(min(means)), "to": _r(max(means)), "level": float(np.mean(means)),
                     "n_photos": len(members), "sd_observed": pooled_sd(members),
                     "mean_photo_sd": float(np.mean([g.std(ddof=1) for g in members])),
                     "cv": _r(mean_cv(members))})
    sds = [b["sd_observed"] for b in bins]
    if measure in MONOTONE:
        sds = non_decreasing(sds, [b["n_photos"] for b in bins])
    for b, sd in zip(bins, sds):
        b.update(level=_r(b["level"]), sd=_r(sd), sd_observed=_r(b["sd_observed"]),
                 mean_photo_sd=_r(b["mean_photo_sd"]), band95=_r(Z95 * sd),
                 mdc95=_r(Z95 * math.sqrt(2) * sd))
    photo_sds = [g.std(ddof=1) for g in groups]
    row = {"unit": MEASURES[measure], "n_photos": len(groups), "icc": _r(icc), "sem": _r(sem),
           "mdc95": _r(Z95 * math.sqrt(2) * sem), "mean_photo_sd": _r(np.mean(photo_sds)),
           "cv": _r(mean_cv(groups)), "bins": bins}
    if measure == "grade":
        row["same_grade_every_retake"] = _r(np.mean([len(set(g)) == 1 for g in groups]))
    return row


def noise_table(records: list[dict], made: dict) -> dict:
    """The retake-noise table `core.retake_noise` reads, with how it was made and, per data set,
    each measure's ICC, SEM and MDC95 and how often the assessable decision changed."""
    measures = {}
    for m in MEASURES:
        groups = photo_groups(records, m)
        if len(groups) < 2:
            raise ValueError(f"{m}: {len(groups)} photos were assessable on at least 2 retakes; "
                             "the table needs 2 or more")
        measures[m] = measure_table(groups, m)
    by_set = {}
    for name in sorted({r["set"] for r in records}):
        mine = [r for r in records if r["set"] == name]
        photos: dict[str, list[bool]] = defaultdict(list)
        for r in mine:
            photos[r["image"]].append(bool(r.get("assessable")))
        entry = {"n_photos": len(photos), "n_retakes": len(mine),
                 "assessable_share": _r(np.mean([r.get("assessable", False) for r in mine])),
                 "photos_assessable_on_some_retakes_only": sum(
                     1 for v in photos.values() if any(v) and not all(v)),
                 "failed_retakes": sum(1 for r in mine if r.get("error"))}
        for m in MEASURES:
            groups = photo_groups(mine, m)
            if len(groups) >= 2:
                icc, sem = icc_oneway(groups)
                entry[m] = {"n_photos": len(groups), "icc": _r(icc), "sem": _r(sem),
                            "mdc95": _r(Z95 * math.sqrt(2) * sem), "cv": _r(mean_cv(groups))}
                if m == "grade":
                    entry[m]["same_grade_every_retake"] = _r(np.mean([len(set(g)) == 1 for g in groups]))
        by_set[name] = entry
    photos_total = sum(e["n_photos"] for e in by_set.values())
    source = (f"Simulated retakes ({made.get('retakes_per_photo')} per photo) of {photos_total} "
              f"{made.get('split', 'valid')} photos ({', '.join(by_set)}), model "
              f"{made.get('model_version')}; a simulation until real retakes exist.")
    # The version names the numbers: the same records give the same version.
    digest = hashlib.sha256(json.dumps([made.get("model_version"), measures],
                                       sort_keys=True).encode()).hexdigest()[:8]
    return {"format": TABLE_FORMAT, "simulated": True, "source": source,
            "version": f"retakes-{made.get('date', '')}-seed{made.get('seed')}-{digest}",
            "made": made, "measures": measures, "by_set": by_set}


def _fmt(value: float | None, measure: str) -> str:
    if value is None:
        return "-"
    if measure == "lesion_area":
        return f"{value * 100:.2f}%"
    return f"{value:.1f}" if measure != "grade" else f"{value:.2f}"


def _icc(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cv(value: float | None, measure: str) -> str:
    return "-" if value is None or measure == "grade" else f"{value:.0%}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def markdown_table(table: dict) -> str:
    """The model card's section: how it was made, per measure the ICC, SEM and MDC95, and by
    level the SD, CV, band and MDC95."""
    made = table["made"]
    retake = made.get("retake", {})
    photos = table["measures"]["total"]["n_photos"]
    offered = sum(e["n_photos"] for e in table["by_set"].values())
    lines = [
        "### How much would a retaken photo change? (simulated retakes)",
        "",
        f"{table['source']} Each retake combines a "
        f"shift and crop ({retake.get('crop', 0.8):.0%} of each side, moved up to "
        f"±{retake.get('shift', 0.05):.0%}), scale ±{retake.get('scale', 0.1):.0%}, rotation "
        f"±{retake.get('rotation_deg', 5):g}°, exposure ±{retake.get('exposure', 0.15):.0%}, white "
        f"balance ±{retake.get('white_balance', 0.08):.0%} per channel and JPEG quality "
        f"{'-'.join(str(q) for q in retake.get('jpeg_quality', (70, 95)))} (seed "
        f"{made.get('seed')}), each run through `core.analyze`'s own analysis (assessable "
        "decision included). Regenerate: `python -m core.training.retakes` (see its help).",
        "",
        f"Photos count where at least two retakes were assessable ({photos} of {offered}). "
        "The grade's coefficient of variation is left out (a grade is not a quantity).",
        "",
        "| measure | photos | ICC | SEM | MDC95 | mean per-photo SD | mean CV |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, row in table["measures"].items():
        lines.append(f"| {m} | {row['n_photos']} | {_icc(row['icc'])} | "
                     f"{_fmt(row['sem'], m)} | {_fmt(row['mdc95'], m)} | "
                     f"{_fmt(row['mean_photo_sd'], m)} | {_cv(row['cv'], m)} |")
    lines += ["", "By level (the photo's mean over its retakes; SD made non-decreasing for counts "
              "and area; band = 1.96 SD, where a retaken photo lands; MDC95 = 1.96·√2·SEM, the "
              "smallest real change between two photos):", "",
              "| measure | level range | photos | SD (observed) | CV | ± band | MDC95 |",
              "|---|---|---|---|---|---|---|"]
    for m, row in table["measures"].items():
        for b in row["bins"]:
            lines.append(f"| {m} | {_fmt(b['from'], m)} - {_fmt(b['to'], m)} | {b['n_photos']} | "
                         f"{_fmt(b['sd'], m)} ({_fmt(b['sd_observed'], m)}) | "
                         f"{_cv(b['cv'], m)} | "
                         f"±{_fmt(b['band95'], m)} | {_fmt(b['mdc95'], m)} |")
    lines += ["", "| data set | photos | retakes | assessable share | photos assessable on some "
              "retakes only | total: ICC / MDC95 | grade: same on every retake |",
              "|---|---|---|---|---|---|---|"]
    for name, e in table["by_set"].items():
        total = e.get("total", {})
        lines.append(f"| {name} | {e['n_photos']} | {e['n_retakes']} | {e['assessable_share']:.0%} | "
                     f"{e['photos_assessable_on_some_retakes_only']} | "
                     f"{_icc(total.get('icc'))} / {_fmt(total.get('mdc95'), 'total')} | "
                     f"{_share(e.get('grade', {}).get('same_grade_every_retake'))} |")
    grade = table["measures"]["grade"].get("same_grade_every_retake")
    if grade is not None:
        lines += ["", f"Grade: {grade:.0%} of photos get the same grade on every retake."]
    return "\n".join(lines) + "\n"
