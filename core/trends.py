"""Change over visits and study-arm summaries, in the terms acne trials report.

Trials report absolute and percent change from baseline in inflammatory and in
non-inflammatory lesion counts, IGA success, and responder rates per study arm (CLINICAL.md).
Missing values are `None` throughout and never turned into zeros.
"""
from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass


IGA_MAX = 4
RESPONDER_THRESHOLD = -50.0  # percent change in inflammatory lesions


def _baseline(values: Sequence[float | None], baseline_index: int) -> float | None:
    if not -len(values) <= baseline_index < len(values):
        raise ValueError(f"baseline_index {baseline_index} is outside the {len(values)} values")
    return values[baseline_index]


def change_from_baseline(
    values: Sequence[float | None], baseline_index: int = 0
) -> list[float | None]:
    """Absolute change of each value from the baseline value (None where either is missing)."""
    baseline = _baseline(values, baseline_index)
    return [
        None if value is None or baseline is None else float(value) - float(baseline)
        for value in values
    ]


def percent_change(values: Sequence[float | None], baseline_index: int = 0) -> list[float | None]:
    """Percent change from baseline; None where a value is missing or the baseline is 0.

    A baseline of 0 has no percent change (any new lesion would be "infinitely" worse).
    """
    baseline = _baseline(values, baseline_index)
    if baseline is None or baseline == 0:
        return [None] * len(values)
    return [
        None if value is None else 100.0 * (float(value) - float(baseline)) / float(baseline)
        for value in values
    ]


def smooth(values: Sequence[float | None], window: int = 3) -> list[float | None]:
    """Centred rolling median over `window` visits, ignoring missing values.

    The window shrinks at the ends. A missing visit stays missing (nothing is invented);
    a median resists one noisy count better than a mean does.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of visits, got {window!r}")
    half = window // 2
    smoothed: list[float | None] = []
    for index, value in enumerate(values):
        if value is None:
            smoothed.append(None)
            continue
        around = values[max(0, index - half) : index + half + 1]
        smoothed.append(float(statistics.median(v for v in around if v is not None)))
    return smoothed


def count_noise_threshold(before: int) -> float:
    """Smallest count change treated as real: max(2 lesions, 20% of the earlier count).

    Why: lesion counting agrees only 0.81-0.97 within one rater and reaches an inter-rater
    ICC of 0.98 on photos (CLINICAL.md), so counts of a few lesions wobble by one or two,
    and larger counts by a fraction of themselves. Below this threshold a change is noise.
    """
    if before < 0:
        raise ValueError(f"a lesion count cannot be negative, got {before}")
    return max(2.0, 0.2 * before)


def is_meaningful_count_change(before: int, after: int) -> bool:
    """True when |after - before| is at least `count_noise_threshold(before)`."""
    if after < 0:
        raise ValueError(f"a lesion count cannot be negative, got {after}")
    return abs(after - before) >= count_noise_threshold(before)


def _is_whole(value: object) -> bool:
    if type(value) is int:  # the common case first: the ABC checks below cost a study seconds
        return True
    # numpy and pandas hand over np.int64 or 3.0 (a column with gaps); both are whole numbers.
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and int(value) == value
    )


def _check_iga(value: int, name: str) -> int:
    if type(value) is int and 0 <= value <= IGA_MAX:
        return value
    if not _is_whole(value) or not 0 <= value <= IGA_MAX:
        raise ValueError(f"{name} must be an IGA grade 0-{IGA_MAX}, got {value!r}")
    return int(value)


def iga_success(baseline_iga: int, iga: int) -> bool:
    """FDA 2018 IGA success: IGA 0 or 1 AND at least 2 grades better than baseline."""
    baseline_iga = _check_iga(baseline_iga, "baseline_iga")
    iga = _check_iga(iga, "iga")
    return iga <= 1 and baseline_iga - iga >= 2


def is_responder(percent_change: float | None, threshold: float = RESPONDER_THRESHOLD) -> bool:
    """True when the percent change is at or below `threshold` (default: a 50% reduction).

    A missing percent change (no baseline, or a baseline of 0) is not a response.
    """
    return percent_change is not None and percent_change <= threshold


def week_of(days_from_baseline: float) -> int:
    """Study week of a visit, rounded half up (day 3.5 is week 1, day 10 is week 1)."""
    if not math.isfinite(days_from_baseline):
        raise ValueError(f"days_from_baseline must be a finite number, got {days_from_baseline}")
    return math.floor(days_from_baseline / 7.0 + 0.5)


@dataclass(frozen=True)
class MeanCI:
    """Mean of n values with a two-sided 95% t-interval (None when n < 2)."""

    n: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class ArmWeekSummary:
    """One study arm at one week: the trial co-primary endpoints and the responder rate.

    `responder_rate` is over subjects with an inflammatory percent change; `iga_success_rate`
    over subjects with both a baseline and a current IGA.
    """

    arm: str
    week: int
    n: int
    inflammatory: MeanCI
    non_inflammatory: MeanCI
    responder_rate: float | None
    n_responder_evaluable: int
    iga_success_rate: float | None
    n_iga: int
    # Subjects whose inflammatory count changed by more than a retaken photo changes
    # (core.retake_noise), of `n_retake_evaluable` judged; None without a retake table.
    n_beyond_retake_noise: int | None = None
    n_retake_evaluable: int = 0

    def to_dict(self) -> dict[str, object]:
        """Flat dict, one column per number (for tables)."""
        flat: dict[str, object] = {"arm": self.arm, "week": self.week, "n": self.n}
        for name in ("inflammatory", "non_inflammatory"):
            for key, value in asdict(getattr(self, name)).items():
                flat[f"{name}_{key}"] = value
        flat.update(
            responder_rate=self.responder_rate,
            n_responder_evaluable=self.n_responder_evaluable,
            iga_success_rate=self.iga_success_rate,
            n_iga=self.n_iga,
            n_beyond_retake_noise=self.n_beyond_retake_noise,
            n_retake_evaluable=self.n_retake_evaluable,
        )
        return flat


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> MeanCI:
    """Mean with a t-distribution confidence interval (mean +- t * sd / sqrt(n))."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    data = [float(v) for v in values]
    n = len(data)
    if n == 0:
        return MeanCI(0, None, None, None)
    mean = statistics.fmean(data)
    if n == 1:
        return MeanCI(1, mean, None, None)
    from scipy import stats  # imported here: a second of start-up the trends page never needs

    t_quantile = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1))
    # The sample standard deviation by fsum: statistics.stdev's exact fractions cost a
    # trial-size study a tenth of a second for no difference a reader could see.
    sd = math.sqrt(math.fsum((value - mean) ** 2 for value in data) / (n - 1))
    half_width = t_quantile * sd / math.sqrt(n)
    return MeanCI(n, mean, mean - half_width, mean + half_width)


