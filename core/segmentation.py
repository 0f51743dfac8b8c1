"""The lesion segmenter: a segmentation-models-pytorch UNet with three heads.

Output channels: 0 = lesion (inside a lesion or not), 1 = lesion centre heatmap (peaks separate
touching lesions), 2..5 = lesion kind logits (comedone, papule, pustule, nodule).
The model sees the face at the scale it was trained on: `SegmenterConfig.face_width_px` is the
median face width of the training photos, and callers resize each photo so its face matches it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.colour import COLOUR_CONSTANCY, balance_colours
from core.types import LESION_KINDS

if TYPE_CHECKING:  # torch is imported only where a PyTorch model is built or run
    import torch

ENCODERS: tuple[str, ...] = ("mobilenet_v2", "resnet34")
ARCHITECTURES: tuple[str, ...] = ("unet",)
N_OUTPUTS = 2 + len(LESION_KINDS)
# The training photos: 640 x 640, median MTCNN face width 456 px (10-90%: 372-547).
TRAIN_PHOTO_SIDE = 640
TRAIN_FACE_WIDTH_PX = 456.0


@dataclass(frozen=True)
class SegmenterConfig:
    """Everything needed to rebuild the network and feed it; saved beside the weights."""

    architecture: str = "unet"
    encoder: str = "mobilenet_v2"
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    # Training photos (640x640) were resized by work_scale; face_width_px is their median face
    # width after that resize, the size every photo's face is brought to before segmentation.
    work_scale: float = 0.6
    face_width_px: float = 274.0  # TRAIN_FACE_WIDTH_PX x work_scale
    face_context: float = 1.4  # a training photo is about 1.4 face widths wide
    train_image_side: int = 384  # working side of a training photo; used when no face is found
    lesion_threshold: float = 0.5
    peak_threshold: float = 0.3
    min_peak_distance_px: int = 6
    # Average the maps of the photo and its mirror image (one batch of two): steadier peaks for
    # about 1.6x the segmentation time. Chosen on valid by core.training.calibrate.
    flip_tta: bool = False
    # An inflammatory lesion whose type confidence is below this is "inflammatory, type
    # uncertain" (0: every type is shown). Chosen on valid by core.training.calibrate.
    type_confidence_threshold: float = 0.0
    # Colour constancy applied to the working image before segmentation (core.colour).
    colour_constancy: str = "none"
    kinds: tuple[str, ...] = field(default=LESION_KINDS)
    # A photo scaled without a face (a close-up) has no face width to scale by: its long side and
    # peak threshold are chosen on the valid close-ups of every data set
    # (core.training.calibrate_closeups). None: the same as a training photo's.
    closeup_image_side: int | None = None
    closeup_peak_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.colour_constancy not in COLOUR_CONSTANCY:
            raise ValueError(f"colour_constancy {self.colour_constancy!r} must be one of "
                             f"{', '.join(COLOUR_CONSTANCY)}")
        if self.closeup_image_side is not None and not 64 <= self.closeup_image_side <= 2048:
            raise ValueError(f"closeup_image_side {self.closeup_image_side} must lie in 64-2048")
        if self.closeup_peak_threshold is not None and not 0.0 < self.closeup_peak_threshold < 1.0:
            raise ValueError(f"closeup_peak_threshold {self.closeup_peak_threshold} must lie in (0, 1)")

    def for_photo(self, face_found: bool) -> "SegmenterConfig":
        """The config a photo is segmented and counted with: this one when a face was found
        (even a rough one: it keeps the whole-face settings), the close-up one otherwise."""
        return self if face_found else self.for_closeup()

    def for_closeup(self) -> "SegmenterConfig":
        """The config a photo without a usable face is segmented and counted with."""
        return replace(self,
                       train_image_side=self.closeup_image_side or self.train_image_side,
                       peak_threshold=self.closeup_peak_threshold or self.peak_threshold)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def for_work_scale(cls, work_scale: float, **options) -> "SegmenterConfig":
        """A config whose face width and fallback side follow from the training working scale,
        so a model trained at another scale is fed photos at the scale it learned."""
        if not 0.0 < work_scale <= 2.0:
            raise ValueError(f"work scale {work_scale} must lie in (0, 2]")
        return cls(work_scale=work_scale, face_width_px=round(TRAIN_FACE_WIDTH_PX * work_scale, 1),
                   train_image_side=round(TRAIN_PHOTO_SIDE * work_scale), **options)

    @classmethod
    def from_dict(cls, data: dict) -> "SegmenterConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown segmenter config keys {unknown}; valid keys: {sorted(known)}")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**clean)


def build_model(config: SegmenterConfig) -> torch.nn.Module:
    """The one factory for segmenters; unknown names raise with the valid options."""
    import segmentation_models_pytorch as smp

    if config.architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {config.architecture!r}; valid: {', '.join(ARCHITECTURES)}"
        )
    if config.encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {config.encoder!r}; valid: {', '.join(ENCODERS)}")
    # encoder_weights=None: the default would try the hub (no internet here).
    return smp.Unet(
        encoder_name=config.encoder,
        encoder_weights=None,
        decoder_channels=tuple(config.decoder_channels),
        classes=N_OUTPUTS,
    )


@dataclass(frozen=True)
class LesionMaps:
    """Per-pixel model outputs at the working resolution."""

    lesion: np.ndarray  # float32 probability of lesion
    centre: np.ndarray  # float32 centre heatmap 0..1
    kind: np.ndarray  # float32 K x H x W kind probabilities


class SegmenterEngine(Protocol):
    """What runs the segmenter: PyTorch (`TorchEngine`) or ONNX Runtime (core.onnx_engine)."""

    name: str

    def predict(self, image: np.ndarray, config: SegmenterConfig) -> LesionMaps: ...


# The UNet halves the image five times: height and width must be multiples of 32.
STRIDE = 32


def network_input(image: np.ndarray, config: SegmenterConfig) -> tuple[np.ndarray, int, int]:
    """RGB uint8 H x W x 3 -> (N x 3 x H' x W' float32 batch, H, W): colour-balanced, padded by
    reflection to multiples of 32 and normalised; N = 2 with flip_tta (the image and its mirror).
    Shared by every engine so they see the same numbers."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} {image.dtype}")
    image = balance_colours(image, config.colour_constancy)
    h, w = image.shape[:2]
    pad_h, pad_w = (-h) % STRIDE, (-w) % STRIDE
    if pad_h or pad_w:
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    mean = np.asarray(config.mean, np.float32).reshape(3, 1, 1)
    std = np.asarray(config.std, np.float32).reshape(3, 1, 1)
    x = (image.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0) - mean) / std
    batch = np.stack([x, x[:, :, ::-1]]) if config.flip_tta else x[None]
    return np.ascontiguousarray(batch), h, w


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp overflows to inf for very negative logits: 1/inf = 0
        return (np.float32(1.0) / (np.float32(1.0) + np.exp(-x))).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return (e / e.sum(axis=0, keepdims=True)).astype(np.float32)


