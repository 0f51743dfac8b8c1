"""`analyze(photo) -> Analysis`: the one entry point for every caller (dashboard, CLI, batch).

typicality (is this skin like the training photos? core.typicality) -> face -> quality ->
alignment -> scale-normalised crop -> segmenter -> lesions (in photo pixels) -> counts, regions,
lesion-area fraction of the facial skin (of the whole frame for a close-up without a face) ->
grade -> assessable (core.assessment: a skin close-up without a face is assessable and has no
alignment, regions or GAGS; a picture that is not skin is not) -> colour measures of an
assessable photo (core.colour_measures: redness and dark marks against the patient's own clear
skin, corrected first by a colour card when core.colour_card finds one). Models are loaded once by
`load_analyzer` from the weights manifest. The segmenter runs on ONNX Runtime when the manifest
lists its ONNX graph (no torch import), else on PyTorch; `engine="torch"` forces PyTorch.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.alignment import compose_alignments, estimate_alignment
from core.assessment import assessment
from core.colour_card import find_colour_card
from core.colour_measures import measure_colour
from core.errors import ModelNotInstalledError, WeightsError
from core.face import FaceDetector, detection_factor, get_face_detector, scaled_face
from core.grading import SOFT_PEAK_FLOOR, CountGrader, GradeEvidence
from core.hf_grader import HFGrader
from core.imaging import blocks_to_size
from core.lesions import kind_mask_from_labels, lesions_from_maps, peak_heights
from core.manifest import ModelEntry, read_manifest, verified_bytes, verified_path
from core.quality import assess_quality
from core.regions import (
    count_by_region,
    facial_skin_mask,
    gags_estimate,
    region_masks,
    region_of,
)
from core.scale import WorkingFrame, working_frame
from core.segmentation import (
    LesionMaps,
    SegmenterConfig,
    SegmenterEngine,
    TorchEngine,
    build_model,
)
from core.types import Analysis, ColourMeasures, DecodedPhoto, FaceResult, Lesion, LesionCounts
from core.typicality import TypicalityModel

if TYPE_CHECKING:  # torch is imported only when the PyTorch engine is chosen
    import torch

# auto: ONNX Runtime when the manifest lists an ONNX graph, else PyTorch.
ENGINES: tuple[str, ...] = ("auto", "onnx", "torch")


def _face_in_frame(face: FaceResult, frame: WorkingFrame) -> FaceResult:
    """The face with its box and landmarks in working-frame pixels."""
    if not face.found:
        return face
    s = frame.scale
    box = face.box
    return replace(
        face,
        box=((box[0] - frame.x0) * s, (box[1] - frame.y0) * s, (box[2] - frame.x0) * s, (box[3] - frame.y0) * s),
        landmarks=tuple(((x - frame.x0) * s, (y - frame.y0) * s) for x, y in face.landmarks),
        other_boxes=(),
    )


# A reduced decode is used only where every step shrinks it at least this much more (the
# detector's copy, the working image, the sharpness crop): then they see the same detail.
REDUCTION_MARGIN = 1.5


def finest_reduction(face: FaceResult, shape: tuple[int, int], config: SegmenterConfig) -> int:
    """The coarsest decode (1, 2, 4 or 8 photo pixels a decoded pixel) the analysis of a photo of
    `shape` with `face` can use without seeing less detail than from the full photo."""
    from core.face import DETECT_MAX_SIDE
    from core.quality import SHARPNESS_FACE_WIDTH

    h, w = shape
    shrink = [max(h, w) / DETECT_MAX_SIDE]
    if face.measurable and face.box is not None:
        face_w = face.box[2] - face.box[0]
        shrink += [face_w / config.face_width_px, face_w / SHARPNESS_FACE_WIDTH]
    else:
        shrink += [max(h, w) / config.for_photo(face.found).train_image_side, w / SHARPNESS_FACE_WIDTH]
        if face.found and face.box is not None:  # a rough face: its box is the sharpness crop
            shrink.append((face.box[2] - face.box[0]) / SHARPNESS_FACE_WIDTH)
    allowed = min(shrink) / REDUCTION_MARGIN
    return next((k for k in (8, 4, 2) if k <= allowed), 1)


class Analyzer:
    """Holds the loaded models; `analyze` is pure given its input."""

    def __init__(self, segmenter: SegmenterEngine, config: SegmenterConfig, grader: CountGrader | None,
                 model_version: str, face_detector: FaceDetector | None = None,
                 image_grader: HFGrader | None = None, image_grader_use: str = "second_opinion",
                 typicality: TypicalityModel | None = None) -> None:
        # A bare PyTorch model (smp's has a predict() of its own) must come wrapped; torch is
        # looked up only if something imported it already.
        torch_module = sys.modules.get("torch")
        if (torch_module is not None and isinstance(segmenter, torch_module.nn.Module)) or \
                not callable(getattr(segmenter, "predict", None)):
            raise ValueError(f"segmenter {type(segmenter).__name__} is not an engine with "
                             "predict(image, config); wrap a PyTorch model in "
                             "core.segmentation.TorchEngine")
        self.segmenter = segmenter
        self.config = config
        self.grader = grader
        self.model_version = model_version
        self.face_detector = face_detector or get_face_detector()
        # A Hugging Face classifier grades the face crop, as the grade or as a second opinion.
        self.image_grader = image_grader
        self.image_grader_use = image_grader_use
        # Tells skin from what is not and scores how typical a photo is; None: no such model in
        # the weights (a photo without a face is then not assessable).
        self.typicality = typicality

    @property
    def engine(self) -> str:
        """What runs the segmenter: "onnx" or "torch" (the same weights, the same model version)."""
        return self.segmenter.name

    def segment(self, image: np.ndarray, face: FaceResult, *, pixel_size: int = 1,
                shape: tuple[int, int] | None = None) -> tuple[WorkingFrame, np.ndarray, LesionMaps]:
        """The scale-normalised working image around the face and the segmenter's maps of it
        (a rough face is not used: the photo is scaled as one without a face). `pixel_size` > 1:
        `image` is the reduced decode of a photo of `shape` (height, width), the frame in the
        photo's pixels."""
        cfg = self.config.for_photo(face.found)
        if not face.measurable:
            face = FaceResult(found=False)
        frame = working_frame(shape or image.shape[:2], face, cfg.face_width_px, cfg.face_context,
                              cfg.train_image_side)
        work = frame.crop(image, pixel_size)
        return frame, work, self.segmenter.predict(work, cfg)

    def warm_up(self) -> None:
        """One analysis of a small blank photo: the face detector and the engines build their
        lazy parts now (at start-up, in the background), not on the first real photo."""
        self.analyze(np.full((256, 256, 3), 128, np.uint8))

    def _find_face(self, pixels: np.ndarray, k: int, shape: tuple[int, int]) -> FaceResult:
        """The face in the photo of `shape` whose pixels (reduced k times) are `pixels`, in the
        photo's coordinates. The detector looks at a copy at most DETECT_MAX_SIDE px long, shrunk
        by a whole factor: where the photo's factor is k times the reduced decode's, that copy is
        the same as the full photo's; otherwise the reduced decode is enlarged back first."""
        if k == 1:
            return self.face_detector.detect(pixels)
        if detection_factor(pixels.shape) * k == detection_factor(shape):
            return scaled_face(self.face_detector.detect(pixels), k)
        return self.face_detector.detect(blocks_to_size(pixels, k, shape))

    def analyze(self, photo: DecodedPhoto | np.ndarray) -> Analysis:
        # A large JPEG comes decoded at 1/2 to 1/8 scale (`reduced`, each pixel a square of k
        # photo pixels a side): every step reads those pixels and works in the photo's own
        # coordinates, so the photo is never decoded in full unless its face is too small.
        if isinstance(photo, DecodedPhoto):
            pixels, k = (photo.reduced, photo.reduction) if photo.reduced is not None else (photo.image, 1)
            h, w = photo.height, photo.width
        else:
            pixels, k = photo, 1
            h, w = photo.shape[:2]
        if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image, got shape {pixels.shape} {pixels.dtype}")
        face = self._find_face(pixels, k, (h, w))
        if k > finest_reduction(face, (h, w), self.config):
            # A face too small for the reduced decode: the full photo, and the face found again
            # in it (a small face's box would move with the reduced pixels), as before.
            pixels, k = photo.image, 1
            face = self.face_detector.detect(pixels)
        # The skin check squeezes the whole photo to 224 px, the colour card search strides it.
        typical = self.typicality.score(pixels) if self.typicality is not None else None
        quality = assess_quality(pixels, face, pixel_size=k, photo_shape=(h, w))
        # A face found only roughly makes the photo assessable; it is not used to scale, align
        # or mask the photo (core.face.RETRY_MARGIN).
        measured = face if face.measurable else FaceResult(found=False)
        alignment = estimate_alignment(measured.landmarks) if measured.found and measured.landmarks else None

        # A rough face is scaled as no face there.
        frame, work, maps = self.segment(pixels, face, pixel_size=k, shape=(h, w))
        # A close-up is counted as calibrated on close-ups (its own side and peak threshold).
        work_lesions, labels = lesions_from_maps(maps, self.config.for_photo(face.found))
        # Skin and regions at working resolution: the same geometry, far fewer pixels.
        work_to_photo = (1 / frame.scale, 0.0, float(frame.x0), 0.0, 1 / frame.scale, float(frame.y0))
        work_alignment = compose_alignments(work_to_photo, alignment) if alignment else None
        skin = facial_skin_mask(work.shape[:2], _face_in_frame(measured, frame), work_alignment)
        regions = region_masks(work.shape[:2], work_alignment) if work_alignment else {}

        area_scale = 1.0 / frame.scale**2
        lesions = tuple(
            Lesion(bbox=frame.to_photo(l.bbox), kind=l.kind, score=l.score,
                   area_px=int(round(l.area_px * area_scale)), type_confidence=l.type_confidence,
                   type_uncertain=l.type_uncertain,
                   region=region_of(l.centre, regions) if regions else None)
            for l in work_lesions
        )
        lesion_pixels = int(((labels > 0) & skin).sum())
        skin_pixels = int(skin.sum())
        area_fraction = lesion_pixels / skin_pixels if skin_pixels else 0.0
        counts = LesionCounts.from_lesions(lesions)
        image_grade = self.image_grader.grade(work) if self.image_grader else None
        heights = peak_heights(maps.centre, SOFT_PEAK_FLOOR, self.config.min_peak_distance_px)
        if image_grade and self.image_grader_use == "grader":
            grade, second_opinion = image_grade, None
        else:
            # The grader learned from every lesion's most likely type.
            evidence = GradeEvidence(LesionCounts.from_lesions(lesions, split_uncertain=False), heights)
            grade, second_opinion = self.grader.grade(evidence), image_grade
        kind_mask = kind_mask_from_labels(labels, work_lesions)
        probability = np.round(maps.lesion * 255).astype(np.uint8)
        skin_area_px = int(round(skin_pixels * area_scale))
        assessable, reasons = assessment(face, skin_area_px, typical)
        colour = photo_colour(pixels, work, skin, labels > 0, frame, (h, w)) if assessable else None
        return Analysis(
            width=w, height=h, lesions=lesions, counts=counts,
            grade=grade, second_opinion=second_opinion,
            lesion_area_fraction=area_fraction,
            skin_area_px=skin_area_px, assessable=assessable, not_assessable_reasons=reasons,
            face=face, quality=quality, model_version=self.model_version, alignment=alignment,
            typicality=typical.typicality if typical else None,
            unusual=bool(typical and typical.unusual),
            region_counts=count_by_region(lesions) if regions else {},
            gags_estimate=gags_estimate(lesions) if regions else None,
            grade_evidence=tuple(round(h, 4) for h in heights),
            kind_mask=frame.paste(kind_mask, (h, w)),
            probability_map=frame.paste(probability, (h, w)),
            colour=colour,
        )


