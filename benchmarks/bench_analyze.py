"""Benchmark of the whole `analyze` path on 2 CPU threads (not a timed test).

    python -m benchmarks.bench_analyze [--weights weights] [--repeats 7]

Photos: scikit-image's public-domain astronaut photo scaled to 640x640, 4 MP and 12 MP and
encoded as JPEG files; each timing is the command line's own per-photo path
(`core.analyze.result_for` on `read_photo_file`, then the JSON line): reading and decoding the
file, the full analysis and its result; beside it, in turn, the same with the photo decoded in
full (`full_decode`: the path before issue 27, the baseline of the same run). The batch import and the dashboard run the same
`Analyzer.analyze` on the same `decode_photo` output. Also times the
original demo's design (UNet-ResNet34 at 512x512 plus a ViT-base classifier at 224x224, randomly
initialised: only the speed is compared) on the same photos. Writes benchmarks/results/analyze.json.
"""
from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from skimage import data

SIZES = {"640x640": (640, 640), "4MP": (2448, 1632), "12MP": (4032, 3024)}
# The 12 MP photo as a clinic's protocol frames it (the face about 40% of the photo's width), beside
# the astronaut's whole picture above (her face 13% of the short side, at the quality gate's
# limit: the models need that face at full resolution, so a reduced decode cannot serve it).
FACE_FILLING = "12MP (face filling the frame)"
RESULTS = Path(__file__).parent / "results"


def photo_bytes(size: tuple[int, int], close: bool = False) -> bytes:
    """The astronaut's face placed in a photo of `size` (w, h), as a camera would frame it;
    `close`: her head and shoulders only, the face about 40% of the photo's width."""
    w, h = size
    face = data.astronaut()[0:240, 104:344] if close else data.astronaut()
    side = int(min(w, h) * 0.8)
    canvas = np.full((h, w, 3), 200, np.uint8)
    y0, x0 = (h - side) // 2, (w - side) // 2
    canvas[y0:y0 + side, x0:x0 + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def timings(fn, repeats: int) -> dict[str, float]:
    fn()  # warm-up
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return {"median_s": float(np.median(seconds)), "p95_s": float(np.percentile(seconds, 95))}


def paired_timings(fn, baseline, repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """`timings` of two functions run in turn (fn, baseline, fn, baseline, ...)."""
    fn(), baseline()  # warm-up
    seconds: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for which, call in enumerate((fn, baseline)):
            started = time.perf_counter()
            call()
            seconds[which].append(time.perf_counter() - started)
    return tuple({"median_s": float(np.median(s)), "p95_s": float(np.percentile(s, 95))}  # type: ignore[return-value]
                 for s in seconds)


def demo_design():
    import segmentation_models_pytorch as smp
    from transformers import ViTConfig, ViTForImageClassification

    unet = smp.Unet("resnet34", encoder_weights=None, classes=1).eval()
    vit = ViTForImageClassification(ViTConfig(num_labels=5)).eval()

    def run(upload: bytes) -> None:
        image = np.asarray(Image.open(io.BytesIO(upload)).convert("RGB"))
        with torch.inference_mode():
            x = torch.from_numpy(cv2.resize(image, (512, 512))).permute(2, 0, 1)[None].float() / 255
            unet(x)
            v = torch.from_numpy(cv2.resize(image, (224, 224))).permute(2, 0, 1)[None].float() / 127.5 - 1
            vit(pixel_values=v)
    return run


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("weights"))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--output", type=Path, default=RESULTS / "analyze.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from core.analyze import result_for
    from core.imaging import read_photo_file
    from core.pipeline import load_analyzer

    started = time.perf_counter()
    analyzer = load_analyzer(args.weights, threads=args.threads)
    analyzer.face_detector.detect(np.zeros((64, 64, 3), np.uint8))  # loads MTCNN too
    load_s = time.perf_counter() - started
    uploads = {name: photo_bytes(size) for name, size in SIZES.items()}
    uploads[FACE_FILLING] = photo_bytes(SIZES["12MP"], close=True)
    result = {"threads": args.threads, "model_version": analyzer.model_version,
              "engine": getattr(analyzer, "engine", "pytorch"),
              "model_load_s": round(load_s, 3), "sizes": {}}
    folder = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    for name, upload in uploads.items():
        path = folder / f"{name.replace(' ', '_').replace(',', '')}.jpg"
        path.write_bytes(upload)
        # The baseline of the same run: the photo decoded in full, as before issue 27 (the
        # default decodes a large JPEG at the reduced size the models need). Alternated, so a
        # busy machine slows both alike.
        ours, full = paired_timings(
            lambda: json.dumps(result_for(analyzer, read_photo_file(path), str(path))),
            lambda: json.dumps(result_for(analyzer, read_photo_file(path, reduced_decode=False),
                                          str(path))),
            args.repeats)
        result["sizes"][name] = {"ours": ours, "full_decode": full}
    shutil.rmtree(folder, ignore_errors=True)
    # Peak memory of our path alone, before the demo design's models are built.
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    demo = demo_design()
    for name, upload in uploads.items():
        row = result["sizes"][name]
        row["demo_design"] = timings(lambda: demo(upload), args.repeats)
        row["speedup_vs_demo"] = round(row["demo_design"]["median_s"] / row["ours"]["median_s"], 2)
        print(name, json.dumps(row), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
