"""Compare page: two visits registered side by side, count changes, new / resolved / persisting
lesions in distinct colours, and no way into another clinician's patient."""
from __future__ import annotations

from datetime import date

from tests.dashboard.fixtures_d2 import lesion_row, open_as, papules, plotly_specs, seed_patient

NO_ACCESS = "No such patient or no access."


def _two_visits(dash, owner: int, code: str = "ACN-001", alignments=None):  # noqa: ANN001, ANN202
    # Before: 3 papules; after: the first two again, the third gone, one new far away.
    before = [lesion_row("papule", 40, 40), lesion_row("papule", 120, 40),
              lesion_row("papule", 200, 200)]
    after = [lesion_row("papule", 40, 40), lesion_row("papule", 120, 40),
             lesion_row("comedone", 40, 200)]
    return seed_patient(dash, owner, code, [(date(2024, 1, 1), before), (date(2024, 2, 1), after)],
                        alignments=alignments)


def test_two_visits_compared_lesion_by_lesion(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _two_visits(dash, doctor)
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    assert "Compare visits of ACN-001" in dash.texts(at.title)
    assert "Earlier: 01 Jan 2024; later: 01 Feb 2024, registered on the face" in dash.texts(at.caption)

    counts = at.dataframe[0].value.set_index("lesions")
    assert (counts.loc["Papules", "before"], counts.loc["Papules", "after"]) == (3, 2)
    assert counts.loc["Comedones", "change"] == 1
    assert counts.loc["All lesions", "change"] == 0

    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"New": "1", "Resolved": "1", "Persisting": "2"}
    # The photo viewer (test_photo_viewer.py) and the lesion-by-lesion figure, with its boxes.
    viewer, figure = plotly_specs(at)
    assert "shapes" not in viewer["layout"]
    names = [shape["name"] for shape in figure["layout"]["shapes"]]
    assert sorted(names) == ["new:after", "persisting:after", "persisting:after",
                             "persisting:before", "persisting:before", "resolved:before"]
    colours = {s["name"].split(":")[0]: s["line"]["color"] for s in figure["layout"]["shapes"]}
    assert len(set(colours.values())) == 3
    # The new comedone at (40, 200) photo px lands at twice that in the canonical frame.
    new_box = next(s for s in figure["layout"]["shapes"] if s["name"] == "new:after")
    assert (new_box["x0"], new_box["y0"]) == (80.0, 400.0)

    at.slider(key="compare_blend").set_value(1.0).run()
    assert "100% of the way from 01 Jan 2024 to 01 Feb 2024" in [
        caption for image in at.image for caption in image.captions]
    at.radio(key="compare_overlay").set_value("boxes").run()
    assert not at.exception
    assert "Not a diagnosis" in dash.page_text(at)


def test_unaligned_photos_are_not_matched(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _two_visits(dash, doctor, alignments=[None, (2.0, 0.0, 0.0, 0.0, 2.0, 0.0)])
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    assert any("not registered" in text for text in dash.texts(at.warning))
    assert "Matching lesions across visits needs the face found on both photos." in dash.texts(at.info)
    assert len(at.get("plotly_chart")) == 1  # the photo viewer only: no lesion-by-lesion figure
    assert not [s for s in at.slider if s.key == "compare_blend"]


def test_one_visit_is_not_enough(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-002", [(date(2024, 1, 1), papules(2))])
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    assert any("a comparison needs two" in text for text in dash.texts(at.info))


def test_clinician_cannot_compare_another_clinicians_patient(dash):
    dash.make_account("root", role="admin")
    mine = dash.make_account("doc", role="clinician", team="north")
    other = dash.make_account("other", role="clinician", team="south")
    theirs = _two_visits(dash, other, code="ACN-777")
    for way in ({"patient_id": theirs.patient_id}, {"query_patient": theirs.patient_id}):
        at = open_as(dash, mine, "compare", **way)
        assert not at.exception
        assert NO_ACCESS in dash.texts(at.error)
        assert not at.image and not at.dataframe
        assert "ACN-777" not in dash.page_text(at)


# ---- issue 26 Words: the photos' positions are not called "left" and "right" (views are) ---
def test_photo_positions_are_earlier_and_later_not_left_and_right(dash):
    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = _two_visits(dash, doctor)
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    text = dash.page_text(at)
    assert "(left)" not in text and "(right)" not in text
    assert any(c.startswith("Earlier: 01 Jan 2024; later: 01 Feb 2024") for c in dash.texts(at.caption))


# ---- issue 26 item 2: a photo stored although it failed the quality check is flagged -------
def test_a_photo_stored_anyway_is_flagged_on_compare(dash):
    from tests.dashboard.fixtures_timeline import CUT_OFF, Shot, seed_shots

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_shots(dash, doctor, "ACN-FLAG", [
        (date(2024, 1, 1), [Shot(papules(3))]),
        (date(2024, 2, 1), [Shot(papules(30), quality_reasons=(CUT_OFF,))]),
    ])
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    warnings = [w for w in dash.texts(at.warning) if "failed the quality check" in w]
    assert len(warnings) == 1
    assert warnings[0].startswith("The photo of 01 Feb 2024: Stored although it failed the "
                                  "quality check: the face is cut off (39% of it is outside")


# ---- issue 26 item 2: Compare and Visit say the same about the face ---------------------------
def test_compare_and_visit_read_the_face_from_one_source(dash):
    from tests.dashboard.fixtures_timeline import Shot, seed_shots

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    # The later photo's face was found, but too roughly to register it (no alignment).
    seeded = seed_shots(dash, doctor, "ACN-FACE", [
        (date(2024, 1, 1), [Shot(papules(3))]),
        (date(2024, 2, 1), [Shot(papules(2), alignment=None)]),
    ])
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    warning = next(w for w in dash.texts(at.warning) if "registered" in w)
    assert "not found" not in warning
    assert "The face was found only roughly on the photo of 01 Feb 2024" in warning
    assert "Face found: roughly (not registered)" in warning

    visit = open_as(dash, doctor, "visit", patient_id=seeded.patient_id,
                    state={"visit_id": seeded.visit_ids[1]})
    assert not visit.exception
    assert {m.label: m.value for m in visit.metric}["Face found"] == "roughly (not registered)"


# ---- issue 25 item 5: whether a change is larger than a retaken photo makes, in words --------
def test_compare_says_whether_a_change_is_beyond_a_retake(dash):
    from tests.dashboard.fixtures_timeline import retake_table

    dash.make_account("root", role="admin")
    doctor = dash.make_account("doc", role="clinician")
    seeded = seed_patient(dash, doctor, "ACN-RT", [(date(2024, 1, 1), papules(20)),
                                                   (date(2024, 2, 1), papules(8))])
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert "retaken photo" not in dash.page_text(at)  # no table: nothing invented
    retake_table(dash.env.weights_dir, sd=2.0)  # change threshold 1.96 * sqrt(8) = 5.5
    at = open_as(dash, doctor, "compare", patient_id=seeded.patient_id)
    assert not at.exception
    text = dash.page_text(at)
    assert "12 fewer inflammatory lesions: more than a retaken photo changes (±6)" in text
    assert "No change in non-inflammatory lesions: within what a retaken photo changes (±6)" in text