def photo_colour(pixels: np.ndarray, work: np.ndarray, skin: np.ndarray, lesions: np.ndarray,
                 frame: WorkingFrame, shape: tuple[int, int]) -> ColourMeasures | None:
    """Redness and dark marks (core.colour_measures) of the working image's skin, corrected by a
    colour card when the whole photo shows one (searched in `pixels`, the photo or its reduced
    decode: the card's colours are medians over its patches); the layers' mask at the photo's
    `shape`."""
    measures = measure_colour(work, skin, lesions, find_colour_card(pixels))
    if measures is None or measures.mask is None:
        return measures
    return replace(measures, mask=frame.paste(measures.mask, shape))


def chosen_engine(entry: ModelEntry, engine: str = "auto") -> str:
    """"onnx" or "torch" for the segmenter `entry`: `engine`, where "auto" means ONNX Runtime
    when the manifest lists an ONNX graph and PyTorch otherwise. (The app's setting is
    ACNE_ENGINE, read by the application layer; `core` reads no environment variable.)"""
    requested = engine.strip().lower() or "auto"
    if requested not in ENGINES:
        raise ValueError(f"engine={engine!r} is not a segmenter engine; valid values: "
                         f"{', '.join(ENGINES)}")
    if requested == "onnx" and entry.onnx_path is None:
        raise WeightsError("engine=onnx, but the manifest lists no ONNX graph for the segmenter "
                           f"{entry.path}; export one with `python -m core.training.export`")
    if requested == "auto":
        return "onnx" if entry.onnx_path is not None else "torch"
    return requested


