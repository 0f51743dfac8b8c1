"""Per-patient trend figures of the trends page (pure functions, no Streamlit).

Counts, lesion area, grade and IGA over a patient's visits (a `timeline.visit_frame`). Change and
smoothing come from `core.trends`; this module only arranges them per visit.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.flags import quality_cell
from core.overlay import KIND_COLOURS, UNCERTAIN_TYPE_COLOUR
from core.trends import change_from_baseline, iga_success, percent_change, smooth
from core.types import GRADE_LABELS
from core.words import version_label
from dashboard.charts.timeline import (
    GROUP_LABELS,
    IGA_LABELS,
    KIND_LABELS,
    TYPE_LABELS,
    none_if_missing,
)

MODES: dict[str, str] = {
    "value": "Values",
    "absolute": "Change from baseline",
    "percent": "% change from baseline",
}
SMOOTHING_WINDOW = 3  # visits in the rolling median (core.trends.smooth)
DATE_HOVER = "%d %b %Y"  # a visit's date in a hover: 10 Jan 2024
# How a hover reads one value, by what is measured and how it is shown (plotly d3 formats:
# "~" drops trailing zeros, so 4 lesions read "4" and a smoothed 4.5 reads "4.5").
HOVER_VALUES: dict[tuple[str, str], str] = {
    ("count", "value"): "%{y:.1~f} lesions",
    ("count", "absolute"): "%{y:+.1~f} lesions",
    ("count", "percent"): "%{y:+.0f}%",
    ("area", "value"): "%{y:.2f}% of facial skin",
    ("area", "absolute"): "%{y:+.2f} percentage points",
    ("area", "percent"): "%{y:+.0f}%",
}

# Same hues as the photo overlays, so a line and its lesions on a photo match.
_SERIES_COLOURS: dict[str, str] = {
    **{kind: "#{:02x}{:02x}{:02x}".format(*rgb) for kind, rgb in KIND_COLOURS.items()},
    "inflammatory": "#{:02x}{:02x}{:02x}".format(*KIND_COLOURS["papule"]),
    "non_inflammatory": "#{:02x}{:02x}{:02x}".format(*KIND_COLOURS["comedone"]),
    "inflammatory_type_uncertain": "#{:02x}{:02x}{:02x}".format(*UNCERTAIN_TYPE_COLOUR),
    "lesion_area_fraction": "#009e73",
    "total": "#0072b2",
}
_EVENT_COLOUR = "#7f7f7f"
# A point from a photo stored although it failed the quality check is drawn hollow.
FLAGGED_SYMBOL = "circle-open"
MEASURED_SYMBOL = "circle"
RETAKE_BAND = "a retaken photo would land within this band"
# Above this many visits a series is drawn as a line without a marker per visit (thousands of
# markers cost the browser seconds and hide the line); a flagged visit keeps its hollow marker,
# in a trace of its own (meta "<column>:flagged"), and the hover still reads every visit.
MARKER_LIMIT = 150
# The retake table's name of each measure a trend line shows (core.retake_noise.MEASURES).
_NOISE_MEASURES: dict[str, str] = {
    "total": "total", "inflammatory": "inflammatory", "non_inflammatory": "non_inflammatory",
    "lesion_area_fraction": "lesion_area",
}


def _flags(visits: pd.DataFrame) -> list[str | None]:
    if "quality_flag" not in visits:
        return [None] * len(visits)
    return [none_if_missing(flag) for flag in visits["quality_flag"].tolist()]


def _dates(visits: pd.DataFrame) -> Any:
    """The visit dates as one array of "2024-01-31" strings: plotly validates a list of
    Timestamps one element at a time (a tenth of a second per chart at 1,000 visits) and
    sends each as "2024-01-31T00:00:00" (twice the bytes: the dates were most of a chart)."""
    days = pd.to_datetime(visits["visit_date"]).to_numpy(dtype="datetime64[D]")
    return np.datetime_as_string(days, unit="D")


def long_series(visits: pd.DataFrame) -> bool:
    """Whether the series is drawn as lines only (more than MARKER_LIMIT visits)."""
    return len(visits) > MARKER_LIMIT


def _rgba(colour: str | None, alpha: float) -> str:
    colour = (colour or "#0072b2").lstrip("#")
    red, green, blue = (int(colour[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def retake_band_traces(visits: pd.DataFrame, column: str, label: str, *, noise: Any,
                       scale: float = 1.0, show_legend: bool = True) -> list[go.Scatter]:
    """Two traces (lower edge, then upper edge filled down to it) around the measured values of
    `column`: the range a retaken photo would land within (`noise.band`, core.retake_noise).
    [] without a table or for a measure the table does not cover."""
    measure = _NOISE_MEASURES.get(column)
    if noise is None or measure is None or visits.empty:
        return []
    values = _values(visits, column)
    lower, upper = [], []
    for value in values:
        if value is None:
            lower.append(None)
            upper.append(None)
            continue
        half = noise.band(measure, max(0.0, value))
        lower.append(max(0.0, value - half) * scale)
        upper.append((value + half) * scale)
    dates = _dates(visits)
    colour = _rgba(_SERIES_COLOURS.get(column), 0.15)
    return [
        go.Scatter(x=dates, y=lower, mode="lines", line={"width": 0}, showlegend=False,
                   hoverinfo="skip", meta=f"{column}:band_low", connectgaps=False),
        go.Scatter(x=dates, y=upper, mode="lines", line={"width": 0}, fill="tonexty",
                   fillcolor=colour, name=f"Shaded: {RETAKE_BAND}", legendgroup="retake",
                   showlegend=show_legend, hoverinfo="skip", meta=f"{column}:band",
                   connectgaps=False),
    ]


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
    figure.update_xaxes(hoverformat=DATE_HOVER)
    return figure


def date_range(visits: pd.DataFrame, events: Iterable[Any] = ()) -> list[pd.Timestamp] | None:
    """The date axis every trend chart of a patient shares: the visits and treatment events,
    with a margin, so switching between charts never moves the dates (None when empty)."""
    dates = [pd.Timestamp(d) for d in visits["visit_date"].tolist()] if not visits.empty else []
    for event in events:
        when = event.event_date if hasattr(event, "event_date") else event[0]
        dates.append(pd.Timestamp(when))
    if not dates:
        return None
    first, last = min(dates), max(dates)
    margin = max((last - first) * 0.05, pd.Timedelta(days=7))
    return [first - margin, last + margin]


def _share_dates(figure: go.Figure, visits: pd.DataFrame, events: Iterable[Any]) -> go.Figure:
    shown = date_range(visits, events)
    if shown is not None:
        figure.update_xaxes(range=shown)
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
    shapes, annotations = [], []
    for event in events:
        when, description = (
            (event.event_date, event.description) if hasattr(event, "event_date") else event
        )
        if not isinstance(when, (date, datetime)):
            raise ValueError(f"treatment event date must be a date, got {when!r}")
        when = pd.Timestamp(when)
        shapes.append({
            "type": "line", "xref": "x", "yref": "paper", "x0": when, "x1": when, "y0": 0,
            "y1": 1, "line": {"color": _EVENT_COLOUR, "dash": "dash", "width": 1},
            "name": "treatment",
        })
        annotations.append({
            "x": when, "y": 1, "xref": "x", "yref": "paper", "text": str(description)[:40],
            "showarrow": False, "textangle": -90, "xanchor": "right", "yanchor": "top",
            "font": {"size": 10, "color": _EVENT_COLOUR}, "hovertext": str(description),
        })
    if shapes:
        # Set at once: add_shape/add_annotation re-validate every earlier one (20 treatment
        # steps took half a second).
        figure.update_layout(shapes=[*figure.layout.shapes, *shapes],
                             annotations=[*figure.layout.annotations, *annotations])
    return figure


def series_traces(
    visits: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    measure: str = "count",
    mode: str = "value",
    baseline_visit_id: int | None = None,
    smoothing: bool = False,
    scale: float = 1.0,
    noise: Any = None,
) -> list[go.Scatter]:
    """One line over visit dates for each column (label by column), in values or change, with
    a hover in words (`measure`: "count" for lesions, "area" for % of facial skin).

    With smoothing on, the smoothed line is drawn with the raw values as faint points, so a
    reader always sees what was measured. A visit whose photo failed the quality check (stored
    anyway) has a hollow point and says so on a line of its own in the hover. With a retake
    table (`noise`, core.retake_noise.RetakeNoise) and values shown, each measured value has
    the band a retaken photo would land within.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    if (measure, mode) not in HOVER_VALUES:
        raise ValueError(f"measure must be 'count' or 'area', got {measure!r}")
    traces: list[go.Scatter] = []
    if visits.empty:
        return traces
    dates = _dates(visits)
    value = HOVER_VALUES[(measure, mode)]
    flags = _flags(visits)
    symbols = [FLAGGED_SYMBOL if flag else MEASURED_SYMBOL for flag in flags]
    flag_lines = [f"<br>{flag}" if flag else "" for flag in flags]
    lines_only = long_series(visits)
    flagged = [i for i, flag in enumerate(flags) if flag]
    banded = False
    for column, label in columns.items():
        colour = _SERIES_COLOURS.get(column)
        if mode == "value":
            band = retake_band_traces(visits, column, label, noise=noise, scale=scale,
                                      show_legend=not banded)
            banded = banded or bool(band)
            traces.extend(band)
        shown = series_values(
            visits, column, mode=mode, baseline_visit_id=baseline_visit_id,
            smoothing=smoothing, scale=scale,
        )
        name = f"{label} (smoothed)" if smoothing else label
        if lines_only:
            # A line, no marker per visit; the flags are on hollow markers of their own below.
            traces.append(go.Scatter(
                x=dates, y=shown, mode="lines", name=name, line={"color": colour}, meta=column,
                connectgaps=False, hovertemplate=f"{name}: {value}<extra></extra>",
            ))
        else:
            traces.append(
                go.Scatter(
                    x=dates, y=shown, mode="lines+markers", name=name,
                    line={"color": colour}, meta=column, customdata=visits["visit_id"].tolist(),
                    marker={"symbol": symbols, "size": 9}, text=flag_lines,
                    connectgaps=False, hovertemplate=f"{name}: {value}%{{text}}<extra></extra>",
                )
            )
        if smoothing:
            raw = series_values(
                visits, column, mode=mode, baseline_visit_id=baseline_visit_id, scale=scale
            )
            if lines_only:
                # The measured values as a faint line under the smoothed one.
                traces.append(go.Scatter(
                    x=dates, y=raw, mode="lines", name=f"{label} (measured)",
                    line={"color": colour, "width": 1}, opacity=0.35, meta=f"{column}:raw",
                    showlegend=False, connectgaps=False,
                    hovertemplate=f"{label} (measured): {value}<extra></extra>",
                ))
            else:
                traces.append(
                    go.Scatter(
                        x=dates, y=raw, mode="markers", name=f"{label} (measured)",
                        marker={"color": colour, "opacity": 0.35, "size": 7, "symbol": symbols},
                        meta=f"{column}:raw", showlegend=False, text=flag_lines,
                        hovertemplate=f"{label} (measured): {value}%{{text}}<extra></extra>",
                    )
                )
        if lines_only and flagged:
            traces.append(_flagged_trace(dates, shown, flagged, flags, colour,
                                         f"{column}:flagged", label))
    return traces


