"""Plotly figure builders and the small frame shaping behind them (pure functions, no Streamlit).

Pages hand in repository rows (or frames made from them) and get figures back, so every number
a chart shows can be checked in a unit test. Change, smoothing and trial statistics come from
`core.trends`; this module only arranges them per visit, per arm and per week.
"""
from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from core.alignment import transform_points
from core.overlay import KIND_COLOURS
from core.trends import (
    ArmWeekSummary,
    change_from_baseline,
    is_meaningful_count_change,
    iga_success,
    percent_change,
    smooth,
    week_of,
)
from core.types import GRADE_LABELS, LESION_KINDS, Box, Lesion

# Columns of db.repository.TimelineRow, in the order the frame keeps them.
TIMELINE_COLUMNS: tuple[str, ...] = (
    "visit_id",
    "visit_date",
    "photo_id",
    "view",
    "analysis_id",
    *LESION_KINDS,
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
)

MODES: dict[str, str] = {
    "value": "Values",
    "absolute": "Change from baseline",
    "percent": "% change from baseline",
}
SMOOTHING_WINDOW = 3  # visits in the rolling median (core.trends.smooth)

KIND_LABELS: dict[str, str] = {kind: kind.capitalize() + "s" for kind in LESION_KINDS}
GROUP_LABELS: dict[str, str] = {
    "inflammatory": "Inflammatory (papules + pustules)",
    "non_inflammatory": "Non-inflammatory (comedones)",
}
IGA_LABELS: dict[int, str] = {
    0: "clear",
    1: "almost clear",
    2: "mild",
    3: "moderate",
    4: "severe",
}
ARM_MEASURES: dict[str, str] = {
    "inflammatory": "inflammatory lesions",
    "non_inflammatory": "non-inflammatory lesions",
}
ARM_RATES: dict[str, str] = {
    "responder_rate": "Responders (≥50% fewer inflammatory lesions)",
    "iga_success_rate": "IGA success (IGA 0-1 and ≥2 grades better)",
}

# Same hues as the photo overlays, so a line and its lesions on a photo match.
_SERIES_COLOURS: dict[str, str] = {
    **{kind: "#{:02x}{:02x}{:02x}".format(*rgb) for kind, rgb in KIND_COLOURS.items()},
    "inflammatory": "#{:02x}{:02x}{:02x}".format(*KIND_COLOURS["papule"]),
    "non_inflammatory": "#{:02x}{:02x}{:02x}".format(*KIND_COLOURS["comedone"]),
    "lesion_area_fraction": "#009e73",
    "total": "#0072b2",
}
_ARM_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
_EVENT_COLOUR = "#7f7f7f"


# ---- frames -----------------------------------------------------------------------------------


