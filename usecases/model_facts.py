"""The installed models in a clinician's words (the Models page); the engineers' facts come from
`usecases.model_engineering`, and `models_overview` gathers both for the page.

Everything measured comes from the weights folder: each model's `metrics["test"]` in
`weights/manifest.json` (the numbers `python -m core.training.evaluate --split test --json`
printed for these weights, on photos no training or tuning step saw) and the manifest's "about"
block (what each test set is, the licence, the known limits). Nothing here hard-codes a number
about the models; the words around the numbers are written once, here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.errors import ModelNotInstalledError, WeightsError
from core.manifest import ModelEntry, WeightsAbout, read_about, read_manifest
from core.types import GRADE_LABELS, UNCERTAIN_TYPE_LABEL
from core.words import plural, version_label
from db.models import Account
from db.repository import model_version_use
from usecases.clinic import Clinic
from usecases.model_engineering import (
    FACE_FINDER,
    GRADER,
    LESION_FINDER,
    Detail,
    TechnicalEntry,
    lesion_settings,
    technical_entry,
)

CARD_NAME = "MODEL_CARD.md"
SKIN_CHECK = "Skin check"
# The test sets' own names when the manifest does not describe them.
DEFAULT_SET_WORDS = "test photos"


@dataclass(frozen=True)
class ModelSummary:
    """One model as a clinician meets it: what it measures and how well, in sentences."""

    title: str
    measures: str
    accuracy: tuple[str, ...]  # one sentence per test set; empty: never measured on unseen photos


@dataclass(frozen=True)
class ModelsOverview:
    """What the Models page shows, clinician's part first."""

    installed: bool
    problem: str | None  # why nothing can be listed (a sentence), when nothing is installed
    summaries: tuple[ModelSummary, ...]
    measured_on: date | None
    limits: tuple[str, ...]
    licence: tuple[str, ...]
    settings: tuple[Detail, ...]  # the lesion finder's configuration, in words
    entries: tuple[TechnicalEntry, ...]
    model_card: Path | None


@dataclass(frozen=True)
class VersionInUse:
    """One model version behind this clinic's analyses."""

    label: str  # in words: "models of 27 Nov 2026, 22:10"
    version: str  # the exact identifier (engineering section)
    current_photos: int
    model_analyses: int
    installed: bool  # the version the app analyses new photos with now


# ------------------------------------------------------------------ numbers in words
def in_ten(share: float) -> str:
    """0.713 -> 'about 7 in 10'; 'nearly all' / 'almost none' at the ends."""
    tenths = round(share * 10)
    if share >= 1.0 or share <= 0.0:
        return "all" if share >= 1.0 else "none"
    if tenths in (0, 10):
        return "almost none" if tenths == 0 else "nearly all"
    return f"about {tenths} in 10"


def of_hundred(share: float) -> str:
    """0.782 -> '78 of 100'."""
    return f"{round(share * 100)} of 100"


def about_lesions(mean_error: float) -> str:
    """3.47 -> 'about 3.5 lesions' (to the nearest half lesion)."""
    half = round(mean_error * 2) / 2
    number = f"{half:.0f}" if half == int(half) else f"{half:.1f}"
    return f"about {number} {'lesion' if half == 1 else 'lesions'}"


# ------------------------------------------------------------------ the clinician's part
def _test(entry: ModelEntry | None) -> dict[str, dict]:
    block = entry.metrics.get("test") if entry is not None else None
    return {k: v for k, v in block.items() if isinstance(v, dict)} if isinstance(block, dict) else {}


def _photos(metrics: dict, set_words: str) -> str:
    count = metrics.get("n_photos")
    return f"{count} {set_words}" if isinstance(count, int) else set_words


def _number(metrics: dict, name: str) -> float | None:
    value = metrics.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def lesion_sentence(metrics: dict, set_words: str) -> str | None:
    """How the lesion finder did on one test set, or None when it records none of it."""
    recall, precision = _number(metrics, "recall"), _number(metrics, "precision")
    mae, inflammatory = _number(metrics, "count_mae"), _number(metrics, "inflammatory_count_mae")
    parts = []
    if recall is not None:
        parts.append(f"it finds {in_ten(recall)} of the lesions marked by hand")
    if precision is not None:
        parts.append(f"{in_ten(precision)} of the spots it marks are marked lesions")
    if mae is not None:
        count = f"its lesion count is off by {about_lesions(mae)} on average"
        if inflammatory is not None:
            count += f" (inflammatory lesions: {about_lesions(inflammatory)})"
        parts.append(count)
    if not parts:
        return None
    body = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"On {_photos(metrics, set_words)} it never saw, {body}."


def grade_sentence(metrics: dict, set_words: str) -> str | None:
    accuracy, within = _number(metrics, "grade_accuracy"), _number(metrics, "grade_within_one")
    if accuracy is None:
        return None
    text = f"On {_photos(metrics, set_words)} it never saw, its grade is the dermatologists' grade " \
           f"{of_hundred(accuracy)} times"
    if within is not None:
        text += f" and within one grade {of_hundred(within)} times"
    return text + "."


def face_sentence(metrics: dict, set_words: str) -> str | None:
    """The share of the test photos the app measured (a face, or a close-up of skin)."""
    share = _number(metrics, "assessable_share")
    if share is None:
        return None
    return (f"On {_photos(metrics, set_words)} it never saw, {of_hundred(share)} photos could be "
            "measured (a face, or a close-up of skin without one).")


