"""Photometric augmentation on a batch of uint8 crops in torch, on the training device: colour
jitter, channel gain, gamma, blur, downscale, a JPEG-like compression and noise, then the
normalisation (the photometric half of core.training.data.build_augmentation).
"""
from __future__ import annotations

import numpy as np

# JPEG's standard quantisation tables (ITU T.81, Annex K) and its 8x8 DCT.
_JPEG_LUMA = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], np.float32)
_JPEG_CHROMA = np.full((8, 8), 99, np.float32)
_JPEG_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


def _dct_matrix() -> np.ndarray:
    k, n = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    d = np.sqrt(2 / 8) * np.cos((2 * n + 1) * k * np.pi / 16)
    d[0] /= np.sqrt(2)
    return d.astype(np.float32)


def jpeg_like(x, quality):
    """JPEG's loss in torch on any device: YCbCr, 4:2:0 chroma, 8x8 DCT quantised with the
    standard tables at `quality` (one per image, 1-100, the IJG scaling). x: (n, 3, H, W) in
    [0, 1]. Not a codec (no entropy coding, which loses nothing); the same blocks and ringing."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    ph, pw = (-h) % 16, (-w) % 16
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    r, g, b = x.unbind(1)
    y = 255 * (0.299 * r + 0.587 * g + 0.114 * b)
    cb = 255 * (-0.168736 * r - 0.331264 * g + 0.5 * b)
    cr = 255 * (0.5 * r - 0.418688 * g - 0.081312 * b)
    q = torch.as_tensor(quality, dtype=torch.float32, device=x.device).clamp(1, 100)
    s = torch.where(q < 50, 5000 / q, 200 - 2 * q).view(n, 1, 1, 1, 1)
    dct = torch.from_numpy(_dct_matrix()).to(x.device)

    def quantise(channel, table, offset):
        c, hh, ww = channel.shape
        blocks = (channel - offset).reshape(c, hh // 8, 8, ww // 8, 8).transpose(2, 3)
        table = torch.from_numpy(table).to(x.device)
        step = ((table * s + 50) / 100).floor().clamp(1, 255)
        coeffs = dct @ blocks @ dct.T
        blocks = dct.T @ (torch.round(coeffs / step) * step) @ dct
        return blocks.transpose(2, 3).reshape(c, hh, ww) + offset

    y = quantise(y, _JPEG_LUMA, 128.0)
    small = F.avg_pool2d(torch.stack([cb, cr], 1), 2)
    chroma = torch.stack([quantise(small[:, i], _JPEG_CHROMA, 0.0) for i in range(2)], 1)
    cb, cr = F.interpolate(chroma, scale_factor=2, mode="nearest").unbind(1)
    rgb = torch.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1) / 255
    return rgb[:, :, :h, :w].clamp(0, 1)


def _blur_kernels(n: int, size, sigma_or_angle, motion, device):
    """(n, 7, 7) kernels: a Gaussian of `size` (3, 5 or 7) or a motion line of that length."""
    import torch

    grid = torch.arange(7, dtype=torch.float32, device=device) - 3
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    half = ((size - 1) / 2).view(n, 1, 1)
    sigma = (0.3 * (half - 1) + 0.8)
    gauss = torch.exp(-(xx * xx + yy * yy) / (2 * sigma * sigma)) * ((xx.abs() <= half) & (yy.abs() <= half))
    angle = sigma_or_angle.view(n, 1, 1)
    along = xx * torch.cos(angle) + yy * torch.sin(angle)
    across = -xx * torch.sin(angle) + yy * torch.cos(angle)
    line = (1 - across.abs()).clamp(min=0) * (along.abs() <= half + 0.5)
    kernels = torch.where(motion.view(n, 1, 1), line, gauss)
    return kernels / kernels.sum((1, 2), keepdim=True)


class PhotometricAugment:
    """The photometric half of `build_augmentation`, on a batch of uint8 crops in torch on the
    training device (GPU or CPU), then the normalisation: colour jitter (p 0.8: brightness 0.4,
    contrast 0.3, saturation 0.3, hue 0.04, in a random order), one gain per channel (p 0.4,
    0.85-1.15), gamma (p 0.3, 0.8-1.2), a Gaussian or motion blur of 3-7 px (p 0.3), a nearest
    downscale to 0.5-0.9 and back (p 0.15), JPEG-like compression at quality 20-95 (p 0.4,
    `jpeg_like`), Gaussian noise of std 0.02-0.06 (p 0.2). Hue turns the colours in YIQ (a
    linear approximation of HSV's hue). Seeded: every draw comes from two generators (the
    parameters on the CPU, the noise on the device), the same number of draws for every batch.
    A float batch (the old path's, already normalised) passes unchanged."""

    def __init__(self, mean, std, seed: int = 0, device: str = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.params = torch.Generator().manual_seed(seed)
        self.noise = torch.Generator(device=self.device).manual_seed(seed)

    def _uniform(self, n: int, lo: float, hi: float):
        import torch

        return lo + (hi - lo) * torch.rand(n, generator=self.params)

    def _chance(self, n: int, p: float):
        import torch

        return torch.rand(n, generator=self.params) < p

    def __call__(self, x):
        import torch
        import torch.nn.functional as F

        if x.dtype != torch.uint8:
            return x
        n, dev = x.shape[0], x.device
        x = x.float() / 255
        to = dict(device=dev)
        ones = torch.ones(n)

        jitter = self._chance(n, 0.8)
        factors = {"brightness": torch.where(jitter, self._uniform(n, 0.6, 1.4), ones).to(**to),
                   "contrast": torch.where(jitter, self._uniform(n, 0.7, 1.3), ones).to(**to),
                   "saturation": torch.where(jitter, self._uniform(n, 0.7, 1.3), ones).to(**to),
                   "hue": torch.where(jitter, self._uniform(n, -0.04, 0.04), ones * 0).to(**to)}
        order = torch.randperm(4, generator=self.params).tolist()
        gain_on, gain = self._chance(n, 0.4), self._uniform(3 * n, 0.85, 1.15).view(n, 3)
        gamma_on, gamma = self._chance(n, 0.3), self._uniform(n, 0.8, 1.2)
        blur_on, blur_motion = self._chance(n, 0.3), self._chance(n, 0.5)
        blur_size = 3 + 2 * torch.randint(0, 3, (n,), generator=self.params)
        blur_angle = self._uniform(n, 0.0, float(np.pi))
        down_on, down = self._chance(n, 0.15), self._uniform(n, 0.5, 0.9)
        jpeg_on, quality = self._chance(n, 0.4), torch.randint(20, 96, (n,), generator=self.params)
        noise_on, noise_std = self._chance(n, 0.2), self._uniform(n, 0.02, 0.06)

        def view(v):
            return v.view(n, 1, 1, 1)

        def grey(img):
            return (0.299 * img[:, 0:1] + 0.587 * img[:, 1:2] + 0.114 * img[:, 2:3])

        for step in order:
            name = ("brightness", "contrast", "saturation", "hue")[step]
            f = factors[name]
            if name == "brightness":
                x.mul_(view(f))
            elif name == "contrast":
                m = view(grey(x).mean((1, 2, 3)))
                x.sub_(m).mul_(view(f)).add_(m)
            elif name == "saturation":
                g = grey(x)
                x.sub_(g).mul_(view(f)).add_(g)
            else:
                x = torch.einsum("nij,njhw->nihw", _hue_matrices(f), x)
            x.clamp_(0, 1)
        # In place (x is this function's own float copy); each of the rarer changes only on its
        # own images.
        picked = gain_on.nonzero().flatten()
        if len(picked):
            sub = x[picked.to(dev)] * gain[picked].to(**to).view(-1, 3, 1, 1)
            x[picked.to(dev)] = sub.clamp(0, 1)
        picked = gamma_on.nonzero().flatten()
        if len(picked):
            sub = x[picked.to(dev)].clamp_min(1e-6) ** gamma[picked].to(**to).view(-1, 1, 1, 1)
            x[picked.to(dev)] = sub
        picked = blur_on.nonzero().flatten()
        if len(picked):
            k = len(picked)
            kernels = _blur_kernels(k, blur_size[picked].float().to(**to), blur_angle[picked].to(**to),
                                    blur_motion[picked].to(**to), dev)
            sub = F.pad(x[picked.to(dev)], (3, 3, 3, 3), mode="reflect")
            sub = F.conv2d(sub.reshape(1, 3 * k, sub.shape[2], sub.shape[3]),
                           kernels.repeat_interleave(3, 0).unsqueeze(1), groups=3 * k)
            x[picked.to(dev)] = sub.view(k, 3, x.shape[2], x.shape[3])
        for i in down_on.nonzero().flatten().tolist():
            h, w = x.shape[2:]
            small = F.interpolate(x[i:i + 1], size=(max(1, int(h * float(down[i]))), max(1, int(w * float(down[i])))),
                                  mode="nearest")
            x[i:i + 1] = F.interpolate(small, size=(h, w), mode="nearest")
        picked = jpeg_on.nonzero().flatten()
        if len(picked):
            x[picked.to(dev)] = jpeg_like(x[picked.to(dev)], quality[picked].to(**to))
        picked = noise_on.nonzero().flatten()
        if len(picked):
            sub = x[picked.to(dev)]
            noise = torch.randn(sub.shape, generator=self.noise, device=dev)
            sub = (sub + noise * noise_std[picked].to(**to).view(-1, 1, 1, 1)).clamp(0, 1)
            x[picked.to(dev)] = sub
        return x.sub_(self.mean).div_(self.std)


def _hue_matrices(shift):
    """(n, 3, 3) RGB matrices turning the hue by `shift` of a full turn (in YIQ)."""
    import torch

    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                          device=shift.device)
    angle = 2 * np.pi * shift
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(len(shift), 3, 3, device=shift.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    return torch.linalg.inv(to_yiq) @ rot @ to_yiq
