"""Numbers and names in a clinician's words: "1 lesion", "2 lesions", "left cheek".

Shared by the dashboard, the application layer and the PDF report, so that a count reads the
same everywhere and no code name (`left_cheek`, `non_inflammatory`) reaches a person.
"""
from __future__ import annotations

import re
from datetime import datetime

# Nouns whose plural is not the noun plus "s".
IRREGULAR_PLURALS: dict[str, str] = {
    "analysis": "analyses",
    "nodule/cyst": "nodules/cysts",
    "study": "studies",
    "inflammatory lesion of uncertain type": "inflammatory lesions of uncertain type",
}
# Code names whose words are not simply the parts joined by spaces.
SPECIAL_WORDS: dict[str, str] = {
    "non_inflammatory": "non-inflammatory",
    "inflammatory_type_uncertain": "inflammatory, type uncertain",
    "nodule": "nodule/cyst",
    "iga": "IGA",
    "gags": "GAGS",
    "outside_regions": "outside the five regions",
}
# A code name, but not a file name the person gave ("my_face.jpg" stays as it is).
_CODE_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b(?![.\w-]*\.[A-Za-z]{2,4}\b)")


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """'1 lesion', '0 lesions', '2 analyses': the count with its noun in the right number.

    `plural_noun` names an irregular plural; common ones (analysis, nodule/cyst, study) are known.
    """
    if count == 1:
        return f"1 {noun}"
    if plural_noun is None:
        plural_noun = IRREGULAR_PLURALS.get(noun) or _regular_plural(noun)
    return f"{count} {plural_noun}"


def _regular_plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def words(name: str | None, missing: str = "not recorded") -> str:
    """A code name in words: 'left_cheek' -> 'left cheek', 'non_inflammatory' ->
    'non-inflammatory', None -> `missing`."""
    if name is None:
        return missing
    text = str(name)
    if text in SPECIAL_WORDS:
        return SPECIAL_WORDS[text]
    return text.replace("_", " ")


def sentence_case(text: str) -> str:
    """The first letter in upper case ('left cheek' -> 'Left cheek')."""
    return text[:1].upper() + text[1:]


def plain_text(text: str | None, missing: str = "—") -> str:
    """Free text that may hold code names (an audit detail such as 'changed consent_date,
    skin_type' or 'team=None'), with each code name in words and 'None' as `missing`."""
    if text is None:
        return missing
    text = _CODE_NAME.sub(lambda match: words(match.group(0)), str(text))
    return re.sub(r"\bNone\b", missing, text)


_VERSION_DATE = re.compile(r"(?P<y>\d{4})\.(?P<m>\d{2})\.(?P<d>\d{2})(?:\.(?P<hh>\d{2})(?P<mm>\d{2}))?")


def version_label(version: str) -> str:
    """A model version in words: the date the models were made when the version carries one
    ('seg-2026.11.27.2210-mobilenet_v2+grader-2026.11.27.2210-...' -> 'models of 27 Nov 2026,
    22:10'); otherwise 'version ' and the version itself."""
    stamps = []
    for part in version.split("+"):
        match = _VERSION_DATE.search(part)
        if match is None:
            return f"version {version}"
        try:
            made = datetime(int(match["y"]), int(match["m"]), int(match["d"]),
                            int(match["hh"] or 0), int(match["mm"] or 0))
        except ValueError:
            return f"version {version}"
        stamps.append(f"{made:%d %b %Y}" + (f", {made:%H:%M}" if match["hh"] else ""))
    return "models of " + " and ".join(dict.fromkeys(stamps))


def view_label(view: str | None, body_site: str | None = None) -> str:
    """A photo's view in words: 'front', 'left', 'close-up', 'close-up of the left cheek'."""
    if view is None:
        return "not recorded"
    if view == "close-up" and body_site:
        return f"close-up of the {words(body_site)}" if body_site != "other" else "close-up (other site)"
    return str(view)


# What a page says about a photo of skin measured without a face (a close-up; issue 25).
CLOSE_UP_NOTE = (
    "No face in this photo: it is measured as a close-up. Lesions, counts, lesion area and the "
    "grade come from it, and the grade was graded from a close-up (as ACNE04 grades its "
    "close-ups). Regions, GAGS and alignment need a face, so this photo has none of them."
)
# What a page says about a photo unlike the photos the models learnt from (typicality).
UNUSUAL_PHOTO_WARNING = (
    "This photo is unlike the photos the models learnt from (for example light, camera or skin "
    "tone): check the numbers."
)


def named_problem(filename: str, problem: str) -> str:
    """A problem with a file in one sentence, its name said once ('broken.jpg' is damaged,
    never "broken.jpg: 'broken.jpg' is damaged")."""
    if filename and filename in problem:
        return problem
    return f"{filename}: {problem}"
