"""Lesion matching across visits: exact synthetic cases and property tests."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.alignment import CANONICAL_INTER_OCULAR, CANONICAL_LANDMARKS, estimate_alignment, transform_points
from core.change import MATCH_DISTANCE_IOD, LesionChange, compare_lesions
from core.types import Lesion

IOD = CANONICAL_INTER_OCULAR


def photo_of(angle_deg: float, scale: float, tx: float, ty: float):
    """(alignment, canonical -> photo map) of a photo showing the face rotated, scaled, shifted."""
    a = np.deg2rad(angle_deg)
    to_photo = (scale * np.cos(a), -scale * np.sin(a), tx, scale * np.sin(a), scale * np.cos(a), ty)
    alignment = estimate_alignment(transform_points(CANONICAL_LANDMARKS, to_photo))
    return alignment, to_photo


def lesions_at(canonical_points, to_photo, kind: str = "papule") -> list[Lesion]:
    """Lesions centred on canonical points, as seen in a photo. Lesion boxes are whole pixels,
    so the photo is drawn at 10x (see `tenfold`) to keep centres exact to a tenth of a pixel."""
    lesions = []
    for x, y in transform_points(canonical_points, to_photo):
        cx, cy = round(x * 10), round(y * 10)
        lesions.append(Lesion(bbox=(cx - 20, cy - 20, cx + 20, cy + 20), kind=kind, score=0.9, area_px=1200))
    return lesions


def tenfold(alignment):
    """Alignment for coordinates multiplied by 10 (see lesions_at)."""
    a, b, tx, c, d, ty = alignment
    return (a / 10, b / 10, tx, c / 10, d / 10, ty)


BEFORE_POINTS = np.array([(180.0, 290.0), (330.0, 300.0), (256.0, 110.0), (256.0, 410.0), (150.0, 250.0), (360.0, 240.0)])


def test_persisting_new_and_resolved_across_differently_framed_photos():
    before_alignment, before_map = photo_of(6, 1.5, 40, 10)
    after_alignment, after_map = photo_of(-12, 0.8, 200, 90)
    # After: lesions 0, 1, 2 and 4 still there (moved 4 canonical px), 3 and 5 gone, two new;
    # listed in another order.
    after_points = np.array([
        BEFORE_POINTS[2] + (4, 0),
        (300.0, 420.0),  # new
        BEFORE_POINTS[0] + (0, -4),
        BEFORE_POINTS[4] + (3, 3),
        (200.0, 150.0),  # new
        BEFORE_POINTS[1] + (-4, 0),
    ])
    change = compare_lesions(
        lesions_at(BEFORE_POINTS, before_map), tenfold(before_alignment),
        lesions_at(after_points, after_map), tenfold(after_alignment),
    )
    assert change.persisting == ((0, 2), (1, 5), (2, 0), (4, 3))
    assert change.new == (1, 4)
    assert change.resolved == (3, 5)
    np.testing.assert_allclose(change.distances, [4 / IOD, 4 / IOD, 4 / IOD, np.hypot(3, 3) / IOD], atol=0.01)
    assert change.to_dict()["new"] == [1, 4]


def test_matching_is_globally_optimal_not_greedy():
    # Greedy nearest matching could pair 0 with after-0 and strand 1; the optimum pairs both.
    alignment, to_photo = photo_of(0, 1.0, 0, 0)
    before = lesions_at([(100.0, 100.0), (112.0, 100.0)], to_photo)
    after = lesions_at([(106.0, 100.0), (94.0, 100.0)], to_photo)
    change = compare_lesions(before, tenfold(alignment), after, tenfold(alignment))
    assert change.persisting == ((0, 1), (1, 0)) and change.new == () and change.resolved == ()


def test_distance_threshold():
    alignment, to_photo = photo_of(10, 1.2, 30, 30)
    moved = 0.15 * IOD
    before = lesions_at([(200.0, 300.0)], to_photo)
    after = lesions_at([(200.0 + moved, 300.0)], to_photo)
    default = compare_lesions(before, tenfold(alignment), after, tenfold(alignment))
    assert MATCH_DISTANCE_IOD < 0.15
    assert default == LesionChange(persisting=(), new=(0,), resolved=(0,))
    wider = compare_lesions(before, tenfold(alignment), after, tenfold(alignment), max_distance=0.2)
    assert wider.persisting == ((0, 0),)


def test_empty_visits():
    alignment, to_photo = photo_of(0, 1.0, 0, 0)
    some = lesions_at(BEFORE_POINTS[:2], to_photo)
    assert compare_lesions([], alignment, some, alignment) == LesionChange((), (0, 1), ())
    assert compare_lesions(some, alignment, [], alignment) == LesionChange((), (), (0, 1))


def test_bad_inputs():
    alignment, to_photo = photo_of(0, 1.0, 0, 0)
    some = lesions_at(BEFORE_POINTS[:1], to_photo)
    with pytest.raises(ValueError, match="earlier photo has no face alignment"):
        compare_lesions(some, None, some, alignment)
    with pytest.raises(ValueError, match="later photo"):
        compare_lesions(some, alignment, some, None)
    with pytest.raises(ValueError, match="max_distance"):
        compare_lesions(some, alignment, some, alignment, max_distance=0.0)


points = st.lists(
    st.tuples(st.floats(100, 412), st.floats(80, 440)), min_size=0, max_size=25
)
framing = st.tuples(st.floats(-20, 20), st.floats(0.5, 3.0), st.floats(0, 400), st.floats(0, 400))


@settings(max_examples=60, deadline=None)
@given(before=points, after=points, before_frame=framing, after_frame=framing)
def test_matching_is_one_to_one_and_accounts_for_every_lesion(before, after, before_frame, after_frame):
    before_alignment, before_map = photo_of(*before_frame)
    after_alignment, after_map = photo_of(*after_frame)
    a = lesions_at(np.array(before).reshape(-1, 2), before_map)
    b = lesions_at(np.array(after).reshape(-1, 2), after_map)
    change = compare_lesions(a, tenfold(before_alignment), b, tenfold(after_alignment))
    before_used = [i for i, _ in change.persisting]
    after_used = [j for _, j in change.persisting]
    assert len(set(before_used)) == len(before_used) and len(set(after_used)) == len(after_used)
    assert len(change.new) + len(change.persisting) == len(b)
    assert len(change.resolved) + len(change.persisting) == len(a)
    assert set(change.new).isdisjoint(after_used) and set(change.resolved).isdisjoint(before_used)
    assert all(d <= MATCH_DISTANCE_IOD for d in change.distances)


@settings(max_examples=40, deadline=None)
@given(lesion_points=points, before_frame=framing, after_frame=framing)
def test_the_same_lesions_photographed_twice_all_persist(lesion_points, before_frame, after_frame):
    canonical = np.array(lesion_points).reshape(-1, 2)
    before_alignment, before_map = photo_of(*before_frame)
    after_alignment, after_map = photo_of(*after_frame)
    a = lesions_at(canonical, before_map)
    b = lesions_at(canonical, after_map)
    change = compare_lesions(a, tenfold(before_alignment), b, tenfold(after_alignment))
    assert len(change.persisting) == len(canonical)
    assert change.new == () and change.resolved == ()
    itself = compare_lesions(a, tenfold(before_alignment), a, tenfold(before_alignment))
    assert len(itself.persisting) == len(a) and itself.new == itself.resolved == ()
