"""What travels beside a photo's numbers wherever they appear: whether the photo failed the
quality check (and was stored anyway), and whether its face was found, in one set of words.

Trends, compare, studies, the PDF, the CSV and the review queue read the quality flag from here;
the Visit and Compare pages read the face state from here, so the two never disagree (a face
found only roughly makes the photo assessable but cannot register it: core.face.RETRY_MARGIN).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

QUALITY_FAILED = "failed the quality check"
QUALITY_FLAG_NOTE = ("Hollow points come from photos stored although they failed the quality "
                     "check: read them with care.")

FACE_FOUND = "yes"
FACE_ROUGH = "roughly (not registered)"
FACE_NOT_FOUND = "no"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def failed_quality(passed: object) -> bool:
    """True when the photo was stored although it failed the quality check (False for a photo
    that passed, and for one with no analysis: there is nothing to flag)."""
    return not _missing(passed) and not bool(passed)


def short_reason(reason: str) -> str:
    """A quality reason's first sentence, without its advice ('The face is cut off (39% of it
    is outside the photo)')."""
    text = " ".join(str(reason).split())
    first = text.split(". ")[0].rstrip(".")
    return first


def quality_problems(reasons: Iterable[str] | None) -> str:
    """The reasons in one line, each its first sentence, lower-cased after the first."""
    parts = [short_reason(r) for r in (reasons or []) if str(r).strip()]
    if not parts:
        return "no reason was recorded"
    return "; ".join(p[:1].lower() + p[1:] for p in parts)


def quality_flag(passed: object, reasons: Iterable[str] | None = None) -> str | None:
    """'Stored although it failed the quality check: the face is cut off (...)' for a flagged
    photo, None for one that passed (or has no analysis)."""
    if not failed_quality(passed):
        return None
    return f"Stored although it {QUALITY_FAILED}: {quality_problems(reasons)}"


def quality_cell(passed: object, reasons: Iterable[str] | None = None) -> str | None:
    """A table cell: 'passed', 'failed: the face is cut off (...)', or None without an analysis."""
    if _missing(passed):
        return None
    if bool(passed):
        return "passed"
    return f"failed: {quality_problems(reasons)}"


def face_state(face_found: object, aligned: bool) -> str:
    """Whether the face was found, as both the Visit and the Compare page say it: 'yes' (found
    and registered), 'roughly (not registered)' (found too roughly to register the photo), or
    'no'."""
    if _missing(face_found) or not bool(face_found):
        return FACE_NOT_FOUND
    return FACE_FOUND if aligned else FACE_ROUGH


def face_sentence(face_found: object, aligned: bool, photo: str) -> str | None:
    """Why `photo` ('the photo of 01 Feb 2024') cannot be registered, in words; None when it
    can. The same facts as `face_state`."""
    state = face_state(face_found, aligned)
    if state == FACE_FOUND:
        return None
    if state == FACE_ROUGH:
        return f"The face was found only roughly on {photo} (Face found: {FACE_ROUGH})"
    return f"No face was found on {photo} (Face found: {FACE_NOT_FOUND})"
