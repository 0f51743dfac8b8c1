"""Fit the typicality detector (`core.typicality`) on the training photos and choose its levels
on the valid photos.

    python -m core.training.fit_typicality --data ../shared/data/acne04 ../shared/data/web_acne \
        [--weights weights] [--cache /tmp/typicality]

1. Exports `typicality.onnx`: torchvision's ImageNet MobileNetV2 features (the weights the
   segmenter's encoder started from, `core.training.imagenet`), averaged over the picture and
   square-rooted; checked against PyTorch.
2. Features of every TRAINING photo of each data set fit a probabilistic-PCA Mahalanobis
   distance (`COMPONENTS` leading components; the rest share one variance).
3. The VALID photos of each data set (never used to fit) give the typicality scale, the refusal
   distance (`REFUSE_MARGIN` times the farthest valid photo: every valid photo is kept) and the
   lowest skin share of a valid photo (times `SKIN_MARGIN`) below which a photo without a face
   is refused.
4. Writes `typicality.onnx` and `typicality.npz` into the weights folder and lists them in its
   manifest (role "typicality", each file with its SHA-256), keeping every other entry.
The warning level (`--warn-below`, a typicality) is chosen on valid from the count error by
typicality band that `python -m core.training.evaluate --split valid` prints (model card).
Chosen on 2026-12-07 (non-skin pictures of `core.training.nonskin` against valid photos, never
test): 32 components and square-rooted features separate them best; the segmenter's own encoder
was tried first and let scikit-image's cat through.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from core.manifest import DEFAULT_WEIGHTS_DIR, MANIFEST_NAME, sha256_of
from core.typicality import TypicalityParameters, skin_share

TYPICALITY_ONNX = "typicality.onnx"
TYPICALITY_FILE = "typicality.npz"
COMPONENTS = 32
# The refusal distance: this times the farthest valid photo's.
REFUSE_MARGIN = 1.05
# The least skin share of a photo without a face: this times the least of a valid photo.
SKIN_MARGIN = 0.5
DEFAULT_WARN_BELOW = 0.05
# Largest |ONNX - PyTorch| accepted on a feature (float32 sums in another order differ by ~1e-5).
MAX_FEATURE_DIFFERENCE = 1e-3


def feature_network():  # -> torch.nn.Module
    """torchvision's ImageNet MobileNetV2 features, averaged over the picture, square-rooted."""
    import torch
    import torchvision

    from core.training.imagenet import imagenet_encoder_path

    net = torchvision.models.mobilenet_v2()
    net.load_state_dict(torch.load(imagenet_encoder_path("mobilenet_v2"), map_location="cpu",
                                   weights_only=True))

    class Pooled(torch.nn.Module):
        def __init__(self, features: torch.nn.Module) -> None:
            super().__init__()
            self.features = features

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.features(x).mean(dim=(2, 3)).clamp_min(0).sqrt()

    return Pooled(net.features).eval()


def export_features(out: Path) -> Path:
    """Write the feature network as an ONNX graph (any batch, 224 x 224) and check it against
    PyTorch on a real picture; a temporary file renamed into place."""
    import warnings

    import skimage.data
    import torch

    from core.onnx_engine import cpu_session, session_options
    from core.typicality import network_input

    net = feature_network()
    tmp = out.with_suffix(".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(net, (torch.zeros(1, 3, 224, 224),), str(tmp), dynamo=False, opset_version=17,
                          input_names=["image"], output_names=["features"],
                          dynamic_axes={"image": {0: "batch"}, "features": {0: "batch"}})
    batch = network_input(skimage.data.chelsea())
    with torch.no_grad():
        expected = net(torch.from_numpy(batch)).numpy()
    got = cpu_session(tmp, session_options(1)).run(None, {"image": batch})[0]
    difference = float(np.abs(got - expected).max())
    if difference > MAX_FEATURE_DIFFERENCE:
        raise RuntimeError(f"the exported typicality graph differs from PyTorch by {difference:.2e}")
    tmp.replace(out)
    return out


