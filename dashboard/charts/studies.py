"""Study tables and per-arm figures of the studies page (pure functions, no Streamlit).

Trial statistics come from `core.trends`; this module arranges study measurements per subject,
per arm and per week.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.flags import quality_cell
from core.trends import (
    ArmWeekSummary,
    MeanCI,
    count_beyond_retake_noise,
    iga_success,
    percent_change,
    week_of,
)
from core.types import GRADE_LABELS

ARM_MEASURES: dict[str, str] = {
    "inflammatory": "inflammatory lesions",
    "non_inflammatory": "non-inflammatory lesions",
}
ARM_RATES: dict[str, str] = {
    "responder_rate": "Responders (≥50% fewer inflammatory lesions)",
    "iga_success_rate": "IGA success (IGA 0-1 and ≥2 grades better)",
}

# Subjects whose inflammatory count changed by more than a retaken photo changes.
BEYOND_RETAKE = "Changed beyond a retake"
_ARM_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")


def _records(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Plain dicts of dataclass rows: their __dict__ when they have one (much faster than
    dataclasses.fields per row for thousands of study measurements)."""
    return [
        dict(vars(row)) if hasattr(row, "__dict__")
        else {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
        for row in rows
    ]


def trial_rows(measurements: Iterable[Any], noise: Any = None) -> list[dict[str, Any]]:
    """Rows for `core.trends.arm_summary` from `study_measurements` (one per subject visit).

    Percent change and the baseline IGA are taken from each subject's baseline visit
    (`is_baseline`); visits before the baseline are left out (they have no study week). With a
    retake table (`noise`, core.retake_noise.RetakeNoise), each row says whether the subject's
    inflammatory count changed by more than a retaken photo changes (None without a table).
    """
    by_subject: dict[tuple[str, str], list[Any]] = {}
    for row in measurements:
        by_subject.setdefault((row.arm, row.patient_code), []).append(row)
    rows: list[dict[str, Any]] = []
    for (arm, subject), visits in by_subject.items():
        visits.sort(key=lambda r: (r.visit_date, r.visit_id))
        at = next((i for i, r in enumerate(visits) if r.is_baseline), None)
        if at is None:
            continue  # a subject whose baseline visit has no analysed photo yet
        baseline = visits[at]
        # One percent_change per subject and lesion group, not one per visit (50,000 visits).
        changes = {group: percent_change([getattr(r, group) for r in visits], at)
                   for group in ("inflammatory", "non_inflammatory")}
        for index, row in enumerate(visits):
            if row.days_from_baseline < 0:
                continue
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
                    "inflammatory_percent_change": changes["inflammatory"][index],
                    "non_inflammatory_percent_change": changes["non_inflammatory"][index],
                    "iga": row.iga,
                    "baseline_iga": baseline.iga,
                    "inflammatory_beyond_retake_noise": None if row.is_baseline
                    else count_beyond_retake_noise("inflammatory", baseline.inflammatory,
                                                   row.inflammatory, noise),
                }
            )
    rows.sort(key=lambda r: (r["arm"], r["subject"], r["visit_date"], r["visit_id"]))
    return rows


