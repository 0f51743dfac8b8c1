"""An audit row's detail and target in words (issue 26, "Words"): "study=1 arm=2 patient=2"
reads "study “Trial”, arm drug, patient A002 (Jane Roe)", "grade_override=2" reads "grade set
to severe". The rows keep ids (the audit trail stores no names); the administrator's audit page
puts the names in when it shows them, from `Names` (db.repository.audit_names reads them).
A row that no longer exists is said so ("patient no longer stored"); words the detail holds that
are not `key=value` pairs stay as they are, code names turned into words (core.words)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from core.types import GRADE_LABELS
from core.words import plain_text, version_label, words

# key=value, the value running to the next space, comma or semicolon (a colon ends the pairs:
# what follows it is a sentence, e.g. a correction's description).
_PAIR = re.compile(r"\b(?P<key>[a-z_]+)=(?P<value>[^\s,;:]+)")
# The kinds of rows a detail or a target names by id.
ROW_KINDS: tuple[str, ...] = ("patient", "study", "arm", "account", "visit", "photo", "analysis",
                              "enrolment", "review", "treatment_event", "study_member")


@dataclass(frozen=True)
class Names:
    """What the ids of audit rows name, by kind ("patient" -> {id: "A002 (Jane Roe)"}): one
    short text per row, already in words."""

    by_kind: Mapping[str, Mapping[int, str]] = field(default_factory=dict)

    def of(self, kind: str, row_id: int | None) -> str:
        """'patient A002 (Jane Roe)'; a row not found: 'patient no longer stored'."""
        label = words(kind)
        if row_id is None or kind not in ROW_KINDS:
            return label
        name = self.by_kind.get(kind, {}).get(int(row_id))
        return f"{label} {name}" if name else f"{label} no longer stored"


def _date_text(value: str) -> str:
    try:
        return f"{date.fromisoformat(value):%d %b %Y}"
    except ValueError:
        return value


def _pair_in_words(key: str, value: str, names: Names) -> str:
    if key in ROW_KINDS and value.isdigit():
        return names.of(key, int(value))
    if key == "grade_override":
        if value == "None":
            return "model grade confirmed"
        return f"grade set to {GRADE_LABELS.get(int(value), value) if value.isdigit() else value}"
    if key == "iga":
        return f"IGA {value}"
    if key == "date":
        return f"dated {_date_text(value)}"
    if key == "model":
        return f"by the {version_label(value)}"
    if key == "is_active":
        return "active" if value == "True" else "deactivated"
    if key == "team":
        return "no team" if value == "None" else f"team {value}"
    if key == "view":
        return f"{words(value)} view"
    return f"{words(key)} {plain_text(value)}"


def detail_in_words(detail: str | None, names: Names) -> str:
    """The detail with every `key=value` pair in words and ids replaced by names."""
    if not detail:
        return "—"
    text = _PAIR.sub(lambda m: _pair_in_words(m["key"], m["value"], names) + ",", detail)
    text = re.sub(r",(\s*)(?=[;:]|$)", r"\1", text.strip())  # no comma before a ; or : or at the end
    text = re.sub(r",(\s*),", r",\1", text)
    return plain_text(text)


def ids_in(detail: str | None) -> dict[str, set[int]]:
    """The row ids a detail names, by kind (for reading their names in one query each)."""
    found: dict[str, set[int]] = {}
    for match in _PAIR.finditer(detail or ""):
        if match["key"] in ROW_KINDS and match["value"].isdigit():
            found.setdefault(match["key"], set()).add(int(match["value"]))
    return found