# The run time (the default install) has no PyTorch: the torch engine says so in one sentence.
TORCH_MISSING = ("The PyTorch engine needs the training extra, which is not installed: install "
                 "the training extra (pip install 'acne-tracker[train]') or use the ONNX engine.")


def torch_installed() -> bool:
    """Whether PyTorch and segmentation-models-pytorch are installed (without importing them)."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(name) is not None
                   for name in ("torch", "segmentation_models_pytorch"))
    except (ImportError, ValueError):
        return False


def load_segmenter(weights_dir: Path | str, engine: str = "auto", threads: int | None = None
                   ) -> tuple[SegmenterEngine, SegmenterConfig, str]:
    """(engine, config, version) of the installed segmenter, every file of it checked against the
    manifest. `engine`: see `chosen_engine`; `threads`: intra-op threads (None: the default of
    the engine, OMP_NUM_THREADS or one per physical core)."""
    import json

    entry = read_manifest(weights_dir).get("segmenter")
    if entry is None:
        raise WeightsError(f"the manifest in {weights_dir} lists no segmenter")
    which = chosen_engine(entry, engine)
    # Every file is one model: a corrupt one refuses the model whichever engine runs. Each is
    # read once and built from the bytes that were checked (issue 24).
    weights = verified_bytes(entry.path, entry.sha256)
    graph = verified_bytes(entry.onnx_path, entry.onnx_sha256) if entry.onnx_path else None
    if entry.config_path is None:
        raise WeightsError(f"the manifest in {weights_dir} names no config for the segmenter")
    try:
        config = SegmenterConfig.from_dict(
            json.loads(verified_bytes(entry.config_path, entry.config_sha256).decode("utf-8")))
    except (ValueError, TypeError, KeyError) as exc:
        raise WeightsError(f"The segmenter config {entry.config_path} cannot be read: {exc}") from exc
    if which == "onnx":
        from core.onnx_engine import OnnxEngine

        return OnnxEngine(entry.onnx_path, threads, model=graph), config, entry.version
    if not torch_installed():
        raise WeightsError(TORCH_MISSING)
    return TorchEngine(load_torch_model(entry.path, config, threads, data=weights)), config, entry.version


def load_torch_model(path: Path, config: SegmenterConfig, threads: int | None = None,
                     data: bytes | None = None) -> torch.nn.Module:
    """The PyTorch segmenter from a safetensors file (float16 on disk, float32 here); `data`:
    the file's bytes, already checked against the manifest (then `path` only names it)."""
    import torch
    from safetensors.torch import load, load_file

    if threads is not None:
        torch.set_num_threads(threads)
    model = build_model(config)
    try:
        state = load(data) if data is not None else load_file(str(path))
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise WeightsError(f"weight file {path} cannot be loaded: {exc}") from exc
    return model.eval()