def _flagged_trace(dates: Any, values: list[float | None], flagged: list[int],
                   flags: list[str | None], colour: str | None, meta: str,
                   label: str) -> go.Scatter:
    """Hollow markers at the visits whose photo failed the quality check, with the reason on
    a line of its own in the hover (a long series draws no other marker)."""
    return go.Scatter(
        x=[dates[i] for i in flagged], y=[values[i] for i in flagged], mode="markers",
        name=f"{label}: photo failed the quality check", meta=meta, showlegend=False,
        marker={"symbol": FLAGGED_SYMBOL, "size": 9, "color": colour},
        text=[f"<br>{flags[i]}" for i in flagged],
        hovertemplate=f"{label}: %{{text}}<extra></extra>",
    )


def trend_figure(
    visits: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    title: str,
    unit: str,
    measure: str = "count",
    mode: str = "value",
    baseline_visit_id: int | None = None,
    smoothing: bool = False,
    scale: float = 1.0,
    events: Iterable[Any] = (),
    noise: Any = None,
) -> go.Figure:
    """Lines over visit dates for each column (label by column), in values or change
    (`series_traces`), on the patient's shared date axis."""
    figure = _base_figure(title, _axis_title(mode, unit))
    if visits.empty:
        return figure
    figure.add_traces(series_traces(
        visits, columns, measure=measure, mode=mode, baseline_visit_id=baseline_visit_id,
        smoothing=smoothing, scale=scale, noise=noise,
    ))
    if mode != "value":
        figure.add_hline(y=0, line={"color": "#999999", "width": 1})
        _mark_baseline(figure, visits, baseline_visit_id)
    add_treatment_events(figure, events)
    return _share_dates(figure, visits, events)


