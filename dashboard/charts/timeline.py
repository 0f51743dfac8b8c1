"""Patient timeline frames and the labels several pages share (pure functions, no Streamlit).

`timeline_frame` holds `patient_timeline` rows (one per photo); `visit_frame` keeps one analysed
photo per visit. The trends, compare, reports and review pages build on them.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from core.flags import quality_flag
from core.regions import OUTSIDE_REGIONS, REGION_COLUMNS
from core.types import FACIAL_REGIONS, LESION_KINDS, VIEWS
from core.words import sentence_case, view_label, words

# Columns of db.repository.TimelineRow, in the order the frame keeps them.
TIMELINE_COLUMNS: tuple[str, ...] = (
    "visit_id",
    "visit_date",
    "photo_id",
    "view",
    "analysis_id",
    *LESION_KINDS,
    "inflammatory_type_uncertain",
    "inflammatory",
    "non_inflammatory",
    "total",
    "lesion_area_fraction",
    "grade",
    "grade_confidence",
    "quality_passed",
    "review_iga",
    "review_grade_override",
    "model_version",
    "corrects_id",  # set when the numbers are a clinician's correction of the model's
    "quality_reasons",  # why the photo failed the quality check (stored anyway)
    "body_site",  # a close-up's body site (None for face views)
    "red_area_fraction",  # redness and dark marks, shares of the measured skin (issue 29)
    "dark_area_fraction",
)
# Columns a row may leave out (None then): rows made before corrections existed.
OPTIONAL_COLUMNS: frozenset[str] = frozenset({"corrects_id", "quality_reasons", "body_site",
                                              "red_area_fraction", "dark_area_fraction"})
CLOSE_UP = "close-up"

KIND_LABELS: dict[str, str] = {
    "comedone": "Comedones", "papule": "Papules", "pustule": "Pustules", "nodule": "Nodules/cysts",
}
if set(KIND_LABELS) != set(LESION_KINDS):
    raise ValueError(f"KIND_LABELS names {sorted(KIND_LABELS)}, not the lesion kinds {LESION_KINDS}")
# The types as counted: an inflammatory lesion of uncertain type is in none of the four.
TYPE_LABELS: dict[str, str] = {**KIND_LABELS, "inflammatory_type_uncertain": "Inflammatory, type uncertain"}
# The clinical groups (CLINICAL.md); nodules/cysts are inflammatory and also reported alone.
GROUP_LABELS: dict[str, str] = {
    "inflammatory": "Inflammatory (papules, pustules, nodules/cysts)",
    "non_inflammatory": "Non-inflammatory (comedones)",
}
# The two severity scales, named wherever both appear: the model grades on ACNE04's scale
# (Hayashi, from lesion counts), a clinician on IGA (a global look). They are recorded side by
# side and never converted; the mapping is only a reading aid.
HAYASHI_SCALE = "ACNE04 grade (Hayashi, from lesion counts): mild, moderate, severe, very severe"
IGA_SCALE = "IGA 0-4 (the clinician's global look): 0 clear, 1 almost clear, 2 mild, 3 moderate, 4 severe"
SCALE_MAPPING = ("Roughly, Hayashi mild is IGA 1-2, moderate IGA 2-3, severe IGA 3-4 and very severe "
                 "IGA 4: the scales judge different things, so neither is converted into the other.")
IGA_LABELS: dict[int, str] = {
    0: "clear",
    1: "almost clear",
    2: "mild",
    3: "moderate",
    4: "severe",
}


def _row_dict(row: Any, columns: Sequence[str]) -> dict[str, Any]:
    if isinstance(row, Mapping):
        source = row
    elif dataclasses.is_dataclass(row) and not isinstance(row, type):
        # __dict__ when there is one: dataclasses.fields per row is slow over thousands of rows.
        source = vars(row) if hasattr(row, "__dict__") else {
            f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    else:
        source = {name: getattr(row, name) for name in columns if hasattr(row, name)}
    missing = [name for name in columns if name not in source and name not in OPTIONAL_COLUMNS]
    if missing:
        raise ValueError(f"row {row!r} lacks the columns {missing}")
    return {name: source.get(name) for name in columns}


def timeline_frame(rows: Iterable[Any]) -> pd.DataFrame:
    """A frame of `patient_timeline` rows (one per photo), ordered by visit date then photo."""
    records = [_row_dict(row, TIMELINE_COLUMNS) for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(TIMELINE_COLUMNS))
    frame["visit_date"] = pd.to_datetime(frame["visit_date"])
    # Tuples, not lists: a page caches on the frame's content, and a list cannot be hashed.
    frame["quality_reasons"] = [tuple(r) if isinstance(r, list) else r
                                for r in frame["quality_reasons"].tolist()]
    # The flag a photo stored although it failed the quality check carries wherever its numbers
    # go (None: passed, or no analysis).
    frame["quality_flag"] = [
        quality_flag(passed, reasons) if none_if_missing(analysis) is not None else None
        for passed, reasons, analysis in zip(frame["quality_passed"].tolist(),
                                             frame["quality_reasons"].tolist(),
                                             frame["analysis_id"].tolist())
    ]
    return frame.sort_values(["visit_date", "visit_id", "photo_id"], kind="stable").reset_index(
        drop=True
    )


Series = tuple[str, "str | None"]  # (view, body site): a close-up of each site is its own series


def series_label(series: Series) -> str:
    """'front', or 'close-up of the left cheek' (a close-up without a site: 'close-up')."""
    view, site = series
    return view_label(view, site if view == CLOSE_UP else None)


def analysed_series(timeline: pd.DataFrame) -> list[Series]:
    """The views with an analysed photo, in the order of VIEWS, a close-up series per body site
    (front, left, right, then close-ups by site): only photos of one series are compared."""
    if timeline.empty:
        return []
    analysed = timeline[timeline["analysis_id"].notna()]
    found: set[Series] = set()
    for view, site in zip(analysed["view"].tolist(), analysed["body_site"].tolist()):
        site = none_if_missing(site)
        found.add((str(view), str(site) if site and view == CLOSE_UP else None))
    order = {view: index for index, view in enumerate(VIEWS)}
    return sorted(found, key=lambda s: (order.get(s[0], len(order)), s[0], s[1] or ""))


def none_if_missing(value: Any) -> Any:
    """None for None and NaN (a gap in a pandas column), else the value."""
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def visit_frame(timeline: pd.DataFrame, view: "str | Series" = "front") -> pd.DataFrame:
    """One row per visit: the analysed photo of `view` that represents it, plus the visit's IGA.

    `view` is a view name or a (view, body site) series: close-ups of different sites are
    different skin, so each site is a series of its own.

    When a visit has several analysed photos of that view, the latest one that passed the quality
    gate wins (else the latest one). The clinician IGA is a whole-face judgement of the visit, so
    it comes from that photo's review, or else from any reviewed photo of the visit.
    Visits with no analysed photo of `view` are left out rather than drawn as zero.
    """
    columns = [*TIMELINE_COLUMNS, "quality_flag", "iga"]
    if timeline.empty:
        return pd.DataFrame(columns=columns)
    view, site = (view, None) if isinstance(view, str) else view
    analysed = timeline[timeline["analysis_id"].notna()]
    in_view = analysed["view"] == view
    if view == CLOSE_UP:
        sites = analysed["body_site"].map(lambda s: none_if_missing(s) or None)
        in_view &= sites.map(lambda s: s == site) if site else sites.isna()
    chosen = analysed[in_view].copy()
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    chosen["_passed"] = chosen["quality_passed"].fillna(False).astype(bool)
    chosen = chosen.sort_values(["visit_id", "_passed", "photo_id"], kind="stable")
    per_visit = chosen.groupby("visit_id", sort=False).tail(1).drop(columns="_passed")

    reviewed = analysed[analysed["review_iga"].notna()].sort_values("photo_id", kind="stable")
    any_iga = reviewed.groupby("visit_id")["review_iga"].last()
    iga = per_visit["review_iga"].where(
        per_visit["review_iga"].notna(), per_visit["visit_id"].map(any_iga)
    )
    per_visit = per_visit.assign(iga=iga)
    per_visit = per_visit.sort_values(["visit_date", "visit_id"], kind="stable")
    return per_visit.reset_index(drop=True)[columns]


def region_table(region_counts: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """Lesions per facial region and type as the counts count them: one row per region named in
    words ("Left cheek"), then "Outside the five regions" when it holds any lesion; one column
    per type ("Papules") and "Inflammatory, type uncertain" (core.regions.count_by_region)."""
    regions = [r for r in FACIAL_REGIONS if r in region_counts]
    regions += [r for r in region_counts if r not in regions and r != OUTSIDE_REGIONS]
    if any(int(v or 0) for v in (region_counts.get(OUTSIDE_REGIONS) or {}).values()):
        regions.append(OUTSIDE_REGIONS)
    rows = [
        {"region": sentence_case(words(region)),
         **{TYPE_LABELS[column]: int((region_counts[region] or {}).get(column, 0) or 0)
            for column in REGION_COLUMNS}}
        for region in regions
    ]
    return pd.DataFrame(rows, columns=["region", *(TYPE_LABELS[c] for c in REGION_COLUMNS)])
