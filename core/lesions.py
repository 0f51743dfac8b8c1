"""Model maps -> individual lesions: centre peaks split touching lesions, watershed gives areas."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from core.segmentation import LesionMaps, SegmenterConfig
from core.types import INFLAMMATORY_KINDS, LESION_KINDS, UNCERTAIN_TYPE_MASK_VALUE, Lesion

# A mask blob with no centre peak is still counted when it is at least this big (working pixels);
# smaller blobs are noise.
MIN_UNPEAKED_AREA_PX = 40


def find_peaks(centre: np.ndarray, threshold: float, min_distance: int) -> np.ndarray:
    """(N, 2) array of (row, col) local maxima of the centre heatmap above `threshold`."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"peak threshold {threshold} must lie between 0 and 1")
    size = 2 * max(int(min_distance), 1) + 1
    local_max = ndimage.maximum_filter(centre, size=size, mode="constant") == centre
    peaks = np.argwhere(local_max & (centre >= threshold))
    return peaks


def peak_heights(centre: np.ndarray, floor: float, min_distance: int) -> tuple[float, ...]:
    """Heights of the centre heatmap's local maxima at or above `floor`, highest first."""
    peaks = find_peaks(centre, floor, min_distance)
    return tuple(sorted((float(centre[r, c]) for r, c in peaks), reverse=True))


def extract_lesions(
    maps: LesionMaps,
    *,
    lesion_threshold: float,
    peak_threshold: float,
    min_peak_distance: int,
) -> tuple[list[Lesion], np.ndarray]:
    """Lesions at the working resolution and the label image (0 = none, i = lesion i-1)."""
    from skimage.segmentation import watershed

    lesion_mask = maps.lesion >= lesion_threshold
    peaks = find_peaks(maps.centre, peak_threshold, min_peak_distance)
    markers = np.zeros(maps.lesion.shape, np.int32)
    for i, (r, c) in enumerate(peaks, start=1):
        markers[r, c] = i
    # A peak's lesion may be faint in the mask: let its heatmap bump count as lesion area too.
    area_mask = lesion_mask | (maps.centre >= peak_threshold * 0.5)
    labels = watershed(-maps.centre, markers, mask=area_mask) if len(peaks) else np.zeros_like(markers)
    # Blobs of the lesion mask that no peak reached become lesions of their own.
    orphan, n_orphan = ndimage.label(lesion_mask & (labels == 0))
    next_label = len(peaks) + 1
    if n_orphan:
        sizes = ndimage.sum_labels(np.ones_like(orphan), orphan, index=np.arange(1, n_orphan + 1))
        for j, size in enumerate(sizes, start=1):
            if size >= MIN_UNPEAKED_AREA_PX:
                labels[orphan == j] = next_label
                next_label += 1
    lesions: list[Lesion] = []
    final = np.zeros_like(labels)
    objects = ndimage.find_objects(labels)
    for label_id, slc in enumerate(objects, start=1):
        if slc is None:
            continue
        region = labels[slc] == label_id
        area = int(region.sum())
        if area == 0:
            continue
        kind_scores = maps.kind[:, slc[0], slc[1]][:, region].mean(axis=1)
        if label_id <= len(peaks):
            r, c = peaks[label_id - 1]
            score = float(maps.centre[r, c])
        else:
            score = float(maps.lesion[slc][region].mean()) * 0.5
        bbox = (slc[1].start, slc[0].start, slc[1].stop, slc[0].stop)
        best = int(np.argmax(kind_scores))
        lesions.append(Lesion(bbox=bbox, kind=LESION_KINDS[best], score=score, area_px=area,
                              type_confidence=float(kind_scores[best])))
        final[slc][region] = len(lesions)
    return lesions, final


def lesions_from_maps(maps: LesionMaps, config: SegmenterConfig) -> tuple[list[Lesion], np.ndarray]:
    """`extract_lesions` with the thresholds the segmenter was shipped with; inflammatory
    lesions whose type confidence is below the shipped threshold get `type_uncertain`."""
    lesions, labels = extract_lesions(maps, lesion_threshold=config.lesion_threshold,
                                      peak_threshold=config.peak_threshold,
                                      min_peak_distance=config.min_peak_distance_px)
    return [mark_type_uncertainty(lesion, config.type_confidence_threshold) for lesion in lesions], labels


def mark_type_uncertainty(lesion: Lesion, threshold: float) -> Lesion:
    """The lesion with `type_uncertain` set when it is inflammatory and its type confidence
    lies below `threshold`."""
    uncertain = lesion.kind in INFLAMMATORY_KINDS and lesion.type_confidence < threshold
    return replace(lesion, type_uncertain=uncertain)


def kind_mask_from_labels(labels: np.ndarray, lesions: list[Lesion]) -> np.ndarray:
    """Lesion label image -> kind map (0 none, 1..4 = LESION_KINDS index + 1, 5 = inflammatory,
    type uncertain)."""
    lut = np.zeros(len(lesions) + 1, np.uint8)
    for i, lesion in enumerate(lesions, start=1):
        lut[i] = UNCERTAIN_TYPE_MASK_VALUE if lesion.type_uncertain else LESION_KINDS.index(lesion.kind) + 1
    return lut[labels]
