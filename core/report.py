"""One patient's PDF report: photos with lesion overlays, the count trend and the visit table.

Built with fpdf2 and its core Helvetica font only (no font files, no chart renderer), so it
works offline. Core fonts are latin-1: any other character is replaced before drawing.
"""
from __future__ import annotations

import io
import math
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np
from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos
from PIL import Image

from core.overlay import KIND_COLOURS, legend_items
from core.trends import count_noise_threshold, is_meaningful_count_change, percent_change
from core.words import version_label

NOT_A_DIAGNOSIS = (
    "Not a diagnosis: model estimates for tracking; a clinician makes the diagnosis."
)
NO_VISITS_LINE = (
    "No visits recorded yet: the trend and the visit table appear after the first analysed photo."
)
# The two scales in the visit table, in the app's words (never "0 mild ... 3 very severe", which
# reads like IGA's numbers).
SCALES_LINE = ("Grade: the model's severity on the ACNE04 (Hayashi) scale, from lesion counts: "
               "mild, moderate, severe or very severe; \"(clinician)\" where a clinician changed "
               "it. IGA: the clinician's global look, 0 clear to 4 severe. Red % and Dark %: skin "
               "redder, or darker and browner, than the patient's own clear skin in the same "
               "photo, in % of the skin measured (not validated against a clinician's grading).")
QUALITY_NOTE = "Stored although it failed the quality check"
PHOTO_WIDTH_MM = 72  # two photos, chart and a few visits fit on the first page
MAX_IMAGE_PX = 640  # photos are scaled down to this before embedding, to keep the file small
# Okabe-Ito colours; the first two match the papule and comedone overlay colours.
SERIES_COLOURS = (
    KIND_COLOURS["papule"],
    KIND_COLOURS["comedone"],
    (0, 158, 115),
    (0, 114, 178),
    (204, 121, 167),
)
_ASCII_FOR = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u2022": "*", "\u2192": "->", "\u2264": "<=", "\u2265": ">=", "\u2212": "-",
    "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0152": "OE", "\u0153": "oe",
}


@dataclass(frozen=True)
class ReportVisit:
    """One row of the visit table; None shows as '-'."""

    visit_date: date
    total: int | None = None
    inflammatory: int | None = None  # papules + pustules + nodules/cysts
    non_inflammatory: int | None = None  # comedones
    area_percent: float | None = None
    grade: str | None = None
    iga: int | None = None
    nodule: int | None = None  # nodules/cysts, also counted as inflammatory
    corrected: bool = False  # the lesions were corrected by a clinician
    # Why the photo failed the quality check when it was stored anyway (None: it passed).
    quality_problem: str | None = None
    # Red area and dark marks in % of the measured skin (core.colour_measures; None: not measured).
    red_percent: float | None = None
    dark_percent: float | None = None


@dataclass(frozen=True)
class TrendSeries:
    """A line on the trend chart: one value (or None) per visit, in visit order."""

    label: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class PatientReport:
    """Everything the report shows. Overlays are RGB uint8 arrays, already aligned.

    When `trend` is empty the chart shows the visits' inflammatory and non-inflammatory counts.
    """

    patient_code: str
    model_version: str
    generated_at: datetime
    generated_by: str
    name: str | None = None
    consent_date: date | None = None
    baseline_overlay: np.ndarray | None = field(default=None, repr=False, compare=False)
    latest_overlay: np.ndarray | None = field(default=None, repr=False, compare=False)
    visits: tuple[ReportVisit, ...] = ()
    trend: tuple[TrendSeries, ...] = ()
    # A sentence under the photos, e.g. that they are de-identified for research use.
    photo_note: str | None = None
    # The view the report covers, in words ("front", "close-up of the chin"); None: not said.
    view: str | None = None


def _latin1_char(char: str) -> str:
    if ord(char) < 256:
        return char
    if char in _ASCII_FOR:
        return _ASCII_FOR[char]
    # Accented letters outside latin-1 keep their base letter (s-comma -> s), so names stay legible.
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256)
    return base or "?"


def latin1(text: object) -> str:
    """The text with non-latin-1 characters replaced: by ASCII look-alikes, else by '?'."""
    return "".join(_latin1_char(char) for char in str(text))


def trend_from_visits(visits: tuple[ReportVisit, ...]) -> tuple[TrendSeries, ...]:
    """The default chart: inflammatory and non-inflammatory counts per visit."""
    return (
        TrendSeries("Inflammatory", tuple(v.inflammatory for v in visits)),
        TrendSeries("Non-inflammatory", tuple(v.non_inflammatory for v in visits)),
    )