_REQUIRED_FIELDS = ("arm", "subject", "week")
_OPTIONAL_FIELDS = (
    "inflammatory_percent_change",
    "non_inflammatory_percent_change",
    "iga",
    "baseline_iga",
    "inflammatory_beyond_retake_noise",
)
_FIELDS = _REQUIRED_FIELDS + _OPTIONAL_FIELDS


def _row_values(row: object) -> dict[str, object]:
    """Read a trial row given as a dict or as an object with attributes."""
    if type(row) is dict or isinstance(row, Mapping):  # dicts first: 50,000 in a large study
        values = {name: row.get(name) for name in _FIELDS}
    else:
        values = {name: getattr(row, name, None) for name in _FIELDS}
    for name in _REQUIRED_FIELDS:
        if values[name] is None:
            raise ValueError(f"trial row {row!r} has no {name!r}")
    week = values["week"]
    if type(week) is not int:
        if not _is_whole(week):
            raise ValueError(f"trial row week must be a whole number of weeks, got {week!r}")
        values["week"] = int(week)  # type: ignore[call-overload]
    for name in _OPTIONAL_FIELDS:
        value = values[name]
        # A gap in a pandas column arrives as NaN: it is a missing value, not a number.
        if isinstance(value, float) and math.isnan(value):
            values[name] = None
    return values