def maps_from_logits(logits: np.ndarray, h: int, w: int, flip_tta: bool) -> LesionMaps:
    """The network's N x C x H' x W' logits -> maps cropped to H x W (with flip_tta: the mean of
    the image's and the un-mirrored mirror's logits)."""
    if logits.ndim != 4 or logits.shape[1] != N_OUTPUTS or logits.shape[0] != (2 if flip_tta else 1):
        raise ValueError(f"segmenter logits of shape {logits.shape}; expected "
                         f"{2 if flip_tta else 1} x {N_OUTPUTS} x H x W")
    out = (logits[0] + logits[1][:, :, ::-1]) / 2 if flip_tta else logits[0]
    out = out[:, :h, :w].astype(np.float32, copy=False)
    return LesionMaps(lesion=_sigmoid(out[0]), centre=_sigmoid(out[1]), kind=_softmax(out[2:]))


def predict_maps(model: torch.nn.Module, image: np.ndarray, config: SegmenterConfig) -> LesionMaps:
    """Run a PyTorch segmenter on an RGB image (any size; padded to a multiple of 32)."""
    import torch

    batch, h, w = network_input(image, config)
    device = next(model.parameters()).device  # CPU in the product; a GPU while training
    with torch.inference_mode():
        logits = model(torch.from_numpy(batch).to(device)).float().cpu().numpy()
    return maps_from_logits(logits, h, w, config.flip_tta)


class TorchEngine:
    """The segmenter run by PyTorch (training, calibration, and `engine="torch"`)."""

    name = "torch"

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model.eval()

    def predict(self, image: np.ndarray, config: SegmenterConfig) -> LesionMaps:
        return predict_maps(self.model, image, config)