def _row_dict(row: Any, columns: Sequence[str]) -> dict[str, Any]:
    if isinstance(row, Mapping):
        source = row
    elif dataclasses.is_dataclass(row) and not isinstance(row, type):
        # __dict__ when there is one: dataclasses.fields per row is slow over thousands of rows.
        source = vars(row) if hasattr(row, "__dict__") else {
            f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    else:
        source = {name: getattr(row, name) for name in columns if hasattr(row, name)}
    missing = [name for name in columns if name not in source]
    if missing:
        raise ValueError(f"row {row!r} lacks the columns {missing}")
    return {name: source[name] for name in columns}


def timeline_frame(rows: Iterable[Any]) -> pd.DataFrame:
    """A frame of `patient_timeline` rows (one per photo), ordered by visit date then photo."""
    records = [_row_dict(row, TIMELINE_COLUMNS) for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(TIMELINE_COLUMNS))
    frame["visit_date"] = pd.to_datetime(frame["visit_date"])
    return frame.sort_values(["visit_date", "visit_id", "photo_id"], kind="stable").reset_index(
        drop=True
    )


def none_if_missing(value: Any) -> Any:
    """None for None and NaN (a gap in a pandas column), else the value."""
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def visit_frame(timeline: pd.DataFrame, view: str = "front") -> pd.DataFrame:
    """One row per visit: the analysed photo of `view` that represents it, plus the visit's IGA.

    When a visit has several analysed photos of that view, the latest one that passed the quality
    gate wins (else the latest one). The clinician IGA is a whole-face judgement of the visit, so
    it comes from that photo's review, or else from any reviewed photo of the visit.
    Visits with no analysed photo of `view` are left out rather than drawn as zero.
    """
    columns = [*TIMELINE_COLUMNS, "iga"]
    if timeline.empty:
        return pd.DataFrame(columns=columns)
    analysed = timeline[timeline["analysis_id"].notna()]
    chosen = analysed[analysed["view"] == view].copy()
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


def baseline_position(visits: pd.DataFrame, baseline_visit_id: int | None) -> int:
    """Row position of the baseline visit (the first visit when None)."""
    if visits.empty:
        raise ValueError("there are no analysed visits to take a baseline from")
    if baseline_visit_id is None:
        return 0
    matches = [i for i, v in enumerate(visits["visit_id"].tolist()) if v == baseline_visit_id]
    if not matches:
        raise ValueError(f"baseline visit {baseline_visit_id} has no analysed photo in this view")
    return matches[0]


def _values(visits: pd.DataFrame, column: str, scale: float = 1.0) -> list[float | None]:
    return [
        None if none_if_missing(v) is None else float(v) * scale for v in visits[column].tolist()
    ]


def series_values(
    visits: pd.DataFrame,
    column: str,
    *,
    mode: str = "value",
    baseline_visit_id: int | None = None,
    smoothing: bool = False,
    scale: float = 1.0,
) -> list[float | None]:
    """The numbers a trend line shows for `column`, one per visit (None = no value).

    Change is taken from the raw baseline value first and smoothed afterwards, so smoothing
    never moves the baseline itself; `scale` converts units (fraction -> percent) before that.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    values = _values(visits, column, scale)
    if mode != "value":
        index = baseline_position(visits, baseline_visit_id)
        values = (change_from_baseline if mode == "absolute" else percent_change)(values, index)
    if smoothing:
        values = smooth(values, window=SMOOTHING_WINDOW)
    return values


# ---- per-patient trend figures -----------------------------------------------------------------


def _axis_title(mode: str, unit: str) -> str:
    if mode == "absolute":
        return f"Change from baseline ({unit})"
    if mode == "percent":
        return "% change from baseline"
    return unit


def _base_figure(title: str, y_title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        title=title,
        xaxis_title="Visit date",
        yaxis_title=y_title,
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 60, "b": 40},
    )
    return figure


def _mark_baseline(figure: go.Figure, visits: pd.DataFrame, baseline_visit_id: int | None) -> None:
    when = visits["visit_date"].iloc[baseline_position(visits, baseline_visit_id)]
    figure.add_shape(
        type="line", xref="x", yref="paper", x0=when, x1=when, y0=0, y1=1,
        line={"color": "#000000", "dash": "dot", "width": 1}, name="baseline",
    )
    figure.add_annotation(
        x=when, y=0, xref="x", yref="paper", text="baseline", showarrow=False,
        yanchor="bottom", xanchor="left", font={"size": 10},
    )


def add_treatment_events(figure: go.Figure, events: Iterable[Any]) -> go.Figure:
    """Vertical dashed markers for treatment events (objects with event_date and description,
    or (date, description) pairs), labelled at the top of the plot."""
    for event in events:
        when, description = (
            (event.event_date, event.description) if hasattr(event, "event_date") else event
        )
        if not isinstance(when, (date, datetime)):
            raise ValueError(f"treatment event date must be a date, got {when!r}")
        when = pd.Timestamp(when)
        figure.add_shape(
            type="line", xref="x", yref="paper", x0=when, x1=when, y0=0, y1=1,
            line={"color": _EVENT_COLOUR, "dash": "dash", "width": 1}, name="treatment",
        )
        figure.add_annotation(
            x=when, y=1, xref="x", yref="paper", text=str(description)[:40], showarrow=False,
            textangle=-90, xanchor="right", yanchor="top", font={"size": 10, "color": _EVENT_COLOUR},
            hovertext=str(description),
        )
    return figure


def trend_figure(
    visits: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    title: str,
    unit: str,
    mode: str = "value",
    baseline_visit_id: int | None = None,
    smoothing: bool = False,
    scale: float = 1.0,
    events: Iterable[Any] = (),
) -> go.Figure:
    """Lines over visit dates for each column (label by column), in values or change.

    With smoothing on, the smoothed line is drawn with the raw values as faint points, so a
    reader always sees what was measured.
    """
    figure = _base_figure(title, _axis_title(mode, unit))
    if visits.empty:
        return figure
    dates = visits["visit_date"].tolist()
    for column, label in columns.items():
        colour = _SERIES_COLOURS.get(column)
        shown = series_values(
            visits, column, mode=mode, baseline_visit_id=baseline_visit_id,
            smoothing=smoothing, scale=scale,
        )
        figure.add_trace(
            go.Scatter(
                x=dates, y=shown, mode="lines+markers",
                name=f"{label} (smoothed)" if smoothing else label,
                line={"color": colour}, meta=column, customdata=visits["visit_id"].tolist(),
                connectgaps=False,
            )
        )
        if smoothing:
            raw = series_values(
                visits, column, mode=mode, baseline_visit_id=baseline_visit_id, scale=scale
            )
            figure.add_trace(
                go.Scatter(
                    x=dates, y=raw, mode="markers", name=f"{label} (measured)",
                    marker={"color": colour, "opacity": 0.35, "size": 7},
                    meta=f"{column}:raw", showlegend=False,
                )
            )
    if mode != "value":
        figure.add_hline(y=0, line={"color": "#999999", "width": 1})
        _mark_baseline(figure, visits, baseline_visit_id)
    return add_treatment_events(figure, events)


def kinds_figure(visits: pd.DataFrame, **options: Any) -> go.Figure:
    """Counts of each lesion type (comedones, papules, pustules, nodules)."""
    return trend_figure(
        visits, KIND_LABELS, title="Lesions by type", unit="lesions", **options
    )


def groups_figure(visits: pd.DataFrame, **options: Any) -> go.Figure:
    """Inflammatory and non-inflammatory counts, the trial co-primary endpoints."""
    return trend_figure(
        visits, GROUP_LABELS, title="Inflammatory and non-inflammatory lesions",
        unit="lesions", **options,
    )


def area_figure(visits: pd.DataFrame, **options: Any) -> go.Figure:
    """Lesion area as a percent of the facial skin (percentage points for absolute change)."""
    mode = options.get("mode", "value")
    unit = "percentage points" if mode == "absolute" else "% of facial skin"
    return trend_figure(
        visits, {"lesion_area_fraction": "Lesion area"}, title="Lesion area",
        unit=unit, scale=100.0, **options,
    )


def grade_figure(visits: pd.DataFrame, *, events: Iterable[Any] = ()) -> go.Figure:
    """Model grade (ACNE04 / Hayashi 0-3) with an uncertainty band, and clinician overrides.

    The band spans grade +- (1 - confidence): only the probability of the chosen grade is stored,
    so the band is a visual cue of how sure the model was, not a statistical interval.
    """
    figure = _base_figure("Severity grade (model)", "Grade")
    figure.update_yaxes(
        range=[-0.3, 3.3], tickvals=list(GRADE_LABELS),
        ticktext=[f"{g} {label}" for g, label in GRADE_LABELS.items()],
    )
    graded = visits[visits["grade"].notna()] if not visits.empty else visits
    if not graded.empty:
        dates = graded["visit_date"].tolist()
        grades = [float(g) for g in graded["grade"].tolist()]
        confidence = [
            None if none_if_missing(c) is None else float(c)
            for c in graded["grade_confidence"].tolist()
        ]
        spread = [0.0 if c is None else 1.0 - c for c in confidence]
        lower = [max(0.0, g - s) for g, s in zip(grades, spread)]
        upper = [min(3.0, g + s) for g, s in zip(grades, spread)]
        figure.add_trace(
            go.Scatter(
                x=dates, y=lower, mode="lines", line={"width": 0}, showlegend=False,
                hoverinfo="skip", meta="grade:lower",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=dates, y=upper, mode="lines", line={"width": 0}, fill="tonexty",
                fillcolor="rgba(0, 114, 178, 0.15)", name="Uncertainty (1 - confidence)",
                hoverinfo="skip", meta="grade:upper",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=dates, y=grades, mode="lines+markers", name="Model grade",
                line={"color": "#0072b2"}, meta="grade", customdata=confidence,
                hovertemplate="grade %{y} (confidence %{customdata:.2f})<extra></extra>",
            )
        )
        overridden = graded[graded["review_grade_override"].notna()]
        if not overridden.empty:
            figure.add_trace(
                go.Scatter(
                    x=overridden["visit_date"].tolist(),
                    y=[float(g) for g in overridden["review_grade_override"].tolist()],
                    mode="markers", name="Clinician grade (override)",
                    marker={"symbol": "diamond", "size": 11, "color": "#d55e00"},
                    meta="grade:override",
                )
            )
    return add_treatment_events(figure, events)


def iga_figure(
    visits: pd.DataFrame, *, baseline_visit_id: int | None = None, events: Iterable[Any] = ()
) -> go.Figure:
    """Clinician IGA (0-4) per visit, with IGA success against the baseline visit's IGA marked."""
    figure = _base_figure("Clinician IGA", "IGA")
    figure.update_yaxes(
        range=[-0.3, 4.3], tickvals=list(IGA_LABELS),
        ticktext=[f"{g} {label}" for g, label in IGA_LABELS.items()],
    )
    if visits.empty:
        return add_treatment_events(figure, events)
    rated = visits[visits["iga"].notna()]
    if not rated.empty:
        figure.add_trace(
            go.Scatter(
                x=rated["visit_date"].tolist(), y=[int(v) for v in rated["iga"].tolist()],
                mode="lines+markers", name="Clinician IGA", line={"color": "#009e73"}, meta="iga",
            )
        )
    baseline = none_if_missing(visits["iga"].iloc[baseline_position(visits, baseline_visit_id)])
    if baseline is not None and not rated.empty:
        hits = rated[[iga_success(int(baseline), int(v)) for v in rated["iga"].tolist()]]
        if not hits.empty:
            figure.add_trace(
                go.Scatter(
                    x=hits["visit_date"].tolist(), y=[int(v) for v in hits["iga"].tolist()],
                    mode="markers", name="IGA success",
                    marker={"symbol": "star", "size": 16, "color": "#e69f00"}, meta="iga:success",
                )
            )
    return add_treatment_events(figure, events)


# ---- studies ----------------------------------------------------------------------------------


def _records(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Plain dicts of dataclass rows: their __dict__ when they have one (much faster than
    dataclasses.fields per row for thousands of study measurements)."""
    return [
        dict(vars(row)) if hasattr(row, "__dict__")
        else {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
        for row in rows
    ]


def trial_rows(measurements: Iterable[Any]) -> list[dict[str, Any]]:
    """Rows for `core.trends.arm_summary` from `study_measurements` (one per subject visit).

    Percent change and the baseline IGA are taken from each subject's baseline visit
    (`is_baseline`); visits before the baseline are left out (they have no study week).
    """
    by_subject: dict[tuple[str, str], list[Any]] = {}
    for row in measurements:
        by_subject.setdefault((row.arm, row.patient_code), []).append(row)
    rows: list[dict[str, Any]] = []
    for (arm, subject), visits in by_subject.items():
        visits.sort(key=lambda r: (r.visit_date, r.visit_id))
        baselines = [r for r in visits if r.is_baseline]
        if not baselines:
            continue  # a subject whose baseline visit has no analysed photo yet
        baseline = baselines[0]
        for row in visits:
            if row.days_from_baseline < 0:
                continue
            changes = {}
            for group in ("inflammatory", "non_inflammatory"):
                before, now = getattr(baseline, group), getattr(row, group)
                changes[group] = (
                    None if now is None else percent_change([before, now], 0)[1]
                )
            rows.append(
                {
                    "arm": arm,
                    "subject": subject,
                    "visit_id": row.visit_id,
                    "visit_date": row.visit_date,
                    "days_from_baseline": row.days_from_baseline,
                    "week": week_of(row.days_from_baseline),
                    "inflammatory": row.inflammatory,
                    "non_inflammatory": row.non_inflammatory,
                    "inflammatory_percent_change": changes["inflammatory"],
                    "non_inflammatory_percent_change": changes["non_inflammatory"],
                    "iga": row.iga,
                    "baseline_iga": baseline.iga,
                }
            )
    rows.sort(key=lambda r: (r["arm"], r["subject"], r["visit_date"], r["visit_id"]))
    return rows


def measurement_frame(
    measurements: Iterable[Any], trial: Sequence[Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """Every study measurement (one row per measured visit) with its study week, percent change
    from the subject's baseline, baseline IGA and IGA success: the CSV a statistician gets.

    Visits before a subject's baseline keep their counts but have no week or change. `trial`:
    `trial_rows(measurements)` when the caller has them already (they are not made twice).
    """
    measurements = list(measurements)
    if not measurements:
        return pd.DataFrame()
    frame = pd.DataFrame(_records(measurements))
    derived = pd.DataFrame(
        trial_rows(measurements) if trial is None else list(trial),
        columns=["visit_id", "week", "inflammatory_percent_change",
                 "non_inflammatory_percent_change", "baseline_iga"],
    )
    frame = frame.merge(derived, on="visit_id", how="left")
    frame["iga_success"] = [
        None if pd.isna(b) or pd.isna(i) else iga_success(int(b), int(i))
        for b, i in zip(frame["baseline_iga"].tolist(), frame["iga"].tolist())
    ]
    # Whole numbers with gaps stay whole numbers in the CSV (not 3.0).
    for column in ("week", "baseline_iga", "iga", "grade_override"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


def summary_frame(summaries: Sequence[ArmWeekSummary]) -> pd.DataFrame:
    """The arm-by-week table, rates in percent."""
    frame = pd.DataFrame([s.to_dict() for s in summaries])
    for rate in ARM_RATES:
        if rate in frame:
            frame[rate] = frame[rate].map(lambda v: None if v is None else round(100.0 * v, 1))
    return frame


def arm_change_figure(
    summaries: Sequence[ArmWeekSummary], measure: str = "inflammatory"
) -> go.Figure:
    """Mean percent change from baseline per arm and week, with 95% CI error bars.

    A week with one subject has a mean but no interval: its point has no bar.
    """
    if measure not in ARM_MEASURES:
        raise ValueError(f"measure must be one of {sorted(ARM_MEASURES)}, got {measure!r}")
    figure = go.Figure()
    figure.update_layout(
        title=f"Mean % change in {ARM_MEASURES[measure]} (95% CI)",
        xaxis_title="Week from baseline", yaxis_title="% change from baseline",
        legend={"orientation": "h", "y": -0.2},
    )
    arms = list(dict.fromkeys(s.arm for s in summaries))
    for number, arm in enumerate(arms):
        points = [
            s for s in summaries if s.arm == arm and getattr(s, measure).mean is not None
        ]
        stats = [getattr(s, measure) for s in points]
        figure.add_trace(
            go.Scatter(
                x=[s.week for s in points], y=[m.mean for m in stats], mode="lines+markers",
                name=arm, meta=arm, line={"color": _ARM_COLOURS[number % len(_ARM_COLOURS)]},
                customdata=[m.n for m in stats],
                hovertemplate="week %{x}: %{y:.1f}% (n=%{customdata})<extra>" + arm + "</extra>",
                error_y={
                    "type": "data", "symmetric": False,
                    "array": [None if m.ci_high is None else m.ci_high - m.mean for m in stats],
                    "arrayminus": [None if m.ci_low is None else m.mean - m.ci_low for m in stats],
                },
            )
        )
    figure.add_hline(y=0, line={"color": "#999999", "width": 1})
    return figure


def arm_rate_figure(
    summaries: Sequence[ArmWeekSummary], rate: str = "responder_rate"
) -> go.Figure:
    """Bars per arm and week: responder rate or IGA success rate, in percent of evaluable
    subjects (the bar text gives how many)."""
    if rate not in ARM_RATES:
        raise ValueError(f"rate must be one of {sorted(ARM_RATES)}, got {rate!r}")
    evaluable = "n_responder_evaluable" if rate == "responder_rate" else "n_iga"
    figure = go.Figure()
    figure.update_layout(
        title=ARM_RATES[rate], barmode="group", xaxis_title="Week from baseline",
        yaxis_title="% of evaluable subjects", yaxis_range=[0, 105],
        legend={"orientation": "h", "y": -0.2},
    )
    arms = list(dict.fromkeys(s.arm for s in summaries))
    for number, arm in enumerate(arms):
        points = [s for s in summaries if s.arm == arm and getattr(s, rate) is not None]
        figure.add_trace(
            go.Bar(
                x=[s.week for s in points], y=[100.0 * getattr(s, rate) for s in points],
                name=arm, meta=arm, marker_color=_ARM_COLOURS[number % len(_ARM_COLOURS)],
                text=[f"n={getattr(s, evaluable)}" for s in points], textposition="outside",
            )
        )
    return figure


# ---- two visits -------------------------------------------------------------------------------

# Okabe-Ito hues that differ from each other under colour-vision deficiencies.
CHANGE_COLOURS: dict[str, str] = {
    "new": "#d55e00",  # vermillion
    "resolved": "#009e73",  # bluish green
    "persisting": "#0072b2",  # blue
}
CHANGE_LABELS: dict[str, str] = {
    "new": "New (after only)",
    "resolved": "Resolved (before only)",
    "persisting": "Persisting (both visits)",
}
COUNT_ROWS: dict[str, str] = {**KIND_LABELS, **GROUP_LABELS, "total": "All lesions"}


def lesions_from_records(records: Iterable[Any]) -> list[Lesion]:
    """core Lesions from stored lesion rows (x0, y0, x1, y1, kind, score, area_px, region)."""
    return [
        Lesion(bbox=(int(r.x0), int(r.y0), int(r.x1), int(r.y1)), kind=r.kind,
               score=float(r.score), area_px=int(r.area_px), region=r.region)
        for r in records
    ]


def count_change_table(before: Any, after: Any) -> pd.DataFrame:
    """Counts of two visits side by side with absolute and percent change.

    `before` / `after` are analyses (rows or mappings) with per-kind and group counts. A change is
    flagged as real only beyond counting noise (`core.trends.is_meaningful_count_change`).
    """
    def read(source: Any, name: str) -> int:
        value = source[name] if isinstance(source, Mapping) else getattr(source, name)
        return int(value)

    rows = []
    for name, label in COUNT_ROWS.items():
        first, second = read(before, name), read(after, name)
        percent = percent_change([first, second], 0)[1]
        rows.append(
            {
                "lesions": label,
                "before": first,
                "after": second,
                "change": second - first,
                "% change": None if percent is None else round(percent, 1),
                "beyond counting noise": is_meaningful_count_change(first, second),
            }
        )
    return pd.DataFrame(rows)


def styled_count_change(table: pd.DataFrame) -> Any:
    """The count change table for display: signed percents, and "from 0" where the earlier
    count was 0 (a percent change from nothing is undefined; a grey "None" said nothing)."""
    return table.style.format("{:+.1f}%", subset=["% change"], na_rep="from 0")


def canonical_box(bbox: Box, alignment: Sequence[float]) -> tuple[float, float, float, float]:
    """A photo-frame box mapped into the canonical face frame (the box around its 4 corners)."""
    x0, y0, x1, y1 = bbox
    corners = transform_points([(x0, y0), (x1, y0), (x0, y1), (x1, y1)], alignment)
    return (
        float(corners[:, 0].min()), float(corners[:, 1].min()),
        float(corners[:, 0].max()), float(corners[:, 1].max()),
    )


def _image_source(image: np.ndarray) -> str:
    # A JPEG data URI: a raw pixel array would be megabytes of JSON, and PNG encoding of two
    # face photos took most of the compare page's time; a background picture needs no more.
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).convert("RGB").save(buffer, format="JPEG",
                                                                      quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def lesion_change_figure(
    before_image: np.ndarray,
    after_image: np.ndarray,
    boxes: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    *,
    titles: tuple[str, str] = ("Before", "After"),
) -> go.Figure:
    """Both visits' photos (same frame) with lesions outlined by change status.

    `boxes[status][side]` lists (x0, y0, x1, y1) boxes in the images' pixel frame, for status in
    CHANGE_COLOURS and side "before" / "after": resolved lesions appear on the before photo,
    new ones on the after photo, persisting ones on both.
    """
    unknown = set(boxes) - set(CHANGE_COLOURS)
    if unknown:
        raise ValueError(f"unknown change status {sorted(unknown)}; use {sorted(CHANGE_COLOURS)}")
    figure = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.02)
    for column, image in ((1, before_image), (2, after_image)):
        figure.add_trace(go.Image(source=_image_source(image), hoverinfo="skip"), row=1, col=column)
    axes = {"before": ("x", "y"), "after": ("x2", "y2")}
    for status, colour in CHANGE_COLOURS.items():
        by_side = boxes.get(status, {})
        count = max((len(by_side.get(side, ())) for side in axes), default=0)
        for side, (xref, yref) in axes.items():
            for x0, y0, x1, y1 in by_side.get(side, ()):
                figure.add_shape(
                    type="rect", xref=xref, yref=yref, x0=x0, y0=y0, x1=x1, y1=y1,
                    line={"color": colour, "width": 2}, name=f"{status}:{side}",
                )
        # An empty trace gives each colour a legend entry with its count.
        figure.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", meta=status,
                marker={"symbol": "square-open", "size": 12, "color": colour},
                name=f"{CHANGE_LABELS[status]}: {count}",
            ),
            row=1, col=1,
        )
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0},
                         legend={"orientation": "h", "y": -0.05})
    return figure


def change_boxes(
    change: Any,
    before: Sequence[Lesion],
    before_alignment: Sequence[float],
    after: Sequence[Lesion],
    after_alignment: Sequence[float],
) -> dict[str, dict[str, list[tuple[float, float, float, float]]]]:
    """Canonical-frame boxes per change status and side, for `lesion_change_figure`.

    `change` is a `core.change.LesionChange`: persisting (before index, after index) pairs,
    new indices into `after`, resolved indices into `before`.
    """
    def on_before(index: int) -> tuple[float, float, float, float]:
        return canonical_box(before[index].bbox, before_alignment)

    def on_after(index: int) -> tuple[float, float, float, float]:
        return canonical_box(after[index].bbox, after_alignment)

    return {
        "resolved": {"before": [on_before(i) for i in change.resolved], "after": []},
        "new": {"before": [], "after": [on_after(j) for j in change.new]},
        "persisting": {
            "before": [on_before(i) for i, _ in change.persisting],
            "after": [on_after(j) for _, j in change.persisting],
        },
    }
