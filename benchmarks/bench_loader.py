"""Training data path speed: augmented crops per second per CPU core, old path against new (not a test).

    python -m benchmarks.bench_loader [--data ../shared/data/acne04] [--limit 48] [--seconds 4]

The old path (`--loader albumentations`: `SegmentationDataset`, every crop decoded, resized and
augmented by Albumentations) and the new one (`--loader cached`: `PhotoCache` +
`CachedCropDataset`, crops warped from photos decoded once, photometric changes on the batch on
the training device) each produce batches of `--batch` crops of `--crop` px at `--scale`, on one
process with one thread (one loader worker's share of the machine), from the first `--limit`
photos of the train split (read at run time from `--data`, never copied). Reported per path:
crops per second per core (batches collated as the DataLoader does), the load average beside
each number (this machine may be shared: a busy machine is slower), the new path's one-off
decode time per photo, and the photometric batch step's cost on the CPU (and on the GPU when
there is one; in training it runs there).

Expected steps per minute on the GPU machine (16 cores): crops/s per core x `--gpu-workers`
(14) / batch x 60, assuming throughput linear in workers and the GPU not the limit. A second,
calibrated figure scales the last GPU run's measured 182 crops/s (old path, 14 workers) by the
new/old ratio measured here, since that machine's cores are not these.

`--workers N` also times the real DataLoader with N worker processes (for the GPU machine).
Writes `--output` (default benchmarks/results/loader.json) and prints the JSON last.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from core.training.cached_crops import CachedCropDataset, PhotoCache
from core.training.data import SegmentationDataset, read_split
from core.training.photometric import PhotometricAugment
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "loader.json"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # SegmenterConfig's (ImageNet)
GPU_RUN_CROPS_PER_S = 182.0  # the last GPU run, old path, 14 workers on 16 cores (ENVIRONMENT.md)
TARGET_STEPS_PER_S = 15.0  # issue 18: batch 32 at crop 384


def load() -> float:
    return round(os.getloadavg()[0], 2)


def time_batches(dataset, batch: int, seconds: float, min_batches: int = 1) -> dict:
    """Collated batches of `batch` random items for about `seconds` (at least `min_batches`)."""
    collate = torch.utils.data.default_collate
    rng = np.random.default_rng(0)
    collate([dataset[int(i)] for i in rng.integers(0, len(dataset), 2)])  # warm-up (imports, first calls)
    before = load()
    crops, started = 0, time.perf_counter()
    while True:
        collate([dataset[int(i)] for i in rng.integers(0, len(dataset), batch)])
        crops += batch
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and crops >= min_batches * batch:
            break
    return {"crops": crops, "seconds": round(elapsed, 3), "crops_per_s_per_core": round(crops / elapsed, 2),
            "ms_per_crop": round(1000 * elapsed / crops, 2), "load_before": before, "load_after": load()}


def time_photometric(batch: int, crop: int, device: str, repeats: int) -> dict:
    augment = PhotometricAugment(MEAN, STD, seed=0, device=device)
    x = torch.randint(0, 256, (batch, 3, crop, crop), dtype=torch.uint8, device=device)
    augment(x)  # warm-up
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    before, started = load(), time.perf_counter()
    for _ in range(repeats):
        augment(x)
    sync()
    elapsed = (time.perf_counter() - started) / repeats
    return {"device": device, "ms_per_batch": round(1000 * elapsed, 2), "ms_per_crop": round(1000 * elapsed / batch, 3),
            "load_before": before, "load_after": load()}


def time_dataloader(dataset, batch: int, workers: int, seconds: float) -> dict:
    from core.training.data import seed_augmentation_worker

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True,
                                         num_workers=workers, worker_init_fn=seed_augmentation_worker,
                                         persistent_workers=True, generator=torch.Generator().manual_seed(0))

    def endless():
        while True:
            yield from loader

    it = endless()
    for _ in range(workers * 2):  # every worker started and its first batches done
        next(it)
    before, crops, started = load(), 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        next(it)
        crops += batch
    elapsed = time.perf_counter() - started
    return {"workers": workers, "crops_per_s": round(crops / elapsed, 1), "steps_per_s": round(crops / elapsed / batch, 2),
            "load_before": before, "load_after": load()}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "acne04")
    p.add_argument("--limit", type=int, default=48, help="train photos used (the first N of the split)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--crop", type=int, default=384)
    p.add_argument("--scale", type=float, default=0.8)
    p.add_argument("--seconds", type=float, default=4.0, help="time per path (at least one batch each)")
    p.add_argument("--gpu-workers", type=int, default=14, help="loader workers assumed on the GPU machine")
    p.add_argument("--workers", type=int, default=0, help="also time the real DataLoader with this many workers")
    p.add_argument("--output", type=Path, default=RESULTS, help="JSON result file ('-': none)")
    args = p.parse_args(argv)

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    samples = read_split(args.data, "train")[: args.limit]
    if not samples:
        raise SystemExit(f"{args.data}: no train photos")

    try:
        old = SegmentationDataset(samples, args.crop, MEAN, STD, args.scale, seed=0)
    except ImportError as error:  # a machine without Albumentations times the new path alone
        old, old_t = None, {"error": str(error), "crops_per_s_per_core": None, "load_before": load(),
                            "load_after": load()}
    else:
        old_t = time_batches(old, args.batch, args.seconds)

    before, started = load(), time.perf_counter()
    cache = PhotoCache(samples, args.scale, threads=1)
    cache_s = time.perf_counter() - started
    new = CachedCropDataset(samples, args.crop, seed=0, cache=cache)
    new_t = time_batches(new, args.batch, args.seconds)
    photometric = [time_photometric(args.batch, args.crop, "cpu", 2)]
    if torch.cuda.is_available():
        photometric.append(time_photometric(args.batch, args.crop, "cuda", 20))

    speedup = new_t["crops_per_s_per_core"] / old_t["crops_per_s_per_core"] if old is not None else None

    def steps_per_min(crops_per_s: float | None) -> float | None:
        return None if crops_per_s is None else round(crops_per_s / args.batch * 60, 1)

    result = {
        "what": f"training crops, batch {args.batch}, crop {args.crop}, scale {args.scale}, 1 process, 1 thread",
        "photos": len(samples),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "old_albumentations": old_t,
        "new_cached": new_t,
        "cache_build": {"ms_per_photo": round(1000 * cache_s / len(samples), 2), "mb": round(cache.nbytes / 1e6, 1),
                        "load_before": before, "load_after": load()},
        "photometric_on_batch": photometric,
        "speedup_per_core": speedup and round(speedup, 2),
        "gpu_machine_estimate": {
            "assumption": f"linear in workers, {args.gpu_workers} workers on 16 cores, GPU not the limit",
            "old_steps_per_min": steps_per_min(speedup and old_t["crops_per_s_per_core"] * args.gpu_workers),
            "new_steps_per_min": steps_per_min(new_t["crops_per_s_per_core"] * args.gpu_workers),
            "calibrated_new_steps_per_min": steps_per_min(speedup and GPU_RUN_CROPS_PER_S * speedup),
            "calibration": f"the last GPU run's {GPU_RUN_CROPS_PER_S:.0f} crops/s (old path) x the speed-up here",
            "target_steps_per_min": TARGET_STEPS_PER_S * 60,
        },
    }
    if args.workers:
        result["dataloader"] = {"new": time_dataloader(new, args.batch, args.workers, args.seconds)}
        if old is not None:
            result["dataloader"]["old"] = time_dataloader(old, args.batch, args.workers, args.seconds)
        for name, entry in result["dataloader"].items():
            print(f"DataLoader, {name} path, {entry['workers']} workers: {entry['crops_per_s']} crops/s = "
                  f"{entry['steps_per_s']} steps/s (load {entry['load_before']}-{entry['load_after']})",
                  file=sys.stderr)

    est = result["gpu_machine_estimate"]
    print(f"old path: {old_t['crops_per_s_per_core']} crops/s per core (load {old_t['load_before']}-"
          f"{old_t['load_after']})", file=sys.stderr)
    print(f"new path: {new_t['crops_per_s_per_core']:.1f} crops/s per core (load {new_t['load_before']}-"
          f"{new_t['load_after']}); cache {result['cache_build']['ms_per_photo']} ms a photo, once", file=sys.stderr)
    for entry in photometric:
        print(f"photometric on the batch, {entry['device']}: {entry['ms_per_batch']} ms a batch "
              f"(load {entry['load_before']})", file=sys.stderr)
    print(f"speed-up per core {result['speedup_per_core']}x; 16-core GPU machine, {args.gpu_workers} workers: "
          f"{est['new_steps_per_min']} steps/min (calibrated on the last run: "
          f"{est['calibrated_new_steps_per_min']}; old {est['old_steps_per_min']}; target "
          f"{est['target_steps_per_min']})", file=sys.stderr)
    if str(args.output) != "-":
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
