"""Models page: a clinician reads first, in words, what each model measures, how accurate it is on
photos it never saw (numbers read from the weights folder, never written in the page), its
limits, its licence and the model versions behind the clinic's analyses; the engineering
details are folded below. Says plainly when nothing is installed."""
from __future__ import annotations

import json
import re
from datetime import date

import pytest

from dashboard import state

# A code name (`count_mae`, `mobilenet_v2`) and a number with more than three decimals.
SNAKE_CASE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
LONG_FLOAT = re.compile(r"\d\.\d{4,}")

INSTALLED = "seg-2026.10.01.0930-mobilenet_v2+grader-2026.10.01.0930-mobilenet_v2"
OLDER = "seg-2026.03.14.1200-mobilenet_v2+grader-2026.03.14.1200-mobilenet_v2"


def write_weights(folder, *, test: bool = True) -> dict:  # noqa: ANN001
    """A weights folder as a release ships it, with numbers no real model has (so the page can
    only show them by reading this file). The model files are stand-ins: nothing loads them."""
    (folder / "segmenter.safetensors").write_bytes(b"stand-in")
    (folder / "grader.json").write_text("{}")
    (folder / "segmenter.json").write_text(json.dumps(
        {"encoder": "mobilenet_v2", "lesion_threshold": 0.45, "peak_threshold": 0.2345678,
         "flip_tta": False}))
    segmenter_test = {"acne04": {"n_photos": 77, "precision": 0.524, "recall": 0.613, "f1": 0.561,
                                 "count_mae": 4.26, "count_pearson": 0.9123456,
                                 "inflammatory_count_mae": 5.1, "assessable_share": 0.881},
                      "web_acne": {"n_photos": 31, "precision": 0.31, "recall": 0.952,
                                   "count_mae": 11.9}}
    manifest = {
        "format": 1,
        "models": {
            "segmenter": {"name": "unet-mobilenet_v2", "file": "segmenter.safetensors",
                          "config": "segmenter.json", "version": INSTALLED.split("+")[0],
                          "sha256": "a" * 64,
                          "metrics": {"valid": {"f1": 0.7148123, "count_mae": 3.4382,
                                                "flip_tta": False},
                                      **({"test": segmenter_test} if test else {})}},
            "grader": {"name": "ordinal-count-grader", "file": "grader.json",
                       "version": INSTALLED.split("+")[1], "sha256": "b" * 64,
                       "metrics": {"valid": {"l2": 0.001, "grade_accuracy": 0.7950530035335689,
                                             "grade_confusion": [[86, 20, 0, 0], [9, 104, 5, 0],
                                                                 [0, 11, 21, 5], [0, 1, 7, 14]]},
                                   **({"test": {"acne04": {"n_photos": 77, "grade_accuracy": 0.642,
                                                           "grade_within_one": 0.971}}}
                                      if test else {})}},
        },
        "about": {
            "measured_on": "2026-10-02",
            "test_sets": {"acne04": "clinic photos of whole faces",
                          "web_acne": "close-ups from the web"},
            "licence": ["Research use only: trained on photos licensed for academic use."],
            "limits": ["Close-ups are counted worse than whole faces.",
                       "Dim light was barely measured."],
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "MODEL_CARD.md").write_text("# Test model card\n\nWords for engineers.\n")
    return manifest


class StubAnalyzer:
    """The loaded models as the page sees them: only their version is read."""

    model_version = INSTALLED


@pytest.fixture
def accounts(dash):  # noqa: ANN001, ANN201
    """(administrator, clinician): the first account must be an administrator."""
    return dash.make_account("root", role="admin"), dash.make_account("doc", role="clinician")


@pytest.fixture
def installed(dash, monkeypatch, accounts):  # noqa: ANN001, ANN201
    write_weights(dash.env.weights_dir)
    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (StubAnalyzer(), None))
    return accounts


def texts_outside_expanders(node) -> list[str]:  # noqa: ANN001 - an AppTest node
    """Every text a person reads on the page without opening a folded section."""
    from streamlit.testing.v1.element_tree import Expander

    if isinstance(node, Expander):
        return []
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        return [text for child in children.values() for text in texts_outside_expanders(child)]
    kind = getattr(node, "type", "")
    found: list[str] = []
    if kind in ("dataframe", "table"):
        frame = node.value
        found += [str(column) for column in frame.columns]
        found += [str(cell) for cell in frame.to_numpy().ravel()]
        return found
    for attribute in ("value", "label"):
        try:
            value = getattr(node, attribute)
        except (AttributeError, TypeError, ValueError):
            continue
        if isinstance(value, str):
            found.append(value)
    return found


def test_no_model_installed_is_said_plainly(dash):
    admin = dash.make_account("root", role="admin")
    at = dash.open_page(admin, "models")
    assert not at.exception
    assert any(w.startswith("No model is installed") for w in dash.texts(at.warning))
    assert not at.code  # no version or checksum is made up
    assert not at.expander
    assert "No photo in your patients' records has been analysed yet." in dash.texts(at.markdown)