def kinds_figure(visits: pd.DataFrame, **options: Any) -> go.Figure:
    """Counts of each lesion type (comedones, papules, pustules, nodules/cysts, and the
    inflammatory lesions whose type is uncertain)."""
    return trend_figure(
        visits, TYPE_LABELS, title="Lesions by type", unit="lesions", **options
    )


def groups_figure(visits: pd.DataFrame, **options: Any) -> go.Figure:
    """Inflammatory and non-inflammatory counts, the trial co-primary endpoints, with the
    nodules/cysts (part of the inflammatory count) on their own line."""
    return trend_figure(
        visits, {**GROUP_LABELS, "nodule": KIND_LABELS["nodule"] + " (part of inflammatory)"},
        title="Inflammatory and non-inflammatory lesions", unit="lesions", **options,
    )


def area_figure(visits: pd.DataFrame, **options: Any) -> go.Figure:
    """Lesion area as a percent of the facial skin (percentage points for absolute change)."""
    mode = options.get("mode", "value")
    unit = "percentage points" if mode == "absolute" else "% of facial skin"
    return trend_figure(
        visits, {"lesion_area_fraction": "Lesion area"}, title="Lesion area",
        unit=unit, measure="area", scale=100.0, **options,
    )


def colour_figure(visits: pd.DataFrame, **options: Any) -> go.Figure:
    """Red area and dark-mark area as a percent of the measured skin (core.colour_measures;
    percentage points for absolute change); visits whose photo was not measured are gaps."""
    mode = options.get("mode", "value")
    unit = "percentage points" if mode == "absolute" else "% of the skin"
    return trend_figure(
        visits, {"red_area_fraction": "Red area", "dark_area_fraction": "Dark marks"},
        title="Redness and dark marks", unit=unit, measure="area", scale=100.0,
        **{k: v for k, v in options.items() if k != "noise"},
    )


