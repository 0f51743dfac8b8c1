"""The fast training data path (issue 18): photos decoded once, crops warped from the cache with
their targets carried through the same transform, photometric changes on the batch in torch,
and the GPU pack holding ACNE04 and an extra set within its budget. Every photo is synthetic."""
import argparse
import tarfile
import threading

import cv2
import numpy as np
import pytest
import torch

from core.training import data as data_module
from core.training import train_segmenter
from core.training.cached_crops import CachedCropDataset, PhotoCache, random_geometry, render_targets_affine
from core.training.data import UNTYPED, Sample, TrueLesion, kind_value, read_split, render_targets
from core.training.photometric import PhotometricAugment, jpeg_like
from core.training.pack_data import pack
from tests.core.training.test_extra_data import make_extra_dataset
from tests.core.training.test_training import make_dataset

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def count_decodes(monkeypatch) -> list:
    calls, lock, real = [], threading.Lock(), data_module.read_rgb

    def counting(path):
        with lock:
            calls.append(path)
        return real(path)

    monkeypatch.setattr(data_module, "read_rgb", counting)
    return calls


def test_each_photo_is_decoded_once_and_the_cache_serves_every_later_crop(tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "acne", n_per_split=4)
    calls = count_decodes(monkeypatch)
    args = argparse.Namespace(data=data, extra_data=[], extra_share=0.3, scale=0.5, crop=32, batch=2, seed=0,
                              workers=0, threads=2, run=tmp_path / "run", device="cpu", loader="cached")
    args.run.mkdir()
    batches = train_segmenter.build_loader(args, None, 0)
    for _ in range(6):  # three passes over the four photos
        x, kind_map, heat = next(batches)
        assert x.dtype == torch.uint8 and x.shape == (2, 3, 32, 32)
        assert kind_map.dtype == torch.uint8 and heat.dtype == torch.float32
    assert sorted(calls) == sorted(s.image_path for s in read_split(data, "train"))  # each one once

    # The per-photo scales are honoured: each photo resized once by its own factor.
    samples = read_split(data, "train")
    cache = PhotoCache(samples, [0.5, 1.0, 0.25, 0.75], threads=2)
    assert [im.shape[:2] for im in cache.images] == [(48, 48), (96, 96), (24, 24), (72, 72)]
    assert cache.lesions[0][0].bbox == tuple(round(v * 0.5) for v in samples[0].lesions[0].bbox)
    assert len(calls) == 8
    with pytest.raises(ValueError, match="scales"):
        PhotoCache(samples, [1.0])


def test_identity_transform_draws_exactly_the_old_targets():
    lesions = (TrueLesion((10, 10, 30, 20), "pustule"), TrueLesion((40, 30, 52, 60), None),
               TrueLesion((5, 5, 8, 7), "papule"), TrueLesion((36, 2, 60, 26), "nodule"))
    identity = np.hstack([np.eye(2), np.zeros((2, 1))])
    old_kind, old_heat = render_targets((64, 64), lesions)
    new_kind, new_heat = render_targets_affine((64, 64), lesions, identity)
    assert np.array_equal(old_kind, new_kind)
    np.testing.assert_allclose(new_heat, old_heat, atol=1e-6)


def test_a_lesion_centred_outside_the_crop_puts_no_centre_peak_inside():
    # Its centre (70, 21) lies beyond the 64 px crop: its Gaussian's tail shows, but no pixel
    # may look like a centre to the focal loss (heat >= 0.9 counts as one).
    lesion = (TrueLesion((50, 2, 90, 40), "nodule"),)
    kind_map, heat = render_targets_affine((64, 64), lesion, np.hstack([np.eye(2), np.zeros((2, 1))]))
    assert (kind_map == kind_value("nodule")).any() and 0.1 < heat.max() < 0.9


def test_rotated_targets_match_the_old_targets_warped_with_the_image():
    lesions = (TrueLesion((60, 80, 120, 110), "pustule"),)
    kind_map, heat = render_targets((200, 200), lesions)
    matrix = cv2.getRotationMatrix2D((100, 100), 20, 1.2)
    warped = cv2.warpAffine(kind_map, matrix, (200, 200), flags=cv2.INTER_NEAREST)
    new_kind, new_heat = render_targets_affine((200, 200), lesions, matrix)
    # The same ellipse up to its rim (rasterised once instead of twice).
    assert (warped != new_kind).sum() < 0.06 * (warped > 0).sum()
    assert np.abs(cv2.warpAffine(heat, matrix, (200, 200)) - new_heat).max() < 0.02


