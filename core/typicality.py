"""Is this a photo of skin like the ones the models learnt from? A typicality score and a refusal.

The photo, squeezed to 224 x 224 (the training photos were stretched to a square too), goes
through an ImageNet-trained MobileNetV2 (`typicality.onnx`, exported by
`core.training.fit_typicality` from torchvision's weights; run by ONNX Runtime, no torch): its
last features averaged over the picture, square-rooted. ImageNet features tell a cat, a wall or
a page from skin far better than the lesion segmenter's own encoder, which learnt skin only
(measured: with it, scikit-image's cat lies nearer the training photos than some valid photos).
They are compared with those of the TRAINING photos (ACNE04 train + web_acne train) by a
probabilistic-PCA Mahalanobis distance: standardised features, the leading components each
scaled by its own variance and the rest by their mean variance. From the distance:
- `typicality` (0-1): the share of the valid photos (ACNE04 valid + web_acne valid, never used
  to fit) that lie at least as far from the training photos: a typical valid photo has about
  0.5, the least typical valid photo about 0, a picture beyond every valid photo exactly 0.
- refused: too few skin-coloured pixels (`skin_share` under `min_skin_share`: a grey picture
  shows no redness), or, without a face (a face found is skin), a distance above
  `refuse_distance` (both chosen on valid: every valid photo passes, with a margin).
- unusual: typicality under `warn_below` (chosen on valid; the photo is measured, with a
  warning).
The parameters live in `typicality.npz` (plain arrays, loaded without pickle) listed with its
SHA-256 in the weights manifest, beside the graph's.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import WeightsError

INPUT_SIDE = 224
MEAN = np.array([0.485, 0.456, 0.406], np.float32)  # ImageNet
STD = np.array([0.229, 0.224, 0.225], np.float32)
# The arrays typicality.npz must hold.
PARAMETERS: tuple[str, ...] = ("feature_mean", "feature_scale", "components", "component_variance",
                               "residual_variance", "valid_distances", "refuse_distance",
                               "warn_below", "min_skin_share")

NOT_SKIN = ("This picture does not look like skin, so lesions cannot be counted or graded on it. "
            "Take a photo of the face or of the affected skin.")
UNLIKE_TRAINING = ("This picture is unlike every photo the models learnt from (skin photographed "
                   "close up or as a whole face), so lesions cannot be counted or graded on it.")
UNUSUAL_WARNING = ("This photo is unlike the photos the models learnt from (for example light, "
                   "camera or skin tone): check the numbers.")


def _small(image: np.ndarray) -> np.ndarray:
    """The image squeezed to INPUT_SIDE x INPUT_SIDE (what both measures look at)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} {image.dtype}")
    if image.shape[:2] == (INPUT_SIDE, INPUT_SIDE):
        return image
    return cv2.resize(image, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_AREA)


