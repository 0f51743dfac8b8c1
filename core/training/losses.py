"""Losses of the three segmenter heads."""
from __future__ import annotations

import torch
import torch.nn.functional as F

# Inverse-square-root frequency weights of the kinds in the ACNE04 train boxes
# (comedone 2015, papule 9604, pustule 11129, nodule 17102), normalised to mean 1.
KIND_WEIGHTS = torch.tensor([2.15, 0.99, 0.92, 0.74])


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum()
    return 1 - (2 * inter + 1) / (prob.sum() + target.sum() + 1)


def centre_focal_loss(logits: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the Gaussian centre heatmap."""
    prob = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = heat >= 0.9
    pos_loss = -((1 - prob) ** 2 * torch.log(prob))[pos].sum()
    neg_loss = -((1 - heat) ** 4 * prob**2 * torch.log(1 - prob))[~pos].sum()
    return (pos_loss + neg_loss) / pos.sum().clamp(min=1)


def segmenter_loss(out: torch.Tensor, kind_map: torch.Tensor, heat: torch.Tensor) -> dict[str, torch.Tensor]:
    """Lesion BCE + Dice, centre focal loss, kind cross-entropy inside lesions.

    `kind_map`: 0 skin, 1..K the lesion's type, above K (data.UNTYPED) a lesion of unknown type.
    Untyped pixels count as lesion for the lesion and centre losses, and contribute nothing to
    the type loss (neither to its sum nor to its mean's denominator)."""
    lesion_target = (kind_map > 0).float()
    lesion = F.binary_cross_entropy_with_logits(out[:, 0], lesion_target) + dice_loss(out[:, 0], lesion_target)
    centre = centre_focal_loss(out[:, 1], heat)
    inside = (kind_map > 0) & (kind_map <= len(KIND_WEIGHTS))  # typed lesion pixels only
    if inside.any():
        logits = out[:, 2:].permute(0, 2, 3, 1)[inside]
        kind = F.cross_entropy(logits, kind_map[inside] - 1, weight=KIND_WEIGHTS.to(out.device))
    else:
        kind = out.sum() * 0.0
    total = lesion + centre + 0.5 * kind
    return {"loss": total, "lesion": lesion, "centre": centre, "kind": kind}
