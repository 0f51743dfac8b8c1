"""The Models page says what the product delivers: the share of photos measured (close-ups
included), the close-ups' count error and what the skin check refuses."""
import json

from usecases.model_facts import SKIN_CHECK, models_overview


def _weights(folder, *, typicality: bool):  # noqa: ANN001
    (folder / "segmenter.safetensors").write_bytes(b"stand-in")
    (folder / "grader.json").write_text("{}")
    (folder / "typicality.npz").write_bytes(b"stand-in")
    models = {
        "segmenter": {"name": "unet", "file": "segmenter.safetensors", "version": "seg-2026.12.07.0100",
                      "metrics": {"test": {"web_acne": {"n_photos": 40, "count_mae": 6.2,
                                                        "assessable_share": 0.975,
                                                        "closeup_count_mae": 6.4, "n_closeups": 33}}}},
        "grader": {"name": "grader", "file": "grader.json", "version": "grader-2026.12.07.0100"},
    }
    if typicality:
        models["typicality"] = {"name": "ppca", "file": "typicality.npz", "version": "typicality-2026.12.07",
                                "metrics": {"valid": {"nonskin_pictures": 33, "nonskin_refused": 33}}}
    (folder / "manifest.json").write_text(json.dumps({
        "format": 1, "models": models,
        "about": {"test_sets": {"web_acne": "close-ups from the web"}}}))
    return folder


def test_the_models_page_says_what_share_is_measured_and_how_close_ups_count(tmp_path):
    overview = models_overview(_weights(tmp_path, typicality=True))
    by_title = {s.title: s for s in overview.summaries}
    assert ("On 40 close-ups from the web it never saw, 98 of 100 photos could be measured (a face, "
            "or a close-up of skin without one).") in by_title["Face finder"].accuracy
    assert "measured as a close-up when the skin check finds skin" in by_title["Face finder"].measures
    skin = by_title[SKIN_CHECK]
    assert skin.accuracy == ("It refused all 33 pictures that are not skin it was checked on "
                             "(animals, rooms, pages of text, wood, objects, microscope slides).",)
    assert ("On the 33 close-ups without a face among the close-ups from the web, its lesion count is "
            "off by about 6.5 lesions on average.") in by_title["Lesion finder and counter"].accuracy


def test_without_a_skin_check_photos_without_a_face_are_not_measured(tmp_path):
    overview = models_overview(_weights(tmp_path, typicality=False))
    titles = [s.title for s in overview.summaries]
    assert SKIN_CHECK not in titles
    assert "Photos without a face found are kept but not measured." in overview.summaries[0].measures
