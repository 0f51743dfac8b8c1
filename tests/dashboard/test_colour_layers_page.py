"""Issue 29 on the Visit page: the viewer's "Redness" and "Dark marks" layers come from the
stored colour measures, named with their share of the skin, hidden until clicked."""
from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np

from core.types import ColourMeasures, FaceResult
from tests.dashboard.fixtures_d2 import face_photo, lesion_row, make_analysis, open_as, plotly_specs


def test_the_visit_viewer_offers_redness_and_dark_marks_layers(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-002")
    photo = face_photo()
    layers = np.full((photo.height, photo.width), 4, np.uint8)
    layers[100:120, 90:130] |= 1  # a red area
    layers[150:160, 150:170] |= 2  # a dark mark
    colour = ColourMeasures(reference="self-referenced", red_area_fraction=0.031,
                            dark_area_fraction=0.012, red_mean_delta_a=7.5, dark_mean_delta_l=-8.0,
                            skin_l=65.0, skin_a=12.0, skin_b=20.0, skin_ita=37.0,
                            measured_fraction=0.8, mask=layers)
    analysis = dataclasses.replace(
        make_analysis(photo, [lesion_row("papule", 100, 100)], grade=1),
        face=FaceResult(found=True, box=(64.0, 48.0, 192.0, 208.0), n_faces=1, view="front"),
        colour=colour)
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo, analysis=analysis)

    at = open_as(dash, doctor, "visit", patient_id=patient)
    assert not at.exception
    (spec,) = plotly_specs(at)
    named = {t["meta"]: t for t in spec["data"] if t.get("showlegend") is True}
    assert named["colour:redness"]["name"] == "Redness: 3.1% of the skin"
    assert named["colour:dark_marks"]["name"] == "Dark marks: 1.2% of the skin"
    assert all(t["visible"] == "legendonly" for t in spec["data"] if str(t.get("meta", "")).startswith("colour:"))
    xs = [x for x in named["colour:dark_marks"]["x"] if x is not None]
    assert (min(xs), max(xs)) == (150, 169)


def test_compare_shows_the_change_in_redness_and_dark_marks(dash):
    from db.models import Analysis
    from tests.dashboard.fixtures_d2 import papules, seed_patient

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-003", [(date(2024, 1, 1), papules(3)),
                                                    (date(2024, 2, 1), papules(2))])
    with dash.env.session() as session:
        for analysis_id, (red, dark) in zip(seeded.analysis_ids, ((0.08, 0.03), (0.02, 0.025))):
            row = session.get(Analysis, analysis_id)
            row.red_area_fraction, row.dark_area_fraction = red, dark
            row.colour_reference = "self-referenced"
            session.add(row)
        session.commit()
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    assert "Redness and dark marks" in dash.texts(at.subheader)
    table = next(d.value for d in at.dataframe if "measure" in d.value.columns).set_index("measure")
    assert table.loc["Red area", "change (percentage points)"] == -6.0
    assert bool(table.loc["Red area", "beyond retake noise"])
    assert not bool(table.loc["Dark marks", "beyond retake noise"])