def grade_traces(visits: pd.DataFrame) -> list[go.Scatter]:
    """Model grade with its uncertainty band, and clinician overrides, hovers in words."""
    graded = visits[visits["grade"].notna()] if not visits.empty else visits
    if graded.empty:
        return []
    dates = _dates(graded)
    grades = [float(g) for g in graded["grade"].tolist()]
    confidence = [
        None if none_if_missing(c) is None else float(c)
        for c in graded["grade_confidence"].tolist()
    ]
    flags = _flags(graded)
    spread = [0.0 if c is None else 1.0 - c for c in confidence]
    lower = [max(0.0, g - s) for g, s in zip(grades, spread)]
    upper = [min(3.0, g + s) for g, s in zip(grades, spread)]
    traces = [
        go.Scatter(
            x=dates, y=lower, mode="lines", line={"width": 0}, showlegend=False,
            hoverinfo="skip", meta="grade:lower",
        ),
        go.Scatter(
            x=dates, y=upper, mode="lines", line={"width": 0}, fill="tonexty",
            fillcolor="rgba(0, 114, 178, 0.15)", name="Uncertainty (1 - confidence)",
            hoverinfo="skip", meta="grade:upper",
        ),
        go.Scatter(
            x=dates, y=grades, mode="lines" if long_series(graded) else "lines+markers",
            name="Model grade", line={"color": "#0072b2"}, meta="grade", customdata=confidence,
            marker={"symbol": [FLAGGED_SYMBOL if f else MEASURED_SYMBOL for f in flags],
                    "size": 9} if not long_series(graded) else None,
            text=[GRADE_LABELS.get(int(g), "") + (f"<br>{f}" if f else "")
                  for g, f in zip(grades, flags)],
            hovertemplate="Model grade: %{text} (%{customdata:.0%} confidence)<extra></extra>",
        ),
    ]
    flagged = [i for i, flag in enumerate(flags) if flag]
    if long_series(graded) and flagged:
        traces.append(_flagged_trace(dates, grades, flagged, flags, "#0072b2", "grade:flagged",
                                     "Model grade"))
    overridden = graded[graded["review_grade_override"].notna()]
    if not overridden.empty:
        overrides = [float(g) for g in overridden["review_grade_override"].tolist()]
        traces.append(
            go.Scatter(
                x=overridden["visit_date"].tolist(), y=overrides,
                mode="markers", name="Clinician grade (override)",
                marker={"symbol": "diamond", "size": 11, "color": "#d55e00"},
                meta="grade:override", text=[GRADE_LABELS.get(int(g), "") for g in overrides],
                hovertemplate="Clinician grade: %{text}<extra></extra>",
            )
        )
    return traces