def photo_features(onnx_path: Path, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(features n x d, skin shares n) of the photos at `paths`."""
    from core.training.data import read_rgb

    return pictures_features(onnx_path, (read_rgb(path) for path in paths))


def pictures_features(onnx_path: Path, images) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(features n x d, skin shares n) of RGB uint8 images."""
    from core.onnx_engine import cpu_session, session_options
    from core.typicality import network_input

    session = cpu_session(onnx_path, session_options(1))
    name = session.get_inputs()[0].name
    feats, skins = [], []
    for image in images:
        feats.append(np.concatenate([o.reshape(-1) for o in session.run(None, {name: network_input(image)})]))
        skins.append(skin_share(image))
    return np.array(feats, np.float64), np.array(skins)


def split_paths(data_dirs: list[Path], split: str) -> list[Path]:
    from core.training.data import read_split

    return [s.image_path for d in data_dirs for s in read_split(d, split)]


def cached_features(onnx_path: Path, data_dirs: list[Path], split: str, cache: Path | None
                    ) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    paths = split_paths(data_dirs, split)
    key = cache / f"features_{split}_{sha256_of(onnx_path)[:12]}_{len(paths)}.npz" if cache else None
    if key is not None and key.is_file():
        with np.load(key, allow_pickle=False) as data:
            return data["features"], data["skin"], paths
    feats, skins = photo_features(onnx_path, paths)
    if key is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(key, features=feats, skin=skins)
    return feats, skins, paths


def fit(train: np.ndarray, valid: np.ndarray, valid_skin: np.ndarray, components: int = COMPONENTS,
        warn_below: float = DEFAULT_WARN_BELOW, refuse_margin: float = REFUSE_MARGIN
        ) -> TypicalityParameters:
    """The detector fitted on `train` features, its levels chosen on `valid`."""
    if train.shape[0] <= components:
        raise ValueError(f"{train.shape[0]} training photos cannot fit {components} components")
    mean = train.mean(axis=0)
    scale = train.std(axis=0) + 1e-6 * (train.std() + 1e-12)
    z = (train - mean) / scale
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    variance = singular**2 / (train.shape[0] - 1)
    residual = float(variance[components:].mean()) if variance.size > components else 1.0
    params = TypicalityParameters(
        feature_mean=mean, feature_scale=scale, components=vt[:components],
        component_variance=variance[:components], residual_variance=max(residual, 1e-6),
        valid_distances=np.array([0.0]), refuse_distance=np.inf, warn_below=warn_below, min_skin_share=0.0)
    valid_d = np.sort(params.distance(valid))
    return TypicalityParameters(
        **{**params.__dict__, "valid_distances": valid_d,
           "refuse_distance": float(valid_d[-1] * refuse_margin),
           "min_skin_share": float(valid_skin.min() * SKIN_MARGIN)})


def install(weights_dir: Path, params: TypicalityParameters, onnx_path: Path, notes: dict) -> None:
    """Write typicality.npz beside `onnx_path` (already in `weights_dir`) and list both in the
    manifest, every other entry kept."""
    npz = weights_dir / TYPICALITY_FILE
    params.save(npz)
    manifest_path = weights_dir / MANIFEST_NAME
    raw = json.loads(manifest_path.read_text())
    raw["models"]["typicality"] = {
        "name": "imagenet-mobilenet_v2-ppca", "file": TYPICALITY_FILE, "sha256": sha256_of(npz),
        "onnx": onnx_path.name, "onnx_sha256": sha256_of(onnx_path),
        "version": f"typicality-{time.strftime('%Y.%m.%d')}", "metrics": {"valid": notes}}
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(raw, indent=2) + "\n")
    tmp.replace(manifest_path)


def set_warning_level(weights_dir: Path, warn_below: float, evidence: dict) -> None:
    """Change only the warning level of an installed detector (chosen on valid from the count
    error by typicality band), with the evidence it was chosen by, in the manifest."""
    from dataclasses import replace

    npz = weights_dir / TYPICALITY_FILE
    params = replace(TypicalityParameters.load(npz), warn_below=warn_below)
    params.save(npz)
    manifest_path = weights_dir / MANIFEST_NAME
    raw = json.loads(manifest_path.read_text())
    entry = raw["models"]["typicality"]
    entry["sha256"] = sha256_of(npz)
    entry.setdefault("metrics", {}).setdefault("valid", {}).update(warn_below=warn_below, **evidence)
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(raw, indent=2) + "\n")
    tmp.replace(manifest_path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, nargs="+", required=True, help="data sets in the ACNE04 layout")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    p.add_argument("--cache", type=Path, help="keep the photos' features here between runs")
    p.add_argument("--components", type=int, default=COMPONENTS)
    p.add_argument("--refuse-margin", type=float, default=REFUSE_MARGIN,
                   help="refuse beyond this times the farthest valid photo's distance")
    p.add_argument("--warn-below", type=float, default=DEFAULT_WARN_BELOW,
                   help="typicality under which a photo is measured with a warning (chosen on valid)")
    args = p.parse_args(argv)
    onnx_path = export_features(args.weights / TYPICALITY_ONNX)
    train, _, _ = cached_features(onnx_path, args.data, "train", args.cache)
    valid, valid_skin, _ = cached_features(onnx_path, args.data, "valid", args.cache)
    # A small data set (a test's) cannot fit more components than it has photos.
    components = min(args.components, train.shape[0] - 1)
    params = fit(train, valid, valid_skin, components, args.warn_below, args.refuse_margin)
    from core.training.nonskin import nonskin_pictures

    pictures = nonskin_pictures()
    feats, skins = pictures_features(onnx_path, pictures.values())
    passed = [name for name, d, skin in zip(pictures, params.distance(feats), skins)
              if d <= params.refuse_distance and skin >= params.min_skin_share]
    notes = {"n_train_photos": int(train.shape[0]), "n_valid_photos": int(valid.shape[0]),
             "components": components, "refuse_distance": round(params.refuse_distance, 4),
             "farthest_valid_distance": round(float(params.valid_distances[-1]), 4),
             "min_skin_share": round(params.min_skin_share, 4), "warn_below": params.warn_below,
             "nonskin_pictures": len(pictures), "nonskin_refused": len(pictures) - len(passed)}
    if passed:
        notes["nonskin_passed"] = passed
    install(args.weights, params, onnx_path, notes)
    print(json.dumps(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