def _utc_text(moment: datetime) -> str:
    # Stored timestamps are UTC; a naive one is taken as UTC rather than local time.
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _cell_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return latin1(value)


def _nice_step(maximum: float, ticks: int = 4) -> float:
    """A 1-2-5 step that splits 0..maximum into about `ticks` intervals."""
    raw = max(maximum, 1.0) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _view_phrase(view: str) -> str:
    """'front view', 'close-up of the chin' (a close-up names its site, not a view)."""
    return view if view.startswith("close-up") else f"{view} view"


def model_words(model_version: str) -> str:
    """The models behind the numbers in words ('models of 27 Nov 2026, 22:10'), never the
    engineering version string; versions are given comma-separated."""
    versions = [v.strip() for v in model_version.split(",") if v.strip()]
    if not versions:
        return "no analysis yet"
    return "; ".join(dict.fromkeys(version_label(v) for v in versions))


class _ReportPDF(FPDF):
    # (page, text, right edge in mm) of every cell written: checked against the page width.
    extents: list[tuple[int, str, float]]

    def cell(self, w=None, h=None, text="", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        if text:
            left = self.x
            width = self.get_string_width(str(text))
            # Aligned in a cell of width w: its text ends at most at the cell's right edge.
            right = left + (max(width, float(w)) if w else width) if (w or 0) > 0 else left + width
            self.__dict__.setdefault("extents", []).append((self.page, str(text), right))
        return super().cell(w, h, text, *args, **kwargs)

    def footer(self) -> None:
        # The notice is repeated on every page, so a printed page never travels without it.
        self.set_y(-13)
        self.set_font("helvetica", "I", 7)
        self.set_text_color(90, 90, 90)
        self.cell(0, 4, NOT_A_DIAGNOSIS, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, f"Page {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 12)
    pdf.cell(0, 7, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 9)


def _ensure_space(pdf: FPDF, height: float) -> None:
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def _header(pdf: FPDF, report: PatientReport) -> None:
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 9, "Acne tracking report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 9)
    lines = [f"Patient code: {report.patient_code}"]
    if report.name:
        lines.append(f"Name: {report.name}")
    consent = report.consent_date.isoformat() if report.consent_date else "not recorded"
    lines += [
        f"Consent date: {consent}",
        *([f"View: {_view_phrase(report.view)} only (other views show other skin and are not in "
           "this report)"] if report.view else []),
        f"Analysed by the {model_words(report.model_version)}",
        f"Generated {_utc_text(report.generated_at)} by {report.generated_by}",
    ]
    for line in lines:
        pdf.cell(0, 5, latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("helvetica", "B", 10)
    pdf.set_fill_color(255, 243, 205)
    pdf.multi_cell(0, 6, NOT_A_DIAGNOSIS, border=1, fill=True, padding=2)
    pdf.set_font("helvetica", "", 9)


def _as_jpeg(image: np.ndarray, name: str) -> tuple[bytes, int, int]:
    """JPEG bytes (embedded as-is by fpdf2; a raw photo would make the PDF ten times larger)."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"{name} must be an RGB uint8 array, got {array.dtype} {array.shape}")
    picture = Image.fromarray(np.ascontiguousarray(array))
    picture.thumbnail((MAX_IMAGE_PX, MAX_IMAGE_PX), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), picture.width, picture.height


def _photos(pdf: FPDF, report: PatientReport) -> None:
    candidates = (("Baseline", report.baseline_overlay), ("Latest visit", report.latest_overlay))
    shown = [(title, image) for title, image in candidates if image is not None]
    if not shown:
        return
    _heading(pdf, "Photos with the lesions found"
             + (f" ({_view_phrase(report.view)})" if report.view else ""))
    gap = 6.0
    width = min((pdf.epw - gap) / 2, PHOTO_WIDTH_MM)
    pictures = [(title, *_as_jpeg(image, title)) for title, image in shown]
    height = max(width * h / w for _, _, w, h in pictures)
    _ensure_space(pdf, height + 16)
    top = pdf.get_y()
    start = pdf.l_margin + (pdf.epw - len(pictures) * width - (len(pictures) - 1) * gap) / 2
    for index, (title, jpeg, pixels_wide, pixels_high) in enumerate(pictures):
        x = start + index * (width + gap)
        pdf.set_xy(x, top)
        pdf.cell(width, 5, title, align="C")
        pdf.image(io.BytesIO(jpeg), x=x, y=top + 5, w=width, h=width * pixels_high / pixels_wide)
    pdf.set_xy(pdf.l_margin, top + 6 + height)
    right = pdf.l_margin + pdf.epw
    for item in legend_items():
        label = latin1(item.label)
        width = 4 + pdf.get_string_width(label) + 6
        if pdf.get_x() + width > right:  # wrap rather than run off the page
            pdf.set_xy(pdf.l_margin, pdf.get_y() + 5.5)
        pdf.set_fill_color(*item.rgb)
        pdf.rect(pdf.get_x(), pdf.get_y() + 1.2, 3, 3, style="F")
        pdf.set_x(pdf.get_x() + 4)
        pdf.cell(width - 4, 5.5, label)
    pdf.ln(7)
    if report.photo_note:
        pdf.multi_cell(0, 5, latin1(report.photo_note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _chart(pdf: FPDF, dates: list[date], series: tuple[TrendSeries, ...]) -> None:
    """Lines over visit dates (x spaced by days), y from 0 with 1-2-5 ticks, legend on top."""
    values = [v for s in series for v in s.values if v is not None]
    if not values:
        pdf.cell(0, 5, "No lesion counts to chart yet.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    _ensure_space(pdf, 72)
    step = _nice_step(max(values))
    if all(float(v).is_integer() for v in values):
        step = max(step, 1.0)  # no half-lesion ticks on a count axis
    y_max = step * math.ceil(max(max(values), 1.0) / step)
    left, top = pdf.l_margin + 12, pdf.get_y() + 8
    width, height = pdf.epw - 14, 48
    span = (dates[-1] - dates[0]).days

    def x_of(index: int) -> float:
        if span == 0:
            return left + width / 2
        return left + width * (dates[index] - dates[0]).days / span

    def y_of(value: float) -> float:
        return top + height - height * value / y_max

    pdf.set_font("helvetica", "", 7)
    pdf.set_draw_color(200, 200, 200)
    pdf.set_line_width(0.2)
    tick = 0.0
    while tick <= y_max + 1e-9:
        pdf.line(left, y_of(tick), left + width, y_of(tick))
        pdf.set_xy(left - 12, y_of(tick) - 2)
        pdf.cell(10, 4, f"{tick:g}", align="R")
        tick += step
    pdf.set_draw_color(0, 0, 0)
    pdf.line(left, top, left, top + height)
    pdf.line(left, top + height, left + width, top + height)
    label_every = max(1, math.ceil(len(dates) / 8))  # keep date labels from overlapping
    for index, visit_date in enumerate(dates):
        if index % label_every == 0 or index == len(dates) - 1:
            label_x = min(x_of(index) - 10, pdf.l_margin + pdf.epw - 20)
            pdf.set_xy(label_x, top + height + 1)
            pdf.cell(20, 4, visit_date.isoformat(), align="C")
    legend_x = left
    for number, line in enumerate(series):
        colour = SERIES_COLOURS[number % len(SERIES_COLOURS)]
        pdf.set_draw_color(*colour)
        pdf.set_fill_color(*colour)
        pdf.set_line_width(0.6)
        # Every other series is dashed, so the lines differ without colour too (print, CVD).
        if number % 2:
            pdf.set_dash_pattern(dash=1.5, gap=1.0)
        points = [(x_of(i), y_of(v)) if v is not None else None for i, v in enumerate(line.values)]
        for start, end in zip(points, points[1:]):
            if start is not None and end is not None:  # a missing count breaks the line
                pdf.line(*start, *end)
        pdf.set_dash_pattern()
        for point in points:
            if point is not None:
                pdf.circle(point[0], point[1], 0.9, style="F")
        pdf.line(legend_x, top - 4, legend_x + 6, top - 4)
        pdf.set_xy(legend_x + 7, top - 6)
        label = latin1(line.label)
        pdf.cell(pdf.get_string_width(label) + 2, 4, label)
        legend_x += pdf.get_string_width(label) + 14
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_font("helvetica", "", 9)
    pdf.set_xy(pdf.l_margin, top + height + 7)


def change_sentence(label: str, counts: list[int | None]) -> str | None:
    """'Inflammatory lesions: 20 at baseline, 8 at the latest visit (-12, -60%): ...'.

    Baseline is the first count, latest the last; None when either is missing.
    """
    if len(counts) < 2 or counts[0] is None or counts[-1] is None:
        return None
    before, after = counts[0], counts[-1]
    percent = percent_change([before, after])[1]
    percent_text = f", {percent:+.0f}%" if percent is not None else ""
    if is_meaningful_count_change(before, after):
        verdict = "a change beyond counting noise"
    else:
        verdict = (
            f"within counting noise (less than {count_noise_threshold(before):g} lesions)"
        )
    return (
        f"{label} lesions: {before} at baseline, {after} at the latest visit "
        f"({after - before:+d}{percent_text}): {verdict}."
    )


def _visit_table(pdf: FPDF, visits: tuple[ReportVisit, ...]) -> None:
    headings = ("Date", "Lesions", "Inflammatory", "Nodules/cysts", "Non-inflam.", "Area %",
                "Red %", "Dark %", "Grade", "IGA", "Corrected", "Quality")
    flagged = [visit for visit in visits if visit.quality_problem]
    pdf.set_font("helvetica", "", 8)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(120, 120, 120)
    with pdf.table(
        col_widths=(19, 12, 19, 20, 17, 11, 11, 11, 20, 9, 17, 14),
        text_align="CENTER",
        line_height=5.5,
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
    ) as table:
        heading_row = table.row()
        for heading in headings:
            heading_row.cell(heading)
        for visit in visits:
            row = table.row()
            for value in (
                visit.visit_date.isoformat(),
                visit.total,
                visit.inflammatory,
                visit.nodule,
                visit.non_inflammatory,
                visit.area_percent,
                visit.red_percent,
                visit.dark_percent,
                visit.grade,
                visit.iga,
                "by clinician" if visit.corrected else "-",
                f"failed ({flagged.index(visit) + 1})" if visit.quality_problem else "passed",
            ):
                row.cell(_cell_text(value))
    pdf.set_font("helvetica", "", 8)
    pdf.ln(1)
    pdf.multi_cell(0, 4, latin1(SCALES_LINE), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for number, visit in enumerate(flagged, start=1):
        pdf.multi_cell(0, 4, latin1(f"({number}) {visit.visit_date.isoformat()}: {QUALITY_NOTE}: "
                                    f"{visit.quality_problem}. Read its numbers with care."),
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 9)
    pdf.set_draw_color(0, 0, 0)


def build_patient_report(report: PatientReport, *, compress: bool = True) -> bytes:
    """The PDF bytes of one patient's report. `compress=False` leaves page text readable (tests)."""
    return _render(report, compress)[1]


def text_past_the_page(report: PatientReport) -> list[tuple[int, str, float]]:
    """(page, text, right edge in mm) of every line of text the report writes beyond the
    page's printable width (fpdf2's own font metrics): [] when everything fits."""
    pdf, _ = _render(report, True)
    limit = pdf.w - pdf.r_margin + 0.5  # half a millimetre for rounding
    return [(page, text, right) for page, text, right in getattr(pdf, "extents", [])
            if right > limit]


def _render(report: PatientReport, compress: bool) -> tuple[_ReportPDF, bytes]:
    visits = report.visits
    for earlier, later in zip(visits, visits[1:]):
        if later.visit_date < earlier.visit_date:
            raise ValueError(
                f"visits must be in date order; {later.visit_date} comes after {earlier.visit_date}"
            )
    series = report.trend or trend_from_visits(visits)
    for line in series:
        if len(line.values) != len(visits):
            raise ValueError(
                f"trend series {line.label!r} has {len(line.values)} values "
                f"for {len(visits)} visits"
            )
    pdf = _ReportPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_compression(compress)
    pdf.set_title(latin1(f"Acne tracking report {report.patient_code}"))
    pdf.set_creation_date(report.generated_at)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    _header(pdf, report)
    _photos(pdf, report)
    _heading(pdf, "Lesion counts over visits")
    if not visits:
        pdf.multi_cell(0, 5, NO_VISITS_LINE, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return pdf, bytes(pdf.output())
    _chart(pdf, [v.visit_date for v in visits], series)
    for label, counts in (
        ("Inflammatory", [v.inflammatory for v in visits]),
        ("Nodule and cyst", [v.nodule for v in visits]),
        ("Non-inflammatory", [v.non_inflammatory for v in visits]),
    ):
        sentence = change_sentence(label, counts)
        if sentence:
            pdf.multi_cell(0, 5, latin1(sentence), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _ensure_space(pdf, 40)  # the heading never alone at the foot of a page
    _heading(pdf, "Visits")
    _visit_table(pdf, visits)
    return pdf, bytes(pdf.output())
