"""Lesion-level change between two analyses of one patient: which lesions persist, which are new,
which resolved.

Both photos' lesion centres are mapped into the canonical face frame (core.alignment), where the
same skin lies at the same place whatever the camera distance, angle or crop, and matched one to
one (Hungarian assignment) within a distance threshold. Kinds are ignored when matching: a papule
that became a pustule is the same lesion.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from core.alignment import CANONICAL_INTER_OCULAR, transform_points
from core.types import Lesion

# Largest distance between a lesion's two positions, as a fraction of the eye distance, for them
# to count as the same lesion: 0.1 is about 6 mm on an adult face (eyes ~63 mm apart), above the
# landmark registration error (~1-2% of the eye distance) and a lesion's own size (2-5 mm), yet
# below the spacing of neighbouring lesions on most faces.
MATCH_DISTANCE_IOD = 0.1


@dataclass(frozen=True)
class LesionChange:
    """Lesion indices: persisting (before, after) pairs, new (in after), resolved (in before)."""

    persisting: tuple[tuple[int, int], ...]
    new: tuple[int, ...]
    resolved: tuple[int, ...]
    # Canonical-frame distance of each persisting pair, in eye distances (same order).
    distances: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "persisting": [list(pair) for pair in self.persisting],
            "new": list(self.new),
            "resolved": list(self.resolved),
            "distances": [round(d, 4) for d in self.distances],
        }


def _canonical_centres(lesions: Sequence[Lesion], alignment: Sequence[float] | None, name: str) -> np.ndarray:
    if alignment is None:
        raise ValueError(
            f"the {name} photo has no face alignment (no face was found), so its lesions cannot "
            "be matched to another visit"
        )
    return transform_points([lesion.centre for lesion in lesions], alignment)


def compare_lesions(
    before: Sequence[Lesion],
    before_alignment: Sequence[float] | None,
    after: Sequence[Lesion],
    after_alignment: Sequence[float] | None,
    max_distance: float = MATCH_DISTANCE_IOD,
) -> LesionChange:
    """Match `after`'s lesions to `before`'s; `max_distance` in eye distances (see module)."""
    if not np.isfinite(max_distance) or max_distance <= 0:
        raise ValueError(f"max_distance must be a positive fraction of the eye distance, got {max_distance}")
    a = _canonical_centres(before, before_alignment, "earlier")
    b = _canonical_centres(after, after_alignment, "later")
    if len(a) == 0 or len(b) == 0:
        return LesionChange(persisting=(), new=tuple(range(len(b))), resolved=tuple(range(len(a))))

    distance = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2) / CANONICAL_INTER_OCULAR
    allowed = distance <= max_distance
    # Pairs beyond the threshold cost more than all allowed pairs together, so the assignment
    # first makes as many allowed matches as possible, then the closest ones; they are dropped.
    forbidden_cost = max_distance * (min(len(a), len(b)) + 1)
    cost = np.where(allowed, distance, forbidden_cost)
    rows, cols = linear_sum_assignment(cost)
    pairs = sorted((int(r), int(c)) for r, c in zip(rows, cols) if allowed[r, c])
    matched_before = {r for r, _ in pairs}
    matched_after = {c for _, c in pairs}
    return LesionChange(
        persisting=tuple(pairs),
        new=tuple(i for i in range(len(b)) if i not in matched_after),
        resolved=tuple(i for i in range(len(a)) if i not in matched_before),
        distances=tuple(float(distance[r, c]) for r, c in pairs),
    )