def square_photo(path, size=(200, 160)):
    """A dark photo with a red square (a papule's box) and a smaller green one (a pustule's)."""
    w, h = size
    image = np.full((h, w, 3), 20, np.uint8)
    image[30:70, 40:80] = (230, 30, 30)  # rows y, columns x: box (40, 30, 80, 70)
    image[100:130, 130:160] = (30, 230, 30)  # box (130, 100, 160, 130)
    cv2.imwrite(str(path), image[:, :, ::-1])  # PNG: no compression artefacts
    lesions = (TrueLesion((40, 30, 80, 70), "papule"), TrueLesion((130, 100, 160, 130), "pustule"))
    return Sample(path, "s", 1, lesions, size=size)


def test_crops_keep_each_box_on_its_own_square_through_flips_scales_and_rotations(tmp_path):
    sample = square_photo(tmp_path / "squares.png")
    dataset = CachedCropDataset([sample], crop=96, scale=1.0, seed=0)
    checked = {kind_value("papule"): 0, kind_value("pustule"): 0}
    for _ in range(60):
        x, kind_map, heat = dataset[0]
        image = x.numpy().transpose(1, 2, 0).astype(int)
        kind_map = kind_map.numpy()
        red = (image[..., 0] > 150) & (image[..., 1] < 100)
        green = (image[..., 1] > 150) & (image[..., 0] < 100)
        for kind, colour in ((kind_value("papule"), red), (kind_value("pustule"), green)):
            inside = kind_map == kind
            if inside.sum() < 30:
                continue
            # The lesion's ellipse lies on its own square, give or take its rim (the square's edge
            # is blended by the interpolation, and boxes are drawn about their corners' midpoint,
            # half a pixel off a square's pixel centre; the two squares lie far apart).
            near = cv2.dilate(colour.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            assert near[inside].mean() > 0.98, (kind, near[inside].mean())
            assert colour[inside].mean() > 0.6, (kind, colour[inside].mean())
            checked[kind] += 1
        # A centre peak sits on a square.
        if heat.max() >= 0.99:
            ys, xs = np.nonzero(heat.numpy() >= 0.99)
            assert (red | green)[ys, xs].all()
    assert min(checked.values()) >= 10, checked  # both squares seen many times


def test_crop_positions_flips_and_rotations_follow_the_seed(tmp_path):
    samples = read_split(make_dataset(tmp_path / "acne"), "train")
    cache = PhotoCache(samples, 1.0)
    a = CachedCropDataset(samples, 64, seed=3, cache=cache)
    b = CachedCropDataset(samples, 64, seed=3, cache=cache)
    c = CachedCropDataset(samples, 64, seed=4, cache=cache)
    first = [a[i] for i in range(3)]
    assert all(torch.equal(x, y) for f, g in zip(first, [b[i] for i in range(3)]) for x, y in zip(f, g))
    assert not all(torch.equal(f[0], g[0]) for f, g in zip(first, [c[i] for i in range(3)]))
    c.reseed(3)
    assert torch.equal(c[0][0], first[0][0])
    # A photo smaller than the crop is padded, not refused.
    matrix = random_geometry(np.random.default_rng(0), 40, 30, 64)
    assert matrix.shape == (2, 3)
    assert CachedCropDataset(samples, 200, seed=0, cache=cache)[0][0].shape == (3, 200, 200)


def test_photometric_augmentation_keeps_shapes_and_types_and_follows_the_seed():
    x = torch.randint(0, 256, (16, 3, 40, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = PhotometricAugment(MEAN, STD, seed=5)(x)
    assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    low = (torch.tensor(0.0) - torch.tensor(MEAN)) / torch.tensor(STD)
    high = (torch.tensor(1.0) - torch.tensor(MEAN)) / torch.tensor(STD)
    assert (out >= low.view(1, 3, 1, 1) - 1e-5).all() and (out <= high.view(1, 3, 1, 1) + 1e-5).all()
    assert torch.equal(PhotometricAugment(MEAN, STD, seed=5)(x), out)
    assert not torch.equal(PhotometricAugment(MEAN, STD, seed=6)(x), out)
    # It changes the photos (colour at least), not always the same way, and leaves x alone.
    plain = (x.float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    assert (out - plain).abs().mean() > 0.05
    augment = PhotometricAugment(MEAN, STD, seed=5)
    assert not torch.equal(augment(x), augment(x))  # the generator moves on
    assert x.dtype == torch.uint8
    # The old loader's batches (float, normalised already) pass unchanged.
    assert torch.equal(augment(plain), plain)


def test_jpeg_like_compression_loses_more_at_lower_quality():
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.random((4, 48, 40, 3)).astype(np.float32).reshape(-1, 40, 3), (9, 9), 3)
    x = torch.from_numpy(smooth.reshape(4, 48, 40, 3)).permute(0, 3, 1, 2).contiguous()
    errors = [float((jpeg_like(x, torch.full((4,), q)) - x).abs().mean()) for q in (100, 75, 20)]
    assert jpeg_like(x, torch.full((4,), 50)).shape == x.shape
    assert errors[0] < errors[1] < errors[2] and errors[0] < 0.01


def test_untyped_boxes_and_per_set_scales_reach_the_cached_crops(tmp_path):
    web = make_extra_dataset(tmp_path / "web", layout="web")
    samples = [s for s in read_split(web, "train") if s.labelled]
    dataset = CachedCropDataset(samples, 320, scale=[1.0, 0.5], seed=0)
    assert dataset.cache.images[1].shape[:2] == (120, 160)
    kinds = set()
    for _ in range(10):
        for i in range(2):
            kinds |= set(np.unique(dataset[i][1].numpy()).tolist())
    assert kinds == {0, UNTYPED}


def payload(archive) -> int:
    with tarfile.open(archive) as handle:
        return sum(m.size for m in handle.getmembers() if "/images/" in m.name or "/labels_voc/" in m.name)


def test_pack_holds_acne04_and_an_extra_set_within_the_budget(tmp_path):
    acne = make_dataset(tmp_path / "acne", n_per_split=8, train_copies=2, size=160)
    web = make_extra_dataset(tmp_path / "web_acne", layout="web")
    everything = pack(acne, tmp_path / "all.tar.gz", budget_mb=50, val_images=2, extra=[web])
    assert everything["extra"] == {"web_acne": 2}  # its two labelled train photos; the unlabelled one stays
    assert everything["train"] == 8
    budget = everything["payload_bytes"] * 0.7 / 1e6  # not everything fits any more
    result = pack(acne, tmp_path / "pack.tar.gz", budget_mb=budget, val_images=2, extra=[web],
                  extra_budget_share=0.5)
    assert result["payload_bytes"] <= budget * 1e6
    assert payload(tmp_path / "pack.tar.gz") == result["payload_bytes"] <= budget * 1e6
    assert 1 <= result["train"] < 8 and result["extra"]["web_acne"] >= 1

    with tarfile.open(tmp_path / "pack.tar.gz") as handle:
        handle.extractall(tmp_path / "out", filter="data")
    packed_web = read_split(tmp_path / "out" / "extra" / "web_acne", "train")
    assert len(packed_web) == result["extra"]["web_acne"] and all(s.labelled for s in packed_web)
    assert all(l.kind is None for s in packed_web for l in s.lesions)
    assert read_split(tmp_path / "out" / "extra" / "web_acne", "valid") == []  # train only
    assert len(read_split(tmp_path / "out" / "acne04", "train")) == result["train"]
    # Seeded: the same subset again.
    again = pack(acne, tmp_path / "again.tar.gz", budget_mb=budget, val_images=2, extra=[web],
                 extra_budget_share=0.5)
    assert again["payload_bytes"] == result["payload_bytes"]
    with pytest.raises(ValueError, match="extra_budget_share"):
        pack(acne, tmp_path / "x.tar.gz", budget_mb=budget, val_images=2, extra=[web], extra_budget_share=1.0)
