"""The retake-noise table: bands that grow with the count, changes judged against retake noise,
and a table the manifest does not vouch for refused."""
import json
import math

import pytest

from core.errors import WeightsError
from core.manifest import DEFAULT_WEIGHTS_DIR, sha256_of
from core.retake_noise import MEASURES, TABLE_FILE, load_retake_noise

SDS = {"total": [(2.0, 1.0), (7.0, 2.0), (15.0, 3.0), (30.0, 5.0), (55.0, 8.0)],
       "inflammatory": [(1.0, 0.5), (12.0, 2.0), (40.0, 4.0)],
       "non_inflammatory": [(1.0, 0.5), (8.0, 1.5)],
       "lesion_area": [(0.002, 0.0005), (0.02, 0.003)],
       "grade": [(0.0, 0.2), (1.0, 0.4), (2.0, 0.4), (3.0, 0.3)]}


def write_table(folder, sds=SDS, listed=True):
    table = {"format": 1, "simulated": True, "source": "Simulated retakes of 3 photos.",
             "measures": {m: {"icc": 0.9, "bins": [{"level": lv, "sd": sd} for lv, sd in rows]}
                          for m, rows in sds.items()}}
    (folder / TABLE_FILE).write_text(json.dumps(table))
    manifest = {"format": 1, "models": {}}
    if listed:
        manifest["tables"] = {"retake_noise": {"file": TABLE_FILE, "version": "r1",
                                               "sha256": sha256_of(folder / TABLE_FILE)}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_band_grows_with_the_count_and_is_1_96_sd(tmp_path):
    noise = load_retake_noise(write_table(tmp_path))
    assert noise.simulated and noise.source == "Simulated retakes of 3 photos." and noise.version == "r1"
    bands = [noise.band("total", n) for n in (0, 2, 5, 7, 12, 15, 30, 55, 200)]
    assert bands == sorted(bands) and bands[-1] > bands[0]
    assert noise.band("total", 7) == pytest.approx(1.96 * 2.0)
    assert noise.band("total", 11) == pytest.approx(1.96 * 2.5)  # halfway between 7 and 15
    assert noise.band("total", 0) == noise.band("total", 2)  # flat beyond the ends
    assert noise.mdc95("total", 30) == pytest.approx(1.96 * math.sqrt(2) * 5.0)
    assert noise.mdc95("total", 30) == pytest.approx(math.sqrt(2) * noise.band("total", 30))
    assert noise.band("lesion_area", 0.02) == pytest.approx(1.96 * 0.003)


def test_beyond_noise_compares_the_change_with_both_photos_noise(tmp_path):
    noise = load_retake_noise(write_table(tmp_path))
    # 30 lesions (SD 5) against 20 (SD 3.67): a change must exceed 1.96 * sqrt(5^2 + 3.67^2) = 12.2.
    assert noise.change_threshold("total", 30, 20) == pytest.approx(12.15, abs=0.01)
    assert not noise.beyond_noise("total", 30, 30)
    assert not noise.beyond_noise("total", 30, 20) and not noise.beyond_noise("total", 20, 30)
    assert noise.beyond_noise("total", 30, 16) and noise.beyond_noise("total", 16, 30)
    # Both at one level, the threshold is MDC95.
    assert noise.change_threshold("total", 30, 30) == pytest.approx(noise.mdc95("total", 30))
    # The same change is real among few lesions, noise among many.
    assert noise.beyond_noise("total", 2, 8)
    assert not noise.beyond_noise("total", 55, 49)
    assert noise.change_threshold("total", 7, 15) == pytest.approx(1.96 * math.hypot(2.0, 3.0))
    assert noise.beyond_noise("grade", 1, 3) and not noise.beyond_noise("grade", 1, 1)


def test_unknown_measure_and_bad_value_are_named(tmp_path):
    noise = load_retake_noise(write_table(tmp_path))
    with pytest.raises(ValueError, match="papules.*total, inflammatory, non_inflammatory, "
                                         "lesion_area, grade"):
        noise.band("papules", 3)
    with pytest.raises(ValueError, match="nan"):
        noise.mdc95("total", float("nan"))
    with pytest.raises(ValueError, match="-1"):
        noise.beyond_noise("total", -1, 3)


def test_no_table_listed_means_none(tmp_path):
    assert load_retake_noise(tmp_path) is None  # no manifest at all
    assert load_retake_noise(write_table(tmp_path, listed=False)) is None


def test_changed_missing_or_incomplete_table_is_refused(tmp_path):
    folder = write_table(tmp_path)
    path = folder / TABLE_FILE
    path.write_text(path.read_text().replace('"sd": 8.0', '"sd": 0.8'))
    with pytest.raises(WeightsError, match="retake_noise.json is changed"):
        load_retake_noise(folder)
    path.unlink()
    with pytest.raises(WeightsError, match="retake_noise.json"):
        load_retake_noise(folder)
    write_table(folder, sds={m: v for m, v in SDS.items() if m != "grade"})
    with pytest.raises(WeightsError, match="lacks grade"):
        load_retake_noise(folder)
    write_table(folder, sds={**SDS, "total": [(5.0, 1.0), (2.0, 2.0)]})
    with pytest.raises(WeightsError, match="increasing levels"):
        load_retake_noise(folder)


def test_shipped_table_is_listed_and_noise_grows_with_the_count():
    noise = load_retake_noise(DEFAULT_WEIGHTS_DIR)
    if noise is None:
        pytest.skip("the shipped weights list no retake table")
    assert noise.simulated and "simulat" in noise.source.lower()
    assert 0.0 < noise.same_grade_share <= 1.0
    for measure in MEASURES:
        assert noise.band(measure, 0) >= 0
    for measure in ("total", "inflammatory", "non_inflammatory"):
        bands = [noise.band(measure, n) for n in (0, 5, 10, 20, 40, 80)]
        assert bands == sorted(bands)
        if measure != "non_inflammatory":  # the shipped model finds few comedones: one level
            assert bands[-1] > 2 * bands[0]


def test_shipped_table_was_made_with_the_shipped_models():
    """New weights need a new table: `python -m core.training.retakes ... --install weights`."""
    noise = load_retake_noise(DEFAULT_WEIGHTS_DIR)
    if noise is None:
        pytest.skip("the shipped weights list no retake table")
    from core.pipeline import load_analyzer

    assert noise.model_version == load_analyzer(DEFAULT_WEIGHTS_DIR, threads=1).model_version