def arm_summary(rows: Iterable[Mapping[str, object] | object]) -> list[ArmWeekSummary]:
    """Summarise subjects' visits per study arm and week, sorted by arm then week.

    Each row (a dict or an object with attributes) has `arm`, `subject`, `week`,
    `inflammatory_percent_change`, `non_inflammatory_percent_change`, `iga`, `baseline_iga`;
    the last four may be None. An optional `inflammatory_beyond_retake_noise` (True, False or
    None) counts the subjects whose change is larger than a retaken photo makes. A subject counts once per arm and week: when two rows share
    them (two visits rounded to the same week), the later row in the input wins, so pass
    visits in date order.
    """
    latest: dict[tuple[str, int], dict[object, dict[str, object]]] = {}
    for row in rows:
        values = _row_values(row)
        key = (str(values["arm"]), int(values["week"]))  # type: ignore[call-overload]
        latest.setdefault(key, {})[values["subject"]] = values

    summaries = []
    for (arm, week), by_subject in sorted(latest.items()):
        subjects = list(by_subject.values())
        inflammatory = [
            float(s["inflammatory_percent_change"])  # type: ignore[arg-type]
            for s in subjects
            if s["inflammatory_percent_change"] is not None
        ]
        non_inflammatory = [
            float(s["non_inflammatory_percent_change"])  # type: ignore[arg-type]
            for s in subjects
            if s["non_inflammatory_percent_change"] is not None
        ]
        iga_pairs = [
            (s["baseline_iga"], s["iga"])
            for s in subjects
            if s["iga"] is not None and s["baseline_iga"] is not None
        ]
        judged = [bool(s["inflammatory_beyond_retake_noise"]) for s in subjects
                  if s["inflammatory_beyond_retake_noise"] is not None]
        responders = sum(is_responder(value) for value in inflammatory)
        successes = sum(iga_success(b, i) for b, i in iga_pairs)  # type: ignore[arg-type]
        summaries.append(
            ArmWeekSummary(
                arm=arm,
                week=week,
                n=len(subjects),
                inflammatory=mean_ci(inflammatory),
                non_inflammatory=mean_ci(non_inflammatory),
                responder_rate=responders / len(inflammatory) if inflammatory else None,
                n_responder_evaluable=len(inflammatory),
                iga_success_rate=successes / len(iga_pairs) if iga_pairs else None,
                n_iga=len(iga_pairs),
                n_beyond_retake_noise=sum(judged) if judged else None,
                n_retake_evaluable=len(judged),
            )
        )
    return summaries


# The lesion groups whose change a retaken photo is measured against (core.retake_noise), and
# their nouns.
RETAKE_COUNT_NOUNS: dict[str, str] = {
    "inflammatory": "inflammatory lesion",
    "non_inflammatory": "non-inflammatory lesion",
    "total": "lesion",
}


def retake_change_sentence(measure: str, before: int, after: int, noise: object) -> str:
    """'12 fewer inflammatory lesions: more than a retaken photo changes (±4)'.

    `noise` is a core.retake_noise.RetakeNoise; the band is the change two photos at these
    counts must exceed (`change_threshold`), rounded to whole lesions for reading.
    """
    if measure not in RETAKE_COUNT_NOUNS:
        raise ValueError(f"measure must be one of {sorted(RETAKE_COUNT_NOUNS)}, got {measure!r}")
    if before < 0 or after < 0:
        raise ValueError(f"lesion counts cannot be negative, got {before} and {after}")
    noun = RETAKE_COUNT_NOUNS[measure]
    threshold = noise.change_threshold(measure, before, after)  # type: ignore[attr-defined]
    beyond = noise.beyond_noise(measure, before, after)  # type: ignore[attr-defined]
    delta = after - before
    if delta == 0:
        change = f"No change in {noun}s"
    else:
        count = abs(delta)
        change = f"{count} {'more' if delta > 0 else 'fewer'} {noun if count == 1 else noun + 's'}"
    verdict = "more than" if beyond else "within what"
    band = f"{threshold:.0f}" if threshold >= 1 else f"{threshold:.1f}"
    return f"{change}: {verdict} a retaken photo changes (±{band})"


def count_beyond_retake_noise(measure: str, before: float | None, after: float | None,
                              noise: object) -> bool | None:
    """Whether a change is larger than a retaken photo makes; None without a table or a value."""
    if noise is None or before is None or after is None:
        return None
    return bool(noise.beyond_noise(measure, before, after))  # type: ignore[attr-defined]