def test_clinician_reads_accuracy_limits_and_licence_from_the_weights_folder(dash, installed):
    _, doctor = installed
    at = dash.open_page(doctor, "models")
    assert not at.exception
    assert "In use: models of 01 Oct 2026, 09:30." in dash.texts(at.success)
    shown = "\n".join(texts_outside_expanders(at.main))
    # What each model measures.
    for title in ("Face finder", "Lesion finder and counter", "Severity grader"):
        assert title in dash.texts(at.subheader)
    assert "ACNE04 (Hayashi) scale: 0 mild, 1 moderate, 2 severe, 3 very severe" in shown
    # Accuracy on unseen photos: the file's numbers, in words.
    assert ("On 77 clinic photos of whole faces it never saw, it finds about 6 in 10 of the "
            "lesions marked by hand, about 5 in 10 of the spots it marks are marked lesions and its "
            "lesion count is off by about 4.5 lesions on average (inflammatory lesions: about 5 "
            "lesions).") in shown
    assert "On 31 close-ups from the web it never saw, it finds nearly all of the lesions" in shown
    assert ("its grade is the dermatologists' grade 64 of 100 times and within one grade "
            "97 of 100 times.") in shown
    assert ("88 of 100 photos could be measured (a face, or a close-up of skin without one)."
            in shown)
    assert ("Accuracy measured on 02 Oct 2026 on photos that no training or tuning step saw, the "
            "way the app measures them: a photo the app would not measure counts as finding no "
            "lesion.") in shown
    # Limits and licence, as written beside the weights.
    assert "- Close-ups are counted worse than whole faces.\n- Dim light was barely measured." in shown
    assert "Research use only: trained on photos licensed for academic use." in dash.texts(at.warning)
    # No code name, no long float, no command, no checksum before the folded section.
    assert not SNAKE_CASE.findall(shown), SNAKE_CASE.findall(shown)
    assert not LONG_FLOAT.findall(shown), LONG_FLOAT.findall(shown)
    assert "python -m" not in shown and "a" * 64 not in shown
    assert state.NOT_A_DIAGNOSIS in " ".join(dash.texts(at.caption))


