"""The patient PDF: it opens as a PDF and says who, which model, and that it is not a diagnosis."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from skimage import data

from core.report import (
    NO_VISITS_LINE,
    NOT_A_DIAGNOSIS,
    PatientReport,
    ReportVisit,
    TrendSeries,
    build_patient_report,
    change_sentence,
    latin1,
)

GENERATED_AT = datetime(2025, 3, 1, 12, 30, tzinfo=timezone.utc)
VISITS = (
    ReportVisit(date(2025, 1, 2), total=30, inflammatory=20, non_inflammatory=10,
                area_percent=2.5, grade="moderate", iga=3),
    ReportVisit(date(2025, 2, 1), total=25, inflammatory=None, non_inflammatory=9,
                area_percent=2.1, grade="moderate", iga=3),
    ReportVisit(date(2025, 3, 1), total=12, inflammatory=8, non_inflammatory=4,
                area_percent=0.9, grade="mild", iga=1),
)


def _report(**changes) -> PatientReport:
    fields = dict(
        patient_code="P-0042",
        model_version="lesion-unet 1.3.0",
        generated_at=GENERATED_AT,
        generated_by="dr-tester",
        consent_date=date(2025, 1, 2),
        visits=VISITS,
    )
    fields.update(changes)
    return PatientReport(**fields)


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


def test_report_is_a_pdf_with_patient_model_and_notice():
    pdf = build_patient_report(_report(), compress=False)
    assert pdf.startswith(b"%PDF")
    assert _pages(pdf) >= 1
    assert b"P-0042" in pdf
    assert b"lesion-unet 1.3.0" in pdf
    assert NOT_A_DIAGNOSIS.encode("latin-1") in pdf
    assert b"2025-03-01 12:30 UTC" in pdf
    assert b"dr-tester" in pdf


def test_report_states_the_change_against_counting_noise():
    pdf = build_patient_report(_report(), compress=False)
    assert b"Inflammatory lesions: 20 at baseline, 8 at the latest visit" in pdf
    assert b"a change beyond counting noise" in pdf


def test_compressed_report_is_smaller_and_still_a_pdf():
    compressed = build_patient_report(_report())
    plain = build_patient_report(_report(), compress=False)
    assert compressed.startswith(b"%PDF")
    assert len(compressed) < len(plain)


def test_report_without_visits_says_so():
    pdf = build_patient_report(_report(visits=(), consent_date=None), compress=False)
    assert pdf.startswith(b"%PDF")
    assert _pages(pdf) == 1
    assert NO_VISITS_LINE[:40].encode() in pdf
    assert b"not recorded" in pdf  # consent date


def test_overlays_are_embedded_as_jpeg():
    face = data.astronaut()
    with_photos = build_patient_report(
        _report(baseline_overlay=face, latest_overlay=face[:300]), compress=False
    )
    assert with_photos.count(b"/DCTDecode") == 2
    assert b"/DCTDecode" not in build_patient_report(_report(), compress=False)
    assert len(with_photos) < 600_000  # two photos, not raw pixels


def test_a_photo_note_is_printed_under_the_photos():
    note = "Eyes and mouth are masked for research use."
    face = data.astronaut()
    assert note.encode() in build_patient_report(
        _report(baseline_overlay=face, photo_note=note), compress=False)
    assert b"masked for research" not in build_patient_report(_report(baseline_overlay=face),
                                                              compress=False)


def test_overlay_must_be_rgb_uint8():
    with pytest.raises(ValueError, match="Baseline"):
        build_patient_report(_report(baseline_overlay=np.zeros((8, 8), np.float32)))


def test_many_visits_spill_onto_more_pages_each_with_the_notice():
    visits = tuple(
        ReportVisit(date(2024, 1, 1) + timedelta(days=14 * i), total=40 - i // 2,
                    inflammatory=25 - i // 3, non_inflammatory=15 - i // 5)
        for i in range(60)
    )
    pdf = build_patient_report(_report(visits=visits), compress=False)
    pages = _pages(pdf)
    assert pages >= 2
    # once in the box on page 1, once in every page footer
    assert pdf.count(NOT_A_DIAGNOSIS.encode("latin-1")) == pages + 1


def test_custom_trend_series_are_drawn_and_checked_against_visits():
    smoothed = TrendSeries("Inflammatory, smoothed", (20.0, 14.0, 8.0))
    pdf = build_patient_report(_report(trend=(smoothed,)), compress=False)
    assert rb"Inflammatory, smoothed" in pdf
    with pytest.raises(ValueError, match="2 values for 3 visits"):
        build_patient_report(_report(trend=(TrendSeries("short", (1.0, 2.0)),)))


def test_visits_out_of_date_order_are_rejected():
    with pytest.raises(ValueError, match="date order"):
        build_patient_report(_report(visits=tuple(reversed(VISITS))))


def test_text_outside_latin1_is_replaced_not_fatal():
    assert latin1("\u201cZo\u00eb\u201d \u2013 \u0141ukasz") == '"Zo\u00eb" - Lukasz'
    assert latin1("\u0219tefan") == "stefan"
    assert latin1("\u65e5\u672c") == "??"
    pdf = build_patient_report(
        _report(name="\u0141ukasz \u65e5", generated_by="Dr. \u201cM\u00fcller\u201d"),
        compress=False,
    )
    assert b"Name: Lukasz ?" in pdf
    assert 'Dr. "M\u00fcller"'.encode("latin-1") in pdf


@pytest.mark.parametrize(
    ("counts", "sentence"),
    [
        ([20, None, 8], "Inflammatory lesions: 20 at baseline, 8 at the latest visit "
                        "(-12, -60%): a change beyond counting noise."),
        ([5, 4], "Inflammatory lesions: 5 at baseline, 4 at the latest visit "
                 "(-1, -20%): within counting noise (less than 2 lesions)."),
        ([0, 3], "Inflammatory lesions: 0 at baseline, 3 at the latest visit "
                 "(+3): a change beyond counting noise."),
        ([None, 3], None),
        ([7], None),
    ],
)
def test_change_sentence(counts, sentence):
    assert change_sentence("Inflammatory", counts) == sentence


def test_the_visit_table_says_which_visits_a_clinician_corrected():
    from dataclasses import replace

    visits = (VISITS[0], replace(VISITS[-1], corrected=True))
    pdf = build_patient_report(_report(visits=visits), compress=False)
    assert b"Corrected" in pdf and pdf.count(b"by clinician") == 1
    assert b"by clinician" not in build_patient_report(_report(), compress=False)
