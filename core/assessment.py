"""Can this photo be assessed at all? A photo with no face, or too little facial skin, gets no
lesion count and no grade (CLINICAL.md: the numbers admit doubt).

This is not the quality gate (`core.quality`): a photo that fails a quality check is still
measured, with the problem shown beside the numbers; a photo that is not assessable is kept
for the record only and left out of every trend, comparison and study.
"""
from __future__ import annotations

from core.types import FaceResult

# Facial skin pixels (at photo scale) below which no count is meaningful: about the skin of a
# 35 px wide face, where a typical lesion (8% of the face width, ACNE04) spans 3 px. The
# 512 px test photo's face (91 px wide) has about 6,700.
MIN_ASSESSABLE_SKIN_PX = 1000

NO_FACE = "No face was found, so lesions cannot be counted or graded on this photo."


def assessment(face: FaceResult, skin_area_px: int) -> tuple[bool, tuple[str, ...]]:
    """(assessable, reasons it is not)."""
    if not face.found:
        return False, (NO_FACE,)
    if skin_area_px < MIN_ASSESSABLE_SKIN_PX:
        return False, (
            f"Too little facial skin is visible ({skin_area_px:,} pixels; at least "
            f"{MIN_ASSESSABLE_SKIN_PX:,} are needed) to count lesions or grade this photo.",
        )
    return True, ()
