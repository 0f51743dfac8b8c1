"""The photo viewer on the Visit, Review and Compare pages (dashboard/photo_viewer.py): the
photo at full resolution, first cropped to the face, lesions ringed per type with a legend in
words, and the heat map and 'Whole photo' switches. The figures are checked as the browser
gets them (the chart's JSON); tests/e2e/test_viewer_browser.py zooms one in a real browser."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
from datetime import date

import numpy as np
import pytest
from PIL import Image

from core.types import FaceResult
from dashboard.charts.viewer import GROUP_LABELS
from tests.dashboard.fixtures_d2 import (
    add_review,
    face_photo,
    lesion_row,
    make_analysis,
    open_as,
    papules,
    plotly_specs,
    seed_patient,
)

FACE_BOX = (64.0, 48.0, 192.0, 208.0)
# The face box widened by core.overlay.FACE_CROP_MARGINS (0.2 of its width on each side, 0.4
# of its height above and 0.2 below), inside the 256 x 256 photo: x 38..218, y 0..240.
FACE_X_RANGE = [37.5, 217.5]
FACE_Y_RANGE = [239.5, -0.5]


def _one_of_each():  # noqa: ANN202 - a list of core Lesions
    """A lesion of every group the viewer rings."""
    return [
        lesion_row("comedone", 70, 60), lesion_row("papule", 100, 100),
        lesion_row("pustule", 130, 130), lesion_row("nodule", 160, 100),
        dataclasses.replace(lesion_row("papule", 100, 160), type_uncertain=True),
        dataclasses.replace(lesion_row("comedone", 150, 170), added_by_clinician=True),
    ]


@pytest.fixture
def visit(dash):  # noqa: ANN001, ANN201
    """A clinician's patient with one visit: a photo whose face box is smaller than the photo."""
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    patient = dash.make_patient(doctor, "ACN-001")
    photo = face_photo()
    analysis = dataclasses.replace(
        make_analysis(photo, _one_of_each(), grade=1),
        face=FaceResult(found=True, box=FACE_BOX, n_faces=1, view="front"),
    )
    dash.make_visit(doctor, patient, date(2024, 4, 2), photo=photo, analysis=analysis)
    return doctor, patient, photo


def decode(uri: str) -> Image.Image:
    header, data = uri.split(",", 1)
    assert header in ("data:image/jpeg;base64", "data:image/png;base64"), header
    return Image.open(io.BytesIO(base64.b64decode(data)))


def traces(spec: dict) -> dict[str, dict]:
    return {trace["meta"]: trace for trace in spec["data"]}


def legend(spec: dict) -> dict[str, str]:
    """Legend entries by group: the traces the legend lists."""
    return {t["meta"]: t["name"] for t in spec["data"] if t.get("showlegend") is True}


def switch(spec: dict, first_label: str) -> dict:
    (menu,) = [m for m in spec["layout"].get("updatemenus", []) if m["buttons"][0]["label"] == first_label]
    return menu


def test_visit_viewer_rings_each_type_at_full_resolution_cropped_to_the_face(dash, visit):
    doctor, patient, photo = visit
    at = open_as(dash, doctor, "visit", patient_id=patient)
    assert not at.exception
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    config = json.loads(chart.proto.config)
    assert config["scrollZoom"] is True and config["displaylogo"] is False
    assert spec["layout"]["dragmode"] == "pan"

    # The photo travels whole, at its full resolution.
    shown = decode(traces(spec)["photo"]["source"])
    assert shown.size == (photo.width, photo.height) == (256, 256)
    assert np.abs(np.asarray(shown.convert("RGB"), np.int16) - photo.image).mean() < 4

    # First cropped to the face (with forehead and jaw); 'Whole photo' shows all of it.
    assert spec["layout"]["xaxis"]["range"] == FACE_X_RANGE
    assert spec["layout"]["yaxis"]["range"] == FACE_Y_RANGE
    face, whole = switch(spec, "Face")["buttons"]
    assert whole["label"] == "Whole photo" and whole["method"] == "relayout"
    assert face["args"] == [{"xaxis.range": FACE_X_RANGE, "yaxis.range": FACE_Y_RANGE}]
    assert whole["args"] == [{"xaxis.range": [-0.5, 255.5], "yaxis.range": [255.5, -0.5]}]

    # One legend entry per group, in words with its count; each ring has a dark border in the
    # same legend group (one click hides both).
    assert legend(spec) == {group: f"{label}: 1" for group, label in GROUP_LABELS.items()}
    assert all("_" not in name for name in legend(spec).values())
    for group in GROUP_LABELS:
        ring, border = traces(spec)[group], traces(spec)[f"{group}:border"]
        assert ring["legendgroup"] == border["legendgroup"] == group
        assert border["showlegend"] is False
    colours = {traces(spec)[group]["line"]["color"] for group in GROUP_LABELS}
    assert len(colours) == len(GROUP_LABELS)
    # The papule's ring (box 100..106) goes round it, clear of the box.
    ring = traces(spec)["papule"]
    xs = np.array([x for x in ring["x"] if x is not None])
    ys = np.array([y for y in ring["y"] if y is not None])
    assert xs.min() < 99.5 and xs.max() > 105.5 and ys.min() < 99.5 and ys.max() > 105.5
    assert not ((xs > 99.5) & (xs < 105.5) & (ys > 99.5) & (ys < 105.5)).any()
    assert {t for t in ring["text"] if t} == {"papule"}