def closeup_sentence(metrics: dict, set_words: str) -> str | None:
    """How far off the count is on the close-ups without a face among the test photos."""
    mae, count = _number(metrics, "closeup_count_mae"), metrics.get("n_closeups")
    if mae is None or not isinstance(count, int) or count < 1:
        return None
    return (f"On the {plural(count, 'close-up')} without a face among the {set_words}, its lesion "
            f"count is off by {about_lesions(mae)} on average.")


def skin_check_sentence(metrics: dict) -> str | None:
    """What the skin check refused of the pictures that are not skin it was checked on."""
    shown, refused = metrics.get("nonskin_pictures"), metrics.get("nonskin_refused")
    if not isinstance(shown, int) or not isinstance(refused, int) or shown < 1:
        return None
    share = "all" if refused == shown else f"{refused} of the"
    return (f"It refused {share} {plural(shown, 'picture')} that are not skin it was checked on "
            "(animals, rooms, pages of text, wood, objects, microscope slides).")


def summaries(entries: dict[str, ModelEntry], about: WeightsAbout) -> tuple[ModelSummary, ...]:
    """The three models in words, each with its accuracy on unseen photos from the manifest."""
    set_words = dict(about.test_sets)

    def sentences(entry: ModelEntry | None, say) -> tuple[str, ...]:  # noqa: ANN001 - a sentence maker
        found = (say(metrics, set_words.get(name, DEFAULT_SET_WORDS))
                 for name, metrics in _test(entry).items())
        return tuple(sentence for sentence in found if sentence)

    segmenter, grader = entries.get("segmenter"), entries.get("grader")
    typicality = entries.get("typicality")
    scale = ", ".join(f"{value} {label}" for value, label in sorted(GRADE_LABELS.items()))
    without_face = (
        "A photo without a face is measured as a close-up when the skin check finds skin; "
        "pictures that are not skin are kept but not measured." if typicality is not None else
        "Photos without a face found are kept but not measured.")
    found = (
        ModelSummary(
            FACE_FINDER,
            "Finds the face, its eyes, nose and mouth corners, and whether the photo shows the "
            f"front or a side of the face. {without_face}",
            sentences(segmenter, face_sentence)),
    )
    if typicality is not None:
        checked = skin_check_sentence(typicality.metrics.get("valid") or {})
        found += (ModelSummary(
            SKIN_CHECK,
            "Checks that a photo shows skin like the photos the models learnt from. A picture "
            "that is not skin is kept but not measured; a photo unlike the training photos (for "
            "example light, camera or skin tone) is measured with a warning to check the numbers.",
            (checked,) if checked else ()),)
    return found + (
        ModelSummary(
            LESION_FINDER,
            "Outlines each lesion on the photo and counts them by type: comedones (blackheads "
            f"and whiteheads) and inflammatory lesions, shown as \"{UNCERTAIN_TYPE_LABEL}\" when "
            "the model cannot tell papules, pustules and nodules/cysts apart. It also gives the "
            "share of the facial skin the lesions cover (of the whole photo for a close-up).",
            sentences(segmenter, lesion_sentence) + sentences(segmenter, closeup_sentence)),
        ModelSummary(
            GRADER,
            f"Grades acne severity on the ACNE04 (Hayashi) scale: {scale}, from the lesions found "
            "(more lesions never lower the grade); a close-up's grade is marked as graded from a "
            "close-up.",
            sentences(grader, grade_sentence)),
    )


def models_overview(weights_dir: Path | str) -> ModelsOverview:
    """Everything the Models page says about the weights in `weights_dir`."""
    weights_dir = Path(weights_dir)
    card = weights_dir / CARD_NAME
    try:
        entries = read_manifest(weights_dir)
        about = read_about(weights_dir)
    except (ModelNotInstalledError, WeightsError) as error:
        return ModelsOverview(installed=False, problem=str(error), summaries=(), measured_on=None,
                              limits=(), licence=(), settings=(), entries=(),
                              model_card=card if card.is_file() else None)
    try:
        measured_on = date.fromisoformat(about.measured_on) if about.measured_on else None
    except ValueError:
        measured_on = None
    technical = tuple(technical_entry(e, about, label=version_label(e.version))
                      for e in entries.values())
    return ModelsOverview(installed=True, problem=None, summaries=summaries(entries, about),
                          measured_on=measured_on, limits=about.limits, licence=about.licence,
                          settings=lesion_settings(entries), entries=technical,
                          model_card=card if card.is_file() else None)


def versions_in_use(clinic: Clinic, actor: Account, *,
                    installed_version: str | None) -> list[VersionInUse]:
    """The model versions behind the analyses the actor can see, newest first."""
    with clinic.session() as session:
        rows = model_version_use(session=session, actor=actor)
    return [VersionInUse(label=version_label(row.model_version), version=row.model_version,
                         current_photos=row.current_photos, model_analyses=row.model_analyses,
                         installed=row.model_version == installed_version)
            for row in rows]


def versions_sentence(versions: list[VersionInUse]) -> str:
    """One sentence over the whole clinic: how many photos each version speaks for."""
    if not versions:
        return "No photo in your patients' records has been analysed yet."
    photos = sum(v.current_photos for v in versions)
    return (f"{plural(photos, 'photo')} in your patients' records carry an analysis, made by "
            f"{plural(len(versions), 'model version')}.")