def skin_share(image: np.ndarray) -> float:
    """Share of skin-coloured pixels (YCrCb box of Chai and Ngan 1999, widened for darker and
    lighter skin: Cr 133-180, Cb 77-135, Y above 30) in an RGB uint8 image; a grey picture has
    none."""
    ycrcb = cv2.cvtColor(_small(image), cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    skin = (y > 30) & (cr >= 133) & (cr <= 180) & (cb >= 77) & (cb <= 135)
    return float(skin.mean())


def network_input(image: np.ndarray) -> np.ndarray:
    """The 1 x 3 x 224 x 224 float32 batch of an RGB uint8 image of any size."""
    x = (_small(image).astype(np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


@dataclass(frozen=True)
class TypicalityParameters:
    """The fitted detector (see the module docstring)."""

    feature_mean: np.ndarray
    feature_scale: np.ndarray
    components: np.ndarray  # k x d, rows orthonormal
    component_variance: np.ndarray  # k
    residual_variance: float
    valid_distances: np.ndarray  # sorted
    refuse_distance: float
    warn_below: float
    min_skin_share: float

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Distance of each row of `features` (n x d) from the training photos, divided by the
        square root of the dimension (about 1 for a training photo)."""
        z = (np.atleast_2d(features) - self.feature_mean) / self.feature_scale
        proj = z @ self.components.T
        residual = (z * z).sum(axis=1) - (proj * proj).sum(axis=1)
        d2 = (proj * proj / self.component_variance).sum(axis=1) + \
            np.maximum(residual, 0.0) / self.residual_variance
        return np.sqrt(d2 / z.shape[1])

    def typicality(self, distance: float) -> float:
        """Share of the valid photos at least as far as `distance` (0-1)."""
        valid = self.valid_distances
        farther = len(valid) - int(np.searchsorted(valid, distance, side="left"))
        return farther / len(valid)

    def save(self, path: Path) -> None:
        np.savez(path, **{name: np.asarray(getattr(self, name)) for name in PARAMETERS})

    @classmethod
    def load(cls, path: Path, data_bytes: bytes | None = None) -> "TypicalityParameters":
        """The parameters of `path`, or of `data_bytes` (the file's bytes, already checked
        against the manifest: the bytes checked are the bytes used); `path` names it in errors."""
        import io

        source = io.BytesIO(data_bytes) if data_bytes is not None else path
        try:
            with np.load(source, allow_pickle=False) as data:
                missing = [name for name in PARAMETERS if name not in data.files]
                if missing:
                    raise WeightsError(f"typicality file {path} lacks {', '.join(missing)}")
                values = {name: data[name] for name in PARAMETERS}
        except (OSError, ValueError) as exc:
            raise WeightsError(f"typicality file {path} cannot be read: {exc}") from exc
        scalars = ("residual_variance", "refuse_distance", "warn_below", "min_skin_share")
        params = cls(**{k: (float(v) if k in scalars else v.astype(np.float64)) for k, v in values.items()})
        d = params.feature_mean.shape[0]
        if params.components.ndim != 2 or params.components.shape[1] != d or \
                params.component_variance.shape != (params.components.shape[0],) or \
                params.feature_scale.shape != (d,) or params.valid_distances.size == 0:
            raise WeightsError(f"typicality file {path} holds arrays of inconsistent shapes")
        return params


@dataclass(frozen=True)
class TypicalityResult:
    """One photo's scores and the detector's levels they were judged by."""

    distance: float
    typicality: float
    skin_share: float
    refuse_distance: float
    min_skin_share: float
    warn_below: float

    @property
    def unusual(self) -> bool:
        """Measured, with a warning: typicality under the level chosen on valid."""
        return self.typicality < self.warn_below

    def refusal(self, face_found: bool) -> tuple[str, ...]:
        """Why the photo is not assessable, in words; () when it is. Too few skin-coloured
        pixels refuse any photo (a grey picture cannot show redness); a face found is skin, so
        its distance only warns (`unusual`); without a face, a distance beyond every valid
        photo's refuses it."""
        if self.skin_share < self.min_skin_share:
            return (NOT_SKIN,)
        if not face_found and self.distance > self.refuse_distance:
            return (UNLIKE_TRAINING,)
        return ()


class TypicalityModel:
    """The feature graph and the fitted parameters."""

    def __init__(self, onnx_path: Path | str, parameters_path: Path | str, threads: int | None = None,
                 *, onnx_bytes: bytes | None = None, parameters_bytes: bytes | None = None) -> None:
        """The model of the two files; with `onnx_bytes` / `parameters_bytes` (their checked
        bytes) it is built from those, never from a second read of the files."""
        from core.onnx_engine import cpu_session, session_options

        self.parameters = TypicalityParameters.load(Path(parameters_path), parameters_bytes)
        self.session = cpu_session(Path(onnx_path), session_options(threads), model=onnx_bytes)
        self._input = self.session.get_inputs()[0].name

    def features(self, image: np.ndarray) -> np.ndarray:
        """The pooled features (1-D) of an RGB uint8 image."""
        return np.concatenate([o.reshape(-1) for o in self.session.run(None, {self._input: network_input(image)})])

    def score(self, image: np.ndarray) -> TypicalityResult:
        p = self.parameters
        small = _small(image)  # squeezed once for both measures
        distance = float(p.distance(self.features(small))[0])
        typicality = p.typicality(distance)
        return TypicalityResult(distance=distance, typicality=typicality, skin_share=skin_share(small),
                                refuse_distance=p.refuse_distance, min_skin_share=p.min_skin_share,
                                warn_below=p.warn_below)