def load_analyzer(weights_dir: Path | str, engine: str = "auto", threads: int | None = None
                  ) -> Analyzer:
    """Load every installed model once (`engine`, `threads`: see `load_segmenter`).
    Raises ModelNotInstalledError / WeightsError, ValueError for an unknown engine."""
    entries = read_manifest(weights_dir)
    segmenter, config, seg_version = load_segmenter(weights_dir, engine, threads)
    grader_entry = entries.get("grader")
    if grader_entry is None:
        raise WeightsError(f"the manifest in {weights_dir} lists no grader")
    try:
        grader = CountGrader.load(grader_entry.path,
                                  verified_bytes(grader_entry.path, grader_entry.sha256))  # read once
    except ValueError as exc:
        raise WeightsError(str(exc)) from exc
    version = f"{seg_version}+{grader_entry.version}"
    hf_entry = entries.get("hf_grader")
    image_grader = HFGrader(verified_path(hf_entry)) if hf_entry else None
    if hf_entry:
        version += f"+{hf_entry.version}"
    # The face networks of this folder when it lists them (a calibrated folder does); else the
    # repository's.
    face_detector = get_face_detector(weights_dir) if "face_pnet" in entries else None
    typicality = load_typicality(entries.get("typicality"), threads)
    if typicality is not None:
        version += f"+{entries['typicality'].version}"
    return Analyzer(segmenter, config, grader, model_version=version, face_detector=face_detector,
                    image_grader=image_grader,
                    image_grader_use=hf_entry.use if hf_entry else "second_opinion",
                    typicality=typicality)


def load_typicality(entry: ModelEntry | None, threads: int | None = None) -> TypicalityModel | None:
    """The typicality model of a manifest entry, both its files checked; None without one."""
    if entry is None:
        return None
    if entry.onnx_path is None:
        raise WeightsError(f"the typicality model {entry.path} lists no encoder graph (onnx)")
    # Built from the bytes that were checked, as the segmenter and face networks are (issue 24).
    return TypicalityModel(entry.onnx_path, entry.path, threads,
                           onnx_bytes=verified_bytes(entry.onnx_path, entry.onnx_sha256),
                           parameters_bytes=verified_bytes(entry.path, entry.sha256))


def installed_models(weights_dir: Path | str) -> list[dict]:
    """What the manifest lists (for the Models page); [] when nothing is installed."""
    try:
        entries = read_manifest(weights_dir)
    except ModelNotInstalledError:
        return []
    card = Path(weights_dir) / "MODEL_CARD.md"
    return [
        {"role": e.role, "name": e.name, "version": e.version, "file": e.path.name,
         "sha256": e.sha256, "metrics": e.metrics, "model_card": card if card.is_file() else None}
        for e in entries.values()
    ]
