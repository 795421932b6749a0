"""Out-of-sample metrics of predicted vs realised trade returns, in plain numpy.

What an honest intraday result looks like (see docs/FEATURES.md): a daily Spearman IC around
0.00–0.03 with its t-statistic over many days, a directional accuracy of 50–53 % on non-zero
labels, and a top decile whose trades return more than the bottom decile's. An IC above 0.1
at these horizons is almost always a leak, so these numbers are reported, never optimised on.

Labels are net of costs, so most of them are negative and "always predict a loss" already
scores well on sign accuracy. `hit_rate` is therefore reported next to `hit_base_rate` (the
share of the more common sign), and `direction_accuracy` asks the trading question instead:
on bars where both trades are scored, did the model rank the better of long and short first?
Its baseline is 50 %, costs or not.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from slt.domain.candle import DAY_MS, F64, I64


def rank_average(values: F64) -> F64:
    """Ranks 1..n with ties sharing their average rank (as in Spearman's definition)."""
    n = values.shape[0]
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    # Boundaries of runs of equal values.
    new_run = np.concatenate(([True], sorted_vals[1:] != sorted_vals[:-1]))
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ends = np.concatenate((starts[1:], [n]))
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = avg[run_id]
    return ranks


def spearman(a: F64, b: F64) -> float:
    """Spearman rank correlation; NaN when fewer than 3 rows or either side is constant."""
    if a.shape[0] < 3:
        return math.nan
    ra = rank_average(a)
    rb = rank_average(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    if denom == 0.0:
        return math.nan
    return float(ra @ rb) / denom


@dataclass(frozen=True, slots=True)
class OosMetrics:
    """Out-of-sample quality. Returns are fractions of entry notional, net of costs."""

    rows: int
    ic: float
    ic_long: float
    ic_short: float
    days: int
    ic_daily_mean: float
    ic_daily_std: float
    ic_daily_t: float
    hit_rate: float
    hit_base_rate: float
    hit_rows: int
    direction_accuracy: float
    direction_bars: int
    top_decile_return: float
    bottom_decile_return: float
    mean_return: float

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain JSON values (NaN becomes None)."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def evaluate(
    prediction: F64,
    label: F64,
    time_ms: I64,
    *,
    direction: F64 | None = None,
    symbol_id: I64 | None = None,
    min_rows_per_day: int = 30,
) -> OosMetrics:
    """Metrics of `prediction` against the realised `label` of the same rows.

    `ic` pools every row; with `direction`, `ic_long` and `ic_short` score each side alone.
    Daily IC uses UTC days of the decision bar with at least `min_rows_per_day` rows; its
    t-statistic is mean / (std / √days). Accuracy compares signs and skips rows whose label
    is exactly zero (no outcome to be right about) and rows predicted exactly zero.
    Deciles are of the prediction; their returns are the mean realised labels. With
    `direction` (+1/−1) and `symbol_id`, the long and short rows of each bar are paired for
    `direction_accuracy`.
    """
    n = int(prediction.shape[0])
    if n == 0:
        nan = math.nan
        return OosMetrics(0, nan, nan, nan, 0, nan, nan, nan, nan, nan, 0, nan, 0, nan, nan, nan)
    daily = _daily_ic(prediction, label, time_ms, min_rows_per_day)
    days = int(daily.size)
    mean = float(daily.mean()) if days else math.nan
    std = float(daily.std(ddof=1)) if days > 1 else math.nan
    t_stat = mean / (std / math.sqrt(days)) if days > 1 and std > 0 else math.nan
    decided = (label != 0) & (prediction != 0)
    hits = int(decided.sum())
    hit_rate = (
        float((np.sign(prediction[decided]) == np.sign(label[decided])).mean())
        if hits
        else math.nan
    )
    positive = float((label[decided] > 0).mean()) if hits else math.nan
    base = max(positive, 1.0 - positive) if hits else math.nan
    ic_long = ic_short = math.nan
    if direction is not None:
        up = direction > 0
        ic_long, ic_short = (
            spearman(prediction[up], label[up]),
            spearman(prediction[~up], label[~up]),
        )
    if direction is not None and symbol_id is not None:
        dir_acc, bars = paired_direction_accuracy(prediction, label, time_ms, symbol_id, direction)
    else:
        dir_acc, bars = math.nan, 0
    top, bottom = _decile_returns(prediction, label)
    return OosMetrics(
        rows=n,
        ic=spearman(prediction, label),
        ic_long=ic_long,
        ic_short=ic_short,
        days=days,
        ic_daily_mean=mean,
        ic_daily_std=std,
        ic_daily_t=t_stat,
        hit_rate=hit_rate,
        hit_base_rate=base,
        hit_rows=hits,
        direction_accuracy=dir_acc,
        direction_bars=bars,
        top_decile_return=top,
        bottom_decile_return=bottom,
        mean_return=float(label.mean()),
    )


def paired_direction_accuracy(
    prediction: F64, label: F64, time_ms: I64, symbol_id: I64, direction: F64
) -> tuple[float, int]:
    """Share of bars where the direction predicted better is the one that returned more.

    Bars need both their long and short row; ties in either prediction or label are skipped.
    Returns (accuracy, bars counted).
    """
    order = np.lexsort((-direction, symbol_id, time_ms))
    t, s, d = time_ms[order], symbol_id[order], direction[order]
    first = np.flatnonzero((t[:-1] == t[1:]) & (s[:-1] == s[1:]) & (d[:-1] > 0) & (d[1:] < 0))
    long_rows, short_rows = order[first], order[first + 1]
    decided = (prediction[long_rows] != prediction[short_rows]) & (
        label[long_rows] != label[short_rows]
    )
    bars = int(decided.sum())
    if bars == 0:
        return math.nan, 0
    pick_long = prediction[long_rows] > prediction[short_rows]
    long_better = label[long_rows] > label[short_rows]
    return float((pick_long == long_better)[decided].mean()), bars


def _daily_ic(prediction: F64, label: F64, time_ms: I64, min_rows: int) -> F64:
    day = time_ms // DAY_MS
    order = np.argsort(day, kind="mergesort")
    day_sorted = day[order]
    bounds = np.flatnonzero(np.diff(day_sorted)) + 1
    out = []
    for rows in np.split(order, bounds):
        if rows.size >= max(3, min_rows):
            ic = spearman(prediction[rows], label[rows])
            if not math.isnan(ic):
                out.append(ic)
    return np.asarray(out, dtype=np.float64)


def _decile_returns(prediction: F64, label: F64) -> tuple[float, float]:
    """Mean label of the 10 % highest and the 10 % lowest predictions (by rank, ties stable)."""
    n = prediction.shape[0]
    k = max(1, n // 10)
    order = np.argsort(prediction, kind="mergesort")
    return float(label[order[-k:]].mean()), float(label[order[:k]].mean())
