"""Can this photo be assessed at all? A photo of skin is, with or without a face; a picture that
is not skin, or unlike every photo the models learnt from, is not (CLINICAL.md: the numbers
admit doubt).

- A face found (even roughly): the photo is skin. It is assessable when enough facial skin is
  visible (`MIN_ASSESSABLE_SKIN_PX`) and the photo has skin colours at all (a grey picture has
  none); its typicality only warns.
- No face: a close-up. The typicality detector (`core.typicality`) decides: enough
  skin-coloured pixels and a distance to the training photos no larger than the farthest valid
  photo's (with a margin). Without a typicality model in the weights nothing can tell skin from
  a wall, so a photo without a face stays not assessable (fail closed).

This is not the quality gate (`core.quality`): a photo that fails a quality check is still
measured, with the problem shown beside the numbers; a photo that is not assessable is kept
for the record only and left out of every trend, comparison and study.
"""
from __future__ import annotations

from core.types import FaceResult
from core.typicality import TypicalityResult

# Facial skin pixels (at photo scale) below which no count is meaningful: about the skin of a
# 35 px wide face, where a typical lesion (8% of the face width, ACNE04) spans 3 px. The
# 512 px test photo's face (91 px wide) has about 6,700.
MIN_ASSESSABLE_SKIN_PX = 1000

NO_FACE_NO_CHECK = ("No face was found, and these models carry no check that the picture shows "
                    "skin, so lesions cannot be counted or graded on this photo.")


def assessment(face: FaceResult, skin_area_px: int, typicality: TypicalityResult | None = None
               ) -> tuple[bool, tuple[str, ...]]:
    """(assessable, the reasons it is not, in sentences)."""
    if not face.found:
        if typicality is None:
            return False, (NO_FACE_NO_CHECK,)
        reasons = typicality.refusal(face_found=False)
        return not reasons, reasons
    if typicality is not None and typicality.refusal(face_found=True):
        return False, typicality.refusal(face_found=True)
    if skin_area_px < MIN_ASSESSABLE_SKIN_PX:
        return False, (
            f"Too little facial skin is visible ({skin_area_px:,} pixels; at least "
            f"{MIN_ASSESSABLE_SKIN_PX:,} are needed) to count lesions or grade this photo.",
        )
    return True, ()
