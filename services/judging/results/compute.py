"""Pure, vectorised result computation (NumPy, no database, no I/O): scores in, ranked stage
scores, prize bands and medals out. Kept apart so it can be unit-tested and benchmarked.

Inputs are parallel arrays, one element per score: the entry, judge and aspect *indices* and
the value (a measured mark, or a judgement level 0-3). How the final mark is formed:

1. Standardisation (optional, per judge and aspect, over every entry the judge scored on it):
   `zscore`: z = (x - judge mean) / judge sd (population sd); `robust`: z = (x - judge median) /
   (1.4826 x judge MAD). z is 0 when the spread is 0. Each value becomes 700 + 100 z.
2. Aggregation per entry and aspect over its judges: `mean`; `trimmed_mean` (the highest and the
   lowest value dropped when at least 5 judges scored it, else the mean); `median`.
3. Without standardisation: aspect mark = aggregated level / 3 x max mark for judgement aspects,
   the aggregated mark for measurement aspects; component score = sum of its aspects' marks /
   sum of their max marks x 100. With standardisation the aggregated value is already on the
   700 scale: component score = mean of its aspects' values weighted by their max marks.
4. Stage score = sum over components of component score x weight / 100 (0-100 without
   standardisation, centred on 700 with it). Scores are rounded to 3 decimals before ranking.
5. Ranking: higher stage score first, then each tie-break in order (`component:<name>`: higher
   first; `completion_time`: lower first, missing last); entries still equal share the rank
   (1, 2, 2, 4).
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

SCALE_CENTRE = 700.0
SCALE_SD = 100.0
MAD_TO_SD = 1.4826
TRIM_MIN_JUDGES = 5
JUDGEMENT_MAX_LEVEL = 3.0
DECIMALS = 3

PRIZES = ("first", "second", "third", "merit")
MEDALS = ("gold", "silver", "bronze")


class Rule(enum.StrEnum):
    mean = "mean"
    trimmed_mean = "trimmed_mean"
    median = "median"


class Scale(enum.StrEnum):
    none = "none"
    zscore = "zscore"
    robust = "robust"


@dataclass(frozen=True)
class AspectSpec:
    """The aspects of the scheme, by index: max mark, judgement or not, component index."""

    max_mark: Floats
    judgement: npt.NDArray[np.bool_]
    component: Ints


@dataclass(frozen=True)
class Rules:
    aggregation: Rule = Rule.mean
    standardisation: Scale = Scale.none
    #: component names in the order of `weights`
    components: tuple[str, ...] = ("theory", "practical")
    weights: tuple[float, ...] = (30.0, 70.0)
    tie_breaks: tuple[str, ...] = ()
    prize_bands: dict[str, Any] | None = None
    medals: dict[str, Any] | None = None


@dataclass
class Computed:
    score: Floats  # (E,)
    component_scores: Floats  # (E, C)
    rank: Ints  # (E,) 1-based, shared on ties
    order: Ints  # entry indices in ranked order
    prize: list[str | None] = field(default_factory=list)
    medal: list[str | None] = field(default_factory=list)


# -- step 1: standardisation ----------------------------------------------------------------


def _sorted_groups(keys: Ints, values: Floats, groups: int) -> tuple[Floats, Ints]:
    """Each group's values in ascending order as a row of a (groups, largest group) matrix
    padded with NaN (which sorts last), and the group sizes. A stable radix argsort on the
    integer keys, then a sort of short rows: much faster than a lexsort of (key, value)."""
    counts = np.bincount(keys, minlength=groups)
    width = int(counts.max()) if len(counts) else 0
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.cumsum(counts) - counts
    slot = np.arange(len(keys)) - starts[sorted_keys]
    matrix = np.full((groups, max(width, 1)), np.nan)
    matrix[sorted_keys, slot] = values[order]
    matrix.sort(axis=1)
    return matrix, counts


def _row_median(matrix: Floats, counts: Ints) -> Floats:
    """Median of each row's first `count` values (0 for an empty row)."""
    rows = np.arange(len(counts))
    lo = np.maximum((counts - 1) // 2, 0)
    hi = np.maximum(counts // 2, 0)
    hi = np.minimum(hi, matrix.shape[1] - 1)
    med = (matrix[rows, lo] + matrix[rows, hi]) / 2.0
    return np.where(counts > 0, med, 0.0)


def standardise(judge: Ints, aspect: Ints, value: Floats, n_aspects: int, scale: Scale) -> Floats:
    """Each value as 700 + 100 z, z taken within the judge's values for the aspect."""
    if scale is Scale.none:
        return value
    key = judge.astype(np.int64) * n_aspects + aspect
    if scale is Scale.zscore:
        counts = np.bincount(key).astype(np.float64)
        safe = np.maximum(counts, 1.0)
        mean = np.bincount(key, weights=value) / safe
        var = np.bincount(key, weights=value * value) / safe - mean * mean
        centre = mean[key]
        spread = np.sqrt(np.maximum(var, 0.0))[key]
    else:
        groups = int(key.max()) + 1 if len(key) else 0
        matrix, sizes = _sorted_groups(key, value, groups)
        med = _row_median(matrix, sizes)
        dev = np.abs(value - med[key])
        matrix, sizes = _sorted_groups(key, dev, groups)
        mad = _row_median(matrix, sizes)
        centre = med[key]
        spread = (MAD_TO_SD * mad)[key]
    # A judge who gave everyone the same value expresses no preference: z = 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(spread > 1e-12, (value - centre) / spread, 0.0)
    out: Floats = SCALE_CENTRE + SCALE_SD * z
    return out


# -- step 2: aggregation over judges ---------------------------------------------------------


def aggregate(
    entry: Ints, aspect: Ints, value: Floats, n_entries: int, n_aspects: int, rule: Rule
) -> Floats:
    """(E, A) aggregated value per entry and aspect (0 where nobody scored it)."""
    groups = n_entries * n_aspects
    key = entry.astype(np.int64) * n_aspects + aspect
    counts = np.bincount(key, minlength=groups)
    sums = np.bincount(key, weights=value, minlength=groups)
    safe = np.maximum(counts, 1)
    if rule is Rule.mean:
        out = sums / safe
    else:
        matrix, _ = _sorted_groups(key, value, groups)
        if rule is Rule.median:
            out = _row_median(matrix, counts)
        else:
            out = sums / safe
            trim = np.flatnonzero(counts >= TRIM_MIN_JUDGES)
            lowest = matrix[trim, 0]
            highest = matrix[trim, counts[trim] - 1]
            out[trim] = (sums[trim] - lowest - highest) / (counts[trim] - 2)
        out = np.where(counts > 0, out, 0.0)
    result: Floats = out.reshape(n_entries, n_aspects)
    return result


# -- steps 3 and 4: component and stage scores -----------------------------------------------


def stage_scores(agg: Floats, aspects: AspectSpec, rules: Rules) -> tuple[Floats, Floats]:
    """(stage score (E,), component scores (E, C)), both rounded to 3 decimals."""
    n_components = len(rules.components)
    if rules.standardisation is Scale.none:
        marks = np.where(aspects.judgement, agg / JUDGEMENT_MAX_LEVEL * aspects.max_mark, agg)
    else:
        marks = agg * aspects.max_mark  # weighted by max mark, divided by their sum below
    onehot = np.zeros((len(aspects.max_mark), n_components))
    onehot[np.arange(len(aspects.max_mark)), aspects.component] = 1.0
    per_component_max = aspects.max_mark @ onehot
    totals = marks @ onehot
    scale = 100.0 if rules.standardisation is Scale.none else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        components = np.where(per_component_max > 0, totals / per_component_max * scale, 0.0)
    weights = np.asarray(rules.weights, dtype=np.float64) / 100.0
    score: Floats = np.round(components @ weights, DECIMALS)
    rounded: Floats = np.round(components, DECIMALS).astype(np.float64)
    return score, rounded


# -- step 5: ranking, prize bands, medals ----------------------------------------------------


def rank(score: Floats, components: Floats, completion: Floats, rules: Rules) -> tuple[Ints, Ints]:
    """(rank per entry, entry indices in ranked order)."""
    keys: list[Floats] = [-score]
    for tb in rules.tie_breaks:
        if tb == "completion_time":
            keys.append(np.where(np.isnan(completion), np.inf, completion))
        else:
            name = tb.removeprefix("component:")
            keys.append(-components[:, rules.components.index(name)])
    n = len(score)
    # lexsort: the last key is primary; the entry index makes the listing deterministic.
    order = np.lexsort([np.arange(n), *reversed(keys)])
    stacked = np.stack([k[order] for k in keys])
    same = np.zeros(n, dtype=bool)
    if n > 1:
        same[1:] = np.all(stacked[:, 1:] == stacked[:, :-1], axis=0)
    positions = np.arange(1, n + 1)
    # Each entry takes the position of the first entry of its run of equals.
    first = np.maximum.accumulate(np.where(same, 0, positions))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = first
    return ranks, order.astype(np.int64)


def _band_size(spec: dict[str, Any], name: str, n: int) -> int:
    amount = float(spec.get(name) or 0)
    if spec.get("basis", "count") == "percent":
        return min(n, math.ceil(amount * n / 100.0 - 1e-9))
    return min(n, int(amount))


def prize_bands(ranks: Ints, spec: dict[str, Any] | None) -> list[str | None]:
    """first/second/third/merit: the bands fill rank positions in order (by count, or by percent
    of the entries rounded up); an entry whose shared rank falls inside a band's last position
    takes that band, so ties at a boundary all get the better prize."""
    n = len(ranks)
    out: list[str | None] = [None] * n
    if not spec:
        return out
    cutoffs: list[tuple[str, int]] = []
    total = 0
    for name in PRIZES:
        size = _band_size(spec, name, n)
        if size > 0:
            total = min(n, total + size)
            cutoffs.append((name, total))
    labels = np.full(n, None, dtype=object)
    for name, cut in reversed(cutoffs):
        labels[ranks <= cut] = name
    return list(labels)


def medals(score: Floats, order: Ints, spec: dict[str, Any] | None) -> list[str | None]:
    """gold/silver/bronze: each medal's cut-off is the score at its last position (counts or
    percent rounded up, cumulative); every entry within `tie_band` points below a cut-off (or
    above it) gets that medal, the best one it qualifies for."""
    n = len(score)
    out: list[str | None] = [None] * n
    if not spec or n == 0:
        return out
    band = float(spec.get("tie_band") or 0.0)
    ranked = score[order]
    labels = np.full(n, None, dtype=object)
    position = 0
    cuts: list[tuple[str, float]] = []
    for name in MEDALS:
        size = _band_size(spec, name, n)
        if size <= 0:
            continue
        position = min(n, position + size)
        cuts.append((name, float(ranked[position - 1])))
    for name, cut in reversed(cuts):
        labels[score >= cut - band - 1e-9] = name
    return list(labels)


def compute(
    entry: Ints,
    judge: Ints,
    aspect: Ints,
    value: Floats,
    *,
    n_entries: int,
    aspects: AspectSpec,
    completion: Floats | None = None,
    rules: Rules,
) -> Computed:
    n_aspects = len(aspects.max_mark)
    values = standardise(judge, aspect, value, n_aspects, rules.standardisation)
    agg = aggregate(entry, aspect, values, n_entries, n_aspects, rules.aggregation)
    score, components = stage_scores(agg, aspects, rules)
    times = completion if completion is not None else np.full(n_entries, np.nan)
    ranks, order = rank(score, components, times, rules)
    return Computed(
        score=score,
        component_scores=components,
        rank=ranks,
        order=order,
        prize=prize_bands(ranks, rules.prize_bands),
        medal=medals(score, order, rules.medals),
    )


# -- reproducibility -------------------------------------------------------------------------

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x & _MASK


def scores_fingerprint(
    entry_hi: npt.NDArray[np.uint64],
    entry_lo: npt.NDArray[np.uint64],
    judge_key: npt.NDArray[np.uint64],
    aspect_key: npt.NDArray[np.uint64],
    centi_value: npt.NDArray[np.int64],
) -> str:
    """An order-independent fingerprint of the score multiset (each row hashed, the hashes
    summed and xored modulo 2^64): the same scores give the same fingerprint however the
    database returns them."""
    with np.errstate(over="ignore"):
        h = _mix(entry_hi ^ _mix(entry_lo ^ _mix(judge_key ^ _mix(aspect_key))))
        h = _mix(h ^ centi_value.astype(np.uint64))
        total = int(np.sum(h, dtype=np.uint64))
        xor = int(np.bitwise_xor.reduce(h)) if len(h) else 0
    return f"{len(h)}:{total:016x}:{xor:016x}"


def digest(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of everything that formed a result."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