# The grade in words only: numbered ("0 mild") it reads like IGA's 0-4 (issue 26).
GRADE_TICKS = {"tickvals": list(GRADE_LABELS), "ticktext": list(GRADE_LABELS.values())}


def grade_figure(visits: pd.DataFrame, *, events: Iterable[Any] = ()) -> go.Figure:
    """Model grade (ACNE04 / Hayashi 0-3) with an uncertainty band, and clinician overrides.

    The band spans grade +- (1 - confidence): only the probability of the chosen grade is stored,
    so the band is a visual cue of how sure the model was, not a statistical interval.
    """
    figure = _base_figure("Severity grade (model)", "Grade")
    figure.update_yaxes(range=[-0.3, 3.3], **GRADE_TICKS)
    figure.add_traces(grade_traces(visits))
    add_treatment_events(figure, events)
    return _share_dates(figure, visits, events)


def overview_figure(
    visits: pd.DataFrame,
    *,
    mode: str = "value",
    baseline_visit_id: int | None = None,
    smoothing: bool = False,
    events: Iterable[Any] = (),
    noise: Any = None,
) -> go.Figure:
    """Counts, lesion area and severity grade over time, stacked on one shared date axis, so a
    change in one panel lines up with the others and with the treatment events."""
    area_unit = "percentage points" if mode == "absolute" else "% of facial skin"
    figure = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
        subplot_titles=("Inflammatory and non-inflammatory lesions", "Lesion area",
                        "Severity grade (model)"),
    )
    options = {"mode": mode, "baseline_visit_id": baseline_visit_id, "smoothing": smoothing,
               "noise": noise}
    if not visits.empty:
        for trace in series_traces(visits, GROUP_LABELS, measure="count", **options):
            figure.add_trace(trace, row=1, col=1)
        for trace in series_traces(visits, {"lesion_area_fraction": "Lesion area"},
                                   measure="area", scale=100.0, **options):
            figure.add_trace(trace, row=2, col=1)
        for trace in grade_traces(visits):
            figure.add_trace(trace, row=3, col=1)
        # One legend entry for the retake bands of both panels.
        bands = [t for t in figure.data if str(t.meta or "").endswith(":band")]
        for trace in bands[1:]:
            trace.showlegend = False
    figure.update_layout(
        title="Overview", hovermode="x unified", height=760,
        # Below the date axis and its title, not over them.
        legend={"orientation": "h", "y": -0.1, "yanchor": "top"}, margin={"t": 80, "b": 110},
    )
    figure.update_yaxes(title_text=_axis_title(mode, "lesions"), row=1, col=1)
    figure.update_yaxes(title_text=_axis_title(mode, area_unit), row=2, col=1)
    figure.update_yaxes(title_text="Grade", range=[-0.3, 3.3], row=3, col=1, **GRADE_TICKS)
    figure.update_xaxes(hoverformat=DATE_HOVER)
    figure.update_xaxes(title_text="Visit date", row=3, col=1)
    if mode != "value" and not visits.empty:
        _mark_baseline(figure, visits, baseline_visit_id)
    add_treatment_events(figure, events)
    return _share_dates(figure, visits, events)


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
        values = [int(v) for v in rated["iga"].tolist()]
        figure.add_trace(
            go.Scatter(
                x=rated["visit_date"].tolist(), y=values,
                mode="lines+markers", name="Clinician IGA", line={"color": "#009e73"}, meta="iga",
                text=[IGA_LABELS[v] for v in values],
                hovertemplate="Clinician IGA: %{y:d} %{text}<extra></extra>",
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
                    hovertemplate="IGA success<extra></extra>",
                )
            )
    add_treatment_events(figure, events)
    return _share_dates(figure, visits, events)


