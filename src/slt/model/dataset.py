"""From candles to a training set: features, labels, times, weights and a data fingerprint.

Target: one row per bar *and direction*. Each bar gives two candidate trades, a long and a
short, each labelled with its own net return under the real exits (`slt.model.labels`), and
the direction is the last input column (+1 / −1). One model then answers the question the risk
layer asks — "what does a trade in this direction return here?" — for both directions.
A single long-label regression with short ≈ −long − costs was rejected: the exits are not
symmetric (take-profit 2× the stop, a partial with breakeven, a trailing stop, stop-first on
wide candles), so a bar where a long is stopped out at −1 % can give a short +0.5 % after its
partial and breakeven stop, not +1 % − costs. Stacking keeps every row's target the exact
trade the system would make.

Overlapping labels: a label spans the bars from the entry to its exit (up to H + 1), so
consecutive rows share most of their outcome. Each row is weighted by its average
uniqueness (the mean over its bars of 1 / number of labels of the same symbol and direction
in the market on that bar, after López de Prado). Rows of a quiet stretch, all held to the
horizon, get about 1/H; a row stopped out in one bar keeps nearly its full weight. The loss
then counts roughly independent trades, while every bar's features stay in the data.
Subsampling every H bars would do the same for the counts but throw away H − 1 of every H
feature rows; a flat 1/H weight would change nothing but the scale of `min_child_weight`.

Rows are sorted by time (then symbol, then long before short), so every time split is a
contiguous slice. A row's `time_ms` is its decision bar's open time (the decision is taken at
that bar's close); `label_end_ms` is the open time of the candle in which the label's last
fill happened, the instant from which the label is known.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from slt.domain import CandleSeries
from slt.domain.candle import F64, I64
from slt.model.errors import ModelError
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams, forward_labels

DIRECTION = "direction"
"""Name of the last input column: +1 for the long trade of a bar, −1 for its short."""


@dataclass(frozen=True, slots=True)
class Dataset:
    """Aligned rows: inputs `x` (features then direction), target `y` (fraction), weights."""

    x: F64
    y: F64
    weight: F64
    time_ms: I64
    label_end_ms: I64
    symbol_id: I64
    symbols: tuple[str, ...]
    feature_names: tuple[str, ...]
    interval_ms: int
    fingerprint: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def direction(self) -> F64:
        return self.x[:, -1]

    @property
    def first_ms(self) -> int:
        return int(self.time_ms[0]) if len(self) else 0

    @property
    def last_ms(self) -> int:
        return int(self.time_ms[-1]) if len(self) else 0

    def take(self, rows: npt.NDArray[np.bool_] | I64) -> Dataset:
        """A subset of rows (a boolean mask or sorted indices), same schema and fingerprint."""
        return Dataset(
            self.x[rows],
            self.y[rows],
            self.weight[rows],
            self.time_ms[rows],
            self.label_end_ms[rows],
            self.symbol_id[rows],
            self.symbols,
            self.feature_names,
            self.interval_ms,
            self.fingerprint,
        )


def data_fingerprint(series_list: Sequence[CandleSeries]) -> str:
    """sha256 over symbols, intervals, open times and OHLCV bytes (little-endian), by symbol.

    Two trainings with the same fingerprint saw exactly the same candles.
    """
    h = hashlib.sha256()
    for s in sorted(series_list, key=lambda x: x.symbol):
        h.update(f"{s.symbol}\x00{s.interval}\x00{len(s)}\x00".encode())
        h.update(np.ascontiguousarray(s.open_time, dtype="<i8").tobytes())
        for col in (s.open, s.high, s.low, s.close, s.volume):
            h.update(np.ascontiguousarray(col, dtype="<f8").tobytes())
    return h.hexdigest()


def uniqueness_weights(start: I64, end: I64, n: int) -> F64:
    """Average uniqueness of labels spanning rows [start, end] (inclusive) of an n-row series."""
    if start.size == 0:
        return np.zeros(0, dtype=np.float64)
    opened = np.bincount(start, minlength=n + 1)
    closed = np.bincount(end + 1, minlength=n + 1)
    concurrency = np.cumsum(opened - closed)[:n]
    inverse = np.zeros(n, dtype=np.float64)
    busy = concurrency > 0
    inverse[busy] = 1.0 / concurrency[busy]
    prefix = np.concatenate(([0.0], np.cumsum(inverse)))
    out: F64 = (prefix[end + 1] - prefix[start]) / (end - start + 1)
    return out


def build_dataset(
    series_list: Sequence[CandleSeries],
    features: FeatureSpec,
    params: LabelParams,
    *,
    ticks: Mapping[str, Decimal] | None = None,
    since_ms: int | None = None,
) -> Dataset:
    """Rows for every bar with a realised label and at least one known feature.

    Features and labels are computed on each whole series (so indicators are warm at the
    start of the window); rows whose decision bar opens before `since_ms` are then dropped.
    `ticks` puts label prices on each symbol's tick grid, as the venue does.
    """
    if not series_list:
        raise ModelError("no candles to build a dataset from; import data first")
    symbols = tuple(s.symbol for s in series_list)
    if len(set(symbols)) != len(symbols):
        raise ModelError(f"a symbol appears twice in the training data: {sorted(symbols)}")
    intervals = {s.interval for s in series_list}
    if len(intervals) != 1:
        raise ModelError(f"training data mixes intervals {sorted(intervals)}; use one")
    interval_ms = series_list[0].interval_ms
    parts: list[tuple[F64, F64, F64, I64, I64, I64]] = []
    for sid, series in enumerate(series_list):
        parts.extend(_rows(sid, series, features, params, (ticks or {}).get(series.symbol)))
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    w = np.concatenate([p[2] for p in parts])
    t = np.concatenate([p[3] for p in parts])
    end = np.concatenate([p[4] for p in parts])
    sid_col = np.concatenate([p[5] for p in parts])
    keep = t >= since_ms if since_ms is not None else np.ones(t.shape[0], dtype=bool)
    x, y, w, t, end, sid_col = x[keep], y[keep], w[keep], t[keep], end[keep], sid_col[keep]
    order = np.lexsort((-x[:, -1], sid_col, t))
    return Dataset(
        x=np.ascontiguousarray(x[order]),
        y=y[order],
        weight=w[order],
        time_ms=t[order],
        label_end_ms=end[order],
        symbol_id=sid_col[order],
        symbols=symbols,
        feature_names=(*features.names, DIRECTION),
        interval_ms=interval_ms,
        fingerprint=data_fingerprint(series_list),
    )


def _rows(
    sid: int,
    series: CandleSeries,
    features: FeatureSpec,
    params: LabelParams,
    tick: Decimal | None,
) -> list[tuple[F64, F64, F64, I64, I64, I64]]:
    n = len(series)
    feats = features.matrix(series)
    known: npt.NDArray[np.bool_] = np.asarray(np.isfinite(feats).any(axis=1), dtype=bool)
    labels = forward_labels(series, params, tick=tick)
    out = []
    for direction, ret, end in (
        (1.0, labels.long, labels.long_end),
        (-1.0, labels.short, labels.short_end),
    ):
        realised = np.flatnonzero(np.isfinite(ret))
        weights = uniqueness_weights(realised + 1, end[realised], n)
        rows = realised[known[realised]]
        w = weights[known[realised]]
        x = np.empty((rows.size, feats.shape[1] + 1), dtype=np.float64)
        x[:, :-1] = feats[rows]
        x[:, -1] = direction
        out.append(
            (
                x,
                ret[rows],
                w,
                series.open_time[rows].astype(np.int64),
                series.open_time[end[rows]].astype(np.int64),
                np.full(rows.size, sid, dtype=np.int64),
            )
        )
    return out


def winsor_bounds(y: F64, quantile: float) -> tuple[float, float]:
    """Lower and upper clip levels at `quantile` and 1 − `quantile` of `y` (training rows only).

    Labels are already bounded by the stop and the target; what the clip removes is the odd gap
    fill far beyond them, which would otherwise dominate a squared-error fit.
    """
    if y.size == 0 or quantile <= 0:
        return -np.inf, np.inf
    lo, hi = np.quantile(y, [quantile, 1.0 - quantile])
    return float(lo), float(hi)