def test_the_heat_map_is_off_first_and_its_switch_shows_it_with_its_scale(dash, visit):
    doctor, patient, _ = visit
    at = open_as(dash, doctor, "visit", patient_id=patient)
    (spec,) = plotly_specs(at)
    heat, scale = traces(spec)["heat"], traces(spec)["heat_scale"]
    assert heat["visible"] is False and scale["visible"] is False
    off, on = switch(spec, "Heat map off")["buttons"]
    indices = [i for i, t in enumerate(spec["data"]) if t["meta"] in ("heat", "heat_scale")]
    assert on["label"] == "Heat map on"
    assert on["args"] == [{"visible": True}, indices] and off["args"] == [{"visible": False}, indices]
    assert scale["marker"]["colorbar"]["title"]["text"] == "lesion likelihood"
    assert scale["marker"]["colorbar"]["ticktext"] == ["low", "medium", "high"]
    # The layer is the photo's size, see-through where no lesion is likely, coloured where one is.
    layer = np.asarray(decode(heat["source"]))
    assert layer.shape == (256, 256, 4)
    assert layer[0, 0, 3] == 0 and layer[200, 30, 3] == 0
    assert layer[103, 103, 3] > 150  # the papule at 100..106 (probability 230 of 255)


def test_a_photo_without_a_face_is_shown_whole_with_no_face_switch(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-002", [(date(2024, 1, 1), papules(2))])
    with dash.env.session() as session:
        from db.models import Analysis

        row = session.get(Analysis, seeded.analysis_ids[0])
        row.face_box = None
        session.add(row)
        session.commit()
    at = open_as(dash, doctor, "visit", patient_id=seeded.patient_id)
    (spec,) = plotly_specs(at)
    assert spec["layout"]["xaxis"]["range"] == [-0.5, 255.5]
    assert [m["buttons"][0]["label"] for m in spec["layout"]["updatemenus"]] == ["Heat map off"]
    assert legend(spec) == {"papule": f"{GROUP_LABELS['papule']}: 2"}


def test_review_shows_the_photo_in_the_viewer(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-003", [(date(2024, 1, 1), papules(3))])
    at = open_as(dash, doctor, "review")
    assert not at.exception
    (spec,) = plotly_specs(at)
    assert decode(traces(spec)["photo"]["source"]).size == (256, 256)
    assert legend(spec) == {"papule": f"{GROUP_LABELS['papule']}: 3"}
    assert "ACN-003, front view" in dash.texts(at.caption)
    add_review(dash, doctor, seeded.analysis_ids[0], iga=2)  # the queue empties: no viewer then
    at = open_as(dash, doctor, "review")
    assert not at.get("plotly_chart")


def test_compare_shows_both_aligned_photos_zoomed_together(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-004", [
        (date(2024, 1, 1), papules(3)),
        (date(2024, 2, 1), [*papules(2), lesion_row("comedone", 40, 200)]),
    ], grades=[1, 0])
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    viewer = plotly_specs(at)[0]
    photos = [t for t in viewer["data"] if t["meta"] == "photo"]
    # Both in the face frame: 512 px, as the test photos (alignment x2) have no more pixels.
    assert [decode(t["source"]).size for t in photos] == [(512, 512), (512, 512)]
    assert [t["xaxis"] for t in photos] == ["x", "x2"]
    assert viewer["layout"]["xaxis2"]["matches"] == "x" and viewer["layout"]["yaxis2"]["matches"] == "y"
    assert legend(viewer) == {
        "comedone": f"{GROUP_LABELS['comedone']}: 0 before, 1 after",
        "papule": f"{GROUP_LABELS['papule']}: 3 before, 2 after",
    }
    titles = [a["text"] for a in viewer["layout"]["annotations"]]
    assert titles == ["Earlier, 01 Jan 2024: grade moderate (80% confidence)",
                      "Later, 01 Feb 2024: grade mild (80% confidence)"]
    # The comedone at (40, 200) photo px lies at twice that in the face frame: its ring there.
    ring = traces(viewer)["comedone"]
    xs = [x for x in ring["x"] if x is not None]
    assert ring["xaxis"] == "x2" and 80 < np.mean(xs) < 92
    # No face switch: both are already in the face frame; one heat switch for both.
    assert [m["buttons"][0]["label"] for m in viewer["layout"]["updatemenus"]] == ["Heat map off"]
    assert len([t for t in viewer["data"] if t["meta"] == "heat"]) == 2


def test_a_researchers_copy_is_never_served_from_a_clinicians_cache(dash, visit):
    """The encoded pictures are cached per photo; a researcher's de-identified copy must have an
    entry of its own (both open the same photo in one process, as on a server)."""
    from sqlmodel import select

    from db.models import Enrolment
    from db.repository import add_study_member, create_study, enrol_patient, list_arms

    doctor, patient, photo = visit
    clinician_view = traces(plotly_specs(open_as(dash, doctor, "visit", patient_id=patient))[0])
    researcher = dash.make_account("res", role="researcher")
    doc = dash.get_account(doctor)
    with dash.env.session() as session:
        study = create_study(session=session, actor=doc, name="Trial A", arms=["active", "vehicle"])
        arm = list_arms(session=session, actor=doc, study_id=study.id)[0]
        enrol_patient(session=session, actor=doc, study_id=study.id, arm_id=arm.id, patient_id=patient)
        add_study_member(session=session, actor=doc, study_id=study.id, account_id=researcher)
        assert session.exec(select(Enrolment)).first() is not None
    at = open_as(dash, researcher, "visit", patient_id=patient)
    assert not at.exception
    researcher_view = traces(plotly_specs(at)[0])
    assert researcher_view["photo"]["source"] != clinician_view["photo"]["source"]
    masked = np.asarray(decode(researcher_view["photo"]["source"]).convert("RGB"), np.int16)
    assert np.abs(masked - photo.image).mean() > 4  # not the photo as taken