# ---- the table of visits ------------------------------------------------------------------------

TYPE_COUNTS: dict[str, str] = {**KIND_LABELS, "inflammatory_type_uncertain": "Uncertain type"}
GROUP_COUNTS: dict[str, str] = {"inflammatory": "Inflammatory", "non_inflammatory": "Non-inflammatory",
                                "total": "All lesions"}
TABLE_COUNTS: dict[str, str] = {**TYPE_COUNTS, **GROUP_COUNTS}
AREA_COLUMN = "Lesion area (%)"


def visit_table(visits: pd.DataFrame) -> pd.DataFrame:
    """The trends page's table: one row per visit, every column named in words, the area in
    percent of the facial skin, the grade in words with the model's confidence in percent, and
    the clinician's IGA and grade where recorded."""
    rows = []
    for row in visits.itertuples():
        override = none_if_missing(row.review_grade_override)
        confidence = none_if_missing(row.grade_confidence)
        iga = none_if_missing(row.iga)
        area = none_if_missing(row.lesion_area_fraction)
        rows.append({
            "Visit date": pd.Timestamp(row.visit_date).date(),
            **{label: int(getattr(row, name)) for name, label in TABLE_COUNTS.items()},
            AREA_COLUMN: None if area is None else round(100.0 * float(area), 2),
            "Model grade": GRADE_LABELS.get(int(row.grade), "") if none_if_missing(row.grade)
            is not None else None,
            "Confidence": None if confidence is None else round(100.0 * float(confidence)),
            "Clinician grade": None if override is None else GRADE_LABELS.get(int(override)),
            "IGA": None if iga is None else f"{int(iga)} {IGA_LABELS[int(iga)]}",
            "Corrected": "yes" if none_if_missing(row.corrects_id) is not None else "no",
            "Quality check": quality_cell(row.quality_passed, none_if_missing(
                getattr(row, "quality_reasons", None))),
            "Model version": version_label(row.model_version),
        })
    columns = ["Visit date", *TABLE_COUNTS.values(), AREA_COLUMN, "Model grade", "Confidence",
               "Clinician grade", "IGA", "Corrected", "Quality check", "Model version"]
    return pd.DataFrame(rows, columns=columns)
