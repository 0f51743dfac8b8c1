"""Colour-space arithmetic for the colour measures and the colour card (numpy only).

sRGB (IEC 61966-2-1, D65) <-> linear RGB <-> CIE XYZ <-> CIELAB (D65 white), the CIEDE2000
colour difference (Sharma, Wu and Dalal 2005) and the individual typology angle
ITA = arctan((L* - 50) / b*) in degrees (Chardon 1991).
"""
from __future__ import annotations

import numpy as np

# sRGB primaries to XYZ, D65 white (IEC 61966-2-1).
RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                       [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]], dtype=np.float64)
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ)
D65_WHITE = RGB_TO_XYZ.sum(axis=1)  # XYZ of linear RGB (1, 1, 1): 0.9505, 1.0, 1.0891

_EPSILON = 216.0 / 24389.0
_KAPPA = 24389.0 / 27.0


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """Linear light (0-1, float32) of sRGB values: uint8 (0-255) or floats in 0-1."""
    v = np.asarray(values)
    if v.dtype == np.uint8:
        return _LINEAR_LUT[v]
    v = np.clip(v.astype(np.float32), 0.0, 1.0)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LINEAR_LUT = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """sRGB uint8 of linear-light values (clipped to 0-1)."""
    v = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    encoded = np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1.0 / 2.4) - 0.055)
    return np.clip(encoded * 255.0 + 0.5, 0, 255).astype(np.uint8)


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """CIELAB (..., 3: L*, a*, b*; float32) of linear sRGB values (..., 3)."""
    xyz = np.asarray(linear, dtype=np.float32) @ (RGB_TO_XYZ / D65_WHITE[:, None]).T.astype(np.float32)
    f = np.where(xyz > _EPSILON, np.cbrt(np.maximum(xyz, 0.0)), (_KAPPA * xyz + 16.0) / 116.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def srgb_to_lab(values: np.ndarray) -> np.ndarray:
    """CIELAB of sRGB values (uint8 0-255 or floats 0-1), shape (..., 3)."""
    return linear_to_lab(srgb_to_linear(values))


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """Linear sRGB (unclipped) of CIELAB values (..., 3)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f**3 > _EPSILON, f**3, (116.0 * f - 16.0) / _KAPPA) * D65_WHITE
    return xyz @ XYZ_TO_RGB.T


def ita_degrees(lightness: np.ndarray | float, b_star: np.ndarray | float) -> np.ndarray | float:
    """Individual typology angle: arctan((L* - 50) / b*) in degrees (higher = lighter skin;
    above 55 very light, 41-55 light, 28-41 intermediate, 10-28 tan, -30-10 brown, below -30
    dark; Chardon 1991, Del Bino 2006)."""
    return np.degrees(np.arctan2(np.asarray(lightness) - 50.0, np.asarray(b_star)))


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of two CIELAB arrays (..., 3), kL = kC = kH = 1."""
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0
    g = 0.5 * (1.0 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    dlp = l2 - l1
    dcp = c2p - c1p
    dhp = h2p - h1p
    dhp = np.where(dhp > 180.0, dhp - 360.0, np.where(dhp < -180.0, dhp + 360.0, dhp))
    dhp = np.where(c1p * c2p == 0, 0.0, dhp)
    dhp_big = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dhp / 2.0))
    lp_mean = (l1 + l2) / 2.0
    cp_mean = (c1p + c2p) / 2.0
    hsum = h1p + h2p
    hp_mean = np.where(np.abs(h1p - h2p) > 180.0,
                       np.where(hsum < 360.0, (hsum + 360.0) / 2.0, (hsum - 360.0) / 2.0), hsum / 2.0)
    hp_mean = np.where(c1p * c2p == 0, hsum, hp_mean)
    t = (1.0 - 0.17 * np.cos(np.radians(hp_mean - 30.0)) + 0.24 * np.cos(np.radians(2.0 * hp_mean))
         + 0.32 * np.cos(np.radians(3.0 * hp_mean + 6.0)) - 0.20 * np.cos(np.radians(4.0 * hp_mean - 63.0)))
    d_theta = 30.0 * np.exp(-(((hp_mean - 275.0) / 25.0) ** 2))
    rc = 2.0 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    sl = 1.0 + 0.015 * (lp_mean - 50.0) ** 2 / np.sqrt(20.0 + (lp_mean - 50.0) ** 2)
    sc = 1.0 + 0.045 * cp_mean
    sh = 1.0 + 0.015 * cp_mean * t
    rt = -np.sin(np.radians(2.0 * d_theta)) * rc
    return np.sqrt((dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp_big / sh) ** 2
                   + rt * (dcp / sc) * (dhp_big / sh))