def test_engineering_details_are_folded_and_readable(dash, installed, monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    offered: list[tuple[bytes, str | None]] = []
    keep = MemoryMediaFileStorage.load_and_get_id

    def recording(self, data, mimetype, kind, filename=None):  # noqa: ANN001, ANN202
        offered.append((data, filename))
        return keep(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    admin, _ = installed
    at = dash.open_page(admin, "models")
    assert not at.exception
    labels = [expander.label for expander in at.expander]
    assert labels == ["For engineers: settings, validation numbers, files and checksums"]
    folded = at.expander[0]
    codes = " ".join(dash.texts(folded.code))
    assert "a" * 64 in codes and "b" * 64 in codes  # each file's checksum
    # Each file's version in words; the exact identifier only in its code block.
    headings = dash.texts(folded.markdown)
    assert ("**Lesion finder and counter (unet-mobilenet_v2)**, models of 01 Oct 2026, 09:30, "
            "file segmenter.safetensors") in headings
    assert f"segmenter.safetensors  version {INSTALLED.split('+')[0]}" in codes
    assert not [text for text in headings if "2026.10.01" in text]
    assert "python -m core.training.evaluate" in codes
    captions = dash.texts(folded.caption)
    assert "Measured on the test photos: clinic photos of whole faces" in captions
    assert "Measured on the validation photos (used to choose the settings)" in captions
    tables = [table.value for table in folded.table]
    settings = next(t for t in tables if list(t.columns) == ["Setting", "Value"])
    assert dict(zip(settings["Setting"], settings["Value"])) == {
        "encoder": "mobilenet v2", "lesion threshold": "0.45", "lesion centre threshold": "0.235",
        "mirror averaging": "no"}
    values = [str(cell) for t in tables for cell in t.to_numpy().ravel()]
    assert "0.795" in values and "0.912" in values  # three decimals at most, in here too
    assert not [v for v in values if LONG_FLOAT.search(v)]
    confusion = next(t for t in tables if list(t.columns) == ["mild", "moderate", "severe", "very severe"])
    assert list(confusion.index) == ["mild", "moderate", "severe", "very severe"]
    assert confusion.loc["moderate", "moderate"] == 104
    # The model card (markdown for engineers) is offered as the document itself, not rendered.
    [card] = at.get("download_button")
    assert card.label == "Download the full model card (for engineers)"
    assert (b"# Test model card\n\nWords for engineers.\n", "MODEL_CARD.md") in offered
    assert "Words for engineers." not in dash.page_text(at)


def test_weights_without_test_numbers_say_so(dash, monkeypatch, accounts):
    write_weights(dash.env.weights_dir, test=False)
    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (StubAnalyzer(), None))
    _, doctor = accounts
    at = dash.open_page(doctor, "models")
    assert not at.exception
    shown = "\n".join(texts_outside_expanders(at.main))
    assert "it never saw, " not in shown  # no accuracy sentence
    assert shown.count("Not measured on photos it never saw") == 3


def test_versions_in_use_are_listed_with_their_counts(dash, installed):
    from core.imaging import decode_photo
    from db.photos import PhotoStore
    from db.repository import add_analysis, list_photos

    _, doctor = installed
    patient = dash.make_patient(doctor, "ACN-001")
    photos = [decode_photo(dash.flat_photo_bytes((100 + 20 * i, 90, 80)), filename=f"{i}.png")
              for i in range(3)]
    visits = [dash.make_visit(doctor, patient, date(2026, 3, 20 + i), photo=photo,
                              analysis=dash.sample_analysis(photo, model_version=OLDER))
              for i, photo in enumerate(photos)]
    # One photo re-analysed with the installed models: it shows their analysis now.
    account = dash.get_account(doctor)
    with dash.env.session() as session:
        [stored] = list_photos(session=session, actor=account, visit_id=visits[0])
        add_analysis(session=session, actor=account, photo_store=PhotoStore(dash.env.data_dir / "photos"),
                     photo_id=stored.id, analysis=dash.sample_analysis(photos[0], model_version=INSTALLED))
    # Another clinician's patient is not counted for this clinician.
    other = dash.make_account("other", role="clinician")
    elsewhere = decode_photo(dash.flat_photo_bytes((10, 200, 10)), filename="x.png")
    dash.make_visit(other, dash.make_patient(other, "ACN-900"), date(2026, 4, 1), photo=elsewhere,
                    analysis=dash.sample_analysis(elsewhere, model_version=OLDER))

    at = dash.open_page(doctor, "models")
    assert not at.exception
    assert "3 photos in your patients' records carry an analysis, made by 2 model versions." \
        in dash.texts(at.markdown)
    [table] = [t.value for t in at.dataframe]
    assert table.to_dict("records") == [
        {"Models": "models of 01 Oct 2026, 09:30", "Photos showing its analysis now": 1,
         "Analyses it made": 1, "Installed now": "yes"},
        {"Models": "models of 14 Mar 2026, 12:00", "Photos showing its analysis now": 2,
         "Analyses it made": 3, "Installed now": "no"},
    ]
    # The exact versions, folded, as code beside their words; never as text to read.
    codes = dash.texts(at.expander[0].code)
    assert (f"models of 01 Oct 2026, 09:30: {INSTALLED}\n"
            f"models of 14 Mar 2026, 12:00: {OLDER}") in codes
    assert INSTALLED not in " ".join(dash.texts(at.markdown))


def test_reload_button_forgets_the_loaded_models(dash, installed, monkeypatch):
    reloads: list[bool] = []
    monkeypatch.setattr(state, "reload_analyzer", lambda: reloads.append(True))
    admin, doctor = installed
    at = dash.open_page(admin, "models")
    at.button(key="reload_models").click().run()
    assert not at.exception
    assert reloads == [True]
    clinician_view = dash.open_page(doctor, "models")
    assert not [b for b in clinician_view.button if b.key == "reload_models"]  # administrators only


def test_version_labels_and_numbers_in_words():
    from usecases.model_engineering import decimal
    from usecases.model_facts import about_lesions, in_ten, of_hundred, version_label

    assert version_label(INSTALLED) == "models of 01 Oct 2026, 09:30"
    assert version_label("seg-2026.10.01.0930-x+grader-2026.11.02.1000-x") == \
        "models of 01 Oct 2026, 09:30 and 02 Nov 2026, 10:00"
    assert version_label("test-model 0.0") == "version test-model 0.0"
    assert version_label("seg-2026.13.40-x") == "version seg-2026.13.40-x"
    assert (in_ten(0.713), in_ten(0.952), in_ten(1.0), in_ten(0.03), in_ten(0.0)) == (
        "about 7 in 10", "nearly all", "all", "almost none", "none")
    assert (of_hundred(0.993), about_lesions(3.47), about_lesions(0.9)) == (
        "99 of 100", "about 3.5 lesions", "about 1 lesion")
    assert (decimal(0.7950530035335689), decimal(0.5), decimal(True), decimal("soft_counts"),
            decimal(float("nan")), decimal([128, 64])) == (
        "0.795", "0.5", "yes", "soft counts", "not measured", "128, 64")


def test_shipped_weights_folder_gives_the_model_card_numbers():
    """The repository's own weights: the headline test numbers of MODEL_CARD.md, in words."""
    from core.manifest import DEFAULT_WEIGHTS_DIR
    from usecases.model_facts import models_overview

    if not (DEFAULT_WEIGHTS_DIR / "manifest.json").is_file():
        pytest.skip("no shipped weights")
    overview = models_overview(DEFAULT_WEIGHTS_DIR)
    sentences = " ".join(s for summary in overview.summaries for s in summary.accuracy)
    assert "about 7 in 10 of the lesions marked by hand" in sentences
    assert "off by about 3.5 lesions on average" in sentences
    assert "78 of 100 times and within one grade 99 of 100 times" in sentences
    assert any("academic research use only" in s.lower() for s in overview.licence)