def measurement_frame(
    measurements: Iterable[Any], trial: Sequence[Mapping[str, Any]] | None = None,
    noise: Any = None,
) -> pd.DataFrame:
    """Every study measurement (one row per measured visit) with its study week, percent change
    from the subject's baseline, baseline IGA and IGA success: the CSV a statistician gets.

    Visits before a subject's baseline keep their counts but have no week or change. `trial`:
    `trial_rows(measurements, noise)` when the caller has them already (they are not made
    twice). `quality_check` flags a photo stored although it failed the quality check, with why.
    """
    measurements = list(measurements)
    if not measurements:
        return pd.DataFrame()
    frame = pd.DataFrame(_records(measurements))
    derived = pd.DataFrame(
        trial_rows(measurements, noise) if trial is None else list(trial),
        columns=["visit_id", "week", "inflammatory_percent_change",
                 "non_inflammatory_percent_change", "baseline_iga",
                 "inflammatory_beyond_retake_noise"],
    )
    if "quality_reasons" in frame:
        frame["quality_check"] = [quality_cell(p, r) for p, r in
                                  zip(frame["quality_passed"].tolist(),
                                      frame["quality_reasons"].tolist())]
        frame = frame.drop(columns="quality_reasons")
    frame = frame.merge(derived, on="visit_id", how="left")
    if noise is None:  # no retake table: no column that would only say "unknown"
        frame = frame.drop(columns="inflammatory_beyond_retake_noise")
    frame["iga_success"] = [
        None if pd.isna(b) or pd.isna(i) else iga_success(int(b), int(i))
        for b, i in zip(frame["baseline_iga"].tolist(), frame["iga"].tolist())
    ]
    # Whole numbers with gaps stay whole numbers in the CSV (not 3.0).
    for column in ("week", "baseline_iga", "iga", "grade_override"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


def measurement_screen(table: pd.DataFrame) -> pd.DataFrame:
    """The measurements as the page shows them: besides the CSV's columns, the lesion area and
    the grade confidence in percent and the grades in words (the CSV keeps its own)."""
    if table.empty:
        return table
    screen = table.copy()
    screen["lesion_area_percent"] = (100.0 * screen["lesion_area_fraction"].astype(float)).round(2)
    screen["grade_confidence_percent"] = (100.0 * screen["grade_confidence"].astype(float)).round()
    screen["model_grade"] = [GRADE_LABELS.get(int(g)) if not pd.isna(g) else None
                             for g in screen["grade"].tolist()]
    screen["clinician_grade"] = [GRADE_LABELS.get(int(g)) if not pd.isna(g) else None
                                 for g in screen["grade_override"].tolist()]
    return screen


def _change(stat: MeanCI) -> str | None:
    return None if stat.mean is None else f"{stat.mean:+.1f}%"


def _interval(stat: MeanCI) -> str | None:
    if stat.ci_low is None or stat.ci_high is None:
        return None
    return f"{stat.ci_low:+.1f}% to {stat.ci_high:+.1f}%"


def _rate(rate: float | None, evaluable: int) -> str | None:
    return None if rate is None else f"{100.0 * rate:.0f}% of {evaluable}"


def _beyond(count: int | None, evaluable: int) -> str | None:
    return None if count is None else f"{count} of {evaluable}"


def summary_table(summaries: Sequence[ArmWeekSummary]) -> pd.DataFrame:
    """The arm-by-week results in words, one row per arm and week: subjects, mean percent
    change with its 95% interval, responder and IGA success rates with how many were judged."""
    rows = [
        {
            "Arm": s.arm,
            "Week": s.week,
            "Subjects": s.n,
            "Inflammatory change": _change(s.inflammatory),
            "Inflammatory 95% CI": _interval(s.inflammatory),
            "Non-inflammatory change": _change(s.non_inflammatory),
            "Non-inflammatory 95% CI": _interval(s.non_inflammatory),
            "Responders": _rate(s.responder_rate, s.n_responder_evaluable),
            "IGA success": _rate(s.iga_success_rate, s.n_iga),
            BEYOND_RETAKE: _beyond(s.n_beyond_retake_noise, s.n_retake_evaluable),
        }
        for s in summaries
    ]
    columns = ["Arm", "Week", "Subjects", "Inflammatory change", "Inflammatory 95% CI",
               "Non-inflammatory change", "Non-inflammatory 95% CI", "Responders", "IGA success"]
    if any(s.n_beyond_retake_noise is not None for s in summaries):
        columns.append(BEYOND_RETAKE)  # only with a retake table: never a made-up number
    return pd.DataFrame(rows, columns=columns)


def has_points(summaries: Sequence[ArmWeekSummary], measure: str) -> bool:
    """Whether a results panel has anything to draw: a mean change (`measure` in ARM_MEASURES)
    or a rate (in ARM_RATES) for at least one arm and week."""
    if measure in ARM_MEASURES:
        return any(getattr(s, measure).mean is not None for s in summaries)
    if measure in ARM_RATES:
        return any(getattr(s, measure) is not None for s in summaries)
    raise ValueError(f"measure must be one of {sorted({**ARM_MEASURES, **ARM_RATES})}, got {measure!r}")


# Why a results panel is empty, in words (shown instead of an empty chart).
EMPTY_PANELS: dict[str, str] = {
    "inflammatory": "No change in inflammatory lesions yet: it needs a measured baseline visit "
                    "with at least one inflammatory lesion.",
    "non_inflammatory": "No change in non-inflammatory lesions yet: it needs a measured baseline "
                        "visit with at least one comedone (a change from 0 has no percent).",
    "responder_rate": "No responder rate yet: it needs a baseline visit with inflammatory lesions "
                      "and a later measured visit.",
    "iga_success_rate": "No IGA success rate yet: it needs a clinician's IGA at the baseline "
                        "visit and at a later visit (Review queue).",
}


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
                hovertemplate="week %{x}: %{y:.0f}% (%{text})<extra>" + arm + "</extra>",
            )
        )
    return figure
