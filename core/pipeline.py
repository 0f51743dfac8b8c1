"""`analyze(photo) -> Analysis`: the one entry point for every caller (dashboard, CLI, batch).

face -> quality -> alignment -> scale-normalised crop -> segmenter -> lesions (in photo pixels)
-> counts, regions, lesion-area fraction of the facial skin -> grade. Models are loaded once by
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
from core.errors import ModelNotInstalledError, WeightsError
from core.face import FaceDetector, get_face_detector
from core.grading import SOFT_PEAK_FLOOR, CountGrader, GradeEvidence
from core.hf_grader import HFGrader
from core.lesions import kind_mask_from_labels, lesions_from_maps, peak_heights
from core.manifest import ModelEntry, read_manifest, verified_onnx, verified_path
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
from core.types import Analysis, DecodedPhoto, FaceResult, Lesion, LesionCounts

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


class Analyzer:
    """Holds the loaded models; `analyze` is pure given its input."""

    def __init__(self, segmenter: SegmenterEngine, config: SegmenterConfig, grader: CountGrader | None,
                 model_version: str, face_detector: FaceDetector | None = None,
                 image_grader: HFGrader | None = None, image_grader_use: str = "second_opinion") -> None:
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

    @property
    def engine(self) -> str:
        """What runs the segmenter: "onnx" or "torch" (the same weights, the same model version)."""
        return self.segmenter.name

    def segment(self, image: np.ndarray, face: FaceResult) -> tuple[WorkingFrame, np.ndarray, LesionMaps]:
        """The scale-normalised working image around the face and the segmenter's maps of it
        (a rough face is not used: the photo is scaled as one without a face)."""
        if not face.measurable:
            face = FaceResult(found=False)
        cfg = self.config
        frame = working_frame(image.shape[:2], face, cfg.face_width_px, cfg.face_context,
                              cfg.train_image_side)
        work = frame.crop(image)
        return frame, work, self.segmenter.predict(work, cfg)

    def warm_up(self) -> None:
        """One analysis of a small blank photo: the face detector and the engines build their
        lazy parts now (at start-up, in the background), not on the first real photo."""
        self.analyze(np.full((256, 256, 3), 128, np.uint8))

    def analyze(self, photo: DecodedPhoto | np.ndarray) -> Analysis:
        image = photo.image if isinstance(photo, DecodedPhoto) else photo
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image, got shape {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        face = self.face_detector.detect(image)
        quality = assess_quality(image, face)
        # A face found only roughly makes the photo assessable; it is not used to scale, align
        # or mask the photo (core.face.RETRY_MARGIN).
        measured = face if face.measurable else FaceResult(found=False)
        alignment = estimate_alignment(measured.landmarks) if measured.found and measured.landmarks else None

        frame, work, maps = self.segment(image, measured)
        work_lesions, labels = lesions_from_maps(maps, self.config)
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
        assessable, reasons = assessment(face, skin_area_px)
        return Analysis(
            width=w, height=h, lesions=lesions, counts=counts,
            grade=grade, second_opinion=second_opinion,
            lesion_area_fraction=area_fraction,
            skin_area_px=skin_area_px, assessable=assessable, not_assessable_reasons=reasons,
            face=face, quality=quality, model_version=self.model_version, alignment=alignment,
            region_counts=count_by_region(lesions) if regions else {},
            gags_estimate=gags_estimate(lesions) if regions else None,
            grade_evidence=tuple(round(h, 4) for h in heights),
            kind_mask=frame.paste(kind_mask, (h, w)),
            probability_map=frame.paste(probability, (h, w)),
        )


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
    # Both files are one model: a corrupt one refuses the model whichever engine runs.
    path = verified_path(entry)
    onnx_path = verified_onnx(entry)
    if entry.config_path is None or not entry.config_path.is_file():
        raise WeightsError(f"segmenter config {entry.config_path} named in the manifest is missing")
    config = SegmenterConfig.from_dict(json.loads(entry.config_path.read_text()))
    if which == "onnx":
        from core.onnx_engine import OnnxEngine

        return OnnxEngine(onnx_path, threads), config, entry.version
    return TorchEngine(load_torch_model(path, config, threads)), config, entry.version


def load_torch_model(path: Path, config: SegmenterConfig, threads: int | None = None
                     ) -> torch.nn.Module:
    """The PyTorch segmenter from a safetensors file (float16 on disk, float32 here)."""
    import torch
    from safetensors.torch import load_file

    if threads is not None:
        torch.set_num_threads(threads)
    model = build_model(config)
    try:
        state = load_file(str(path))
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
        grader = CountGrader.load(verified_path(grader_entry))
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
    return Analyzer(segmenter, config, grader, model_version=version, face_detector=face_detector,
                    image_grader=image_grader,
                    image_grader_use=hf_entry.use if hf_entry else "second_opinion")


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
