"""Batch path: all twelve features of a whole series at once (backtests, training sets)."""

from __future__ import annotations

import numpy as np
from numba import njit

from slt.domain.candle import F64, CandleSeries, interval_ms
from slt.features.atr import atr_batch
from slt.features.basic import ret_k_norm_batch, vol_z_batch
from slt.features.fvg import fair_value_gaps, fvg_features
from slt.features.liquidity import liquidity, sweep_recent
from slt.features.mtf import mtf_trend_batch
from slt.features.order_blocks import ob_balance, order_blocks
from slt.features.range import pd_position, swing_trend
from slt.features.schema import DEFAULT_PARAMS, N_FEATURES, FeatureParams
from slt.features.structure import Structure, structure
from slt.features.swings import swings


def check_series(series: CandleSeries, params: FeatureParams) -> None:
    """Raise ValueError unless `series` is of the base interval with increasing open times."""
    if series.interval != params.base_interval:
        raise ValueError(
            f"features are defined on {params.base_interval} candles; got {series.interval} "
            f"for {series.symbol}"
        )
    if len(series) > 1 and not bool(np.all(np.diff(series.open_time) > 0)):
        raise ValueError(f"{series.symbol}: open times must be strictly increasing")


@njit(cache=True)
def _breaks(event: np.ndarray, window: int, log_table: F64) -> tuple[F64, F64]:
    n = event.size
    brk = np.zeros(n)
    logs = np.full(n, np.nan)
    last = -1
    for t in range(n):
        if event[t] != 0:
            last = t
        if last >= 0:
            age = t - last
            if age < window:
                brk[t] = event[last]
            logs[t] = log_table[min(age, window)]
    return brk, logs


def log_table(window: int) -> F64:
    """log1p(0 .. window): the values `log_bars_since_break` can take (shared by both paths)."""
    return np.log1p(np.arange(window + 1, dtype=np.float64))


def break_features(st: Structure, window: int) -> tuple[F64, F64]:
    """(`struct_break`, `log_bars_since_break`) from the per-bar structure events.

    struct_break = code of the latest event if it happened fewer than `window` bars ago
    (its own bar included), else 0; log_bars_since_break = log1p(min(t - t_event, window)),
    NaN before the first event.
    """
    return _breaks(st.event, window, log_table(window))


def compute_features(series: CandleSeries, params: FeatureParams = DEFAULT_PARAMS) -> F64:
    """The (n, 12) float64 feature matrix of `series`, columns in `FEATURE_NAMES` order.

    Row t uses candles 0..t only and equals what `FeatureState` returns after candle t.
    NaN marks values not yet known (warm-up) or undefined (see the package docs).
    """
    check_series(series, params)
    p = params
    high = np.ascontiguousarray(series.high, dtype=np.float64)
    low = np.ascontiguousarray(series.low, dtype=np.float64)
    close = np.ascontiguousarray(series.close, dtype=np.float64)
    volume = np.ascontiguousarray(series.volume, dtype=np.float64)
    n = close.size
    out = np.empty((n, N_FEATURES))
    if n == 0:
        return out
    atr = atr_batch(high, low, close, p.atr_period)
    piv = swings(high, low, p.pivot_left, p.pivot_right)
    st = structure(high, low, close, p.pivot_left, p.pivot_right, piv)
    gaps = fair_value_gaps(high, low, atr, p.fvg_min_atr, p.fvg_max_age, p.fvg_max_count)
    out[:, 0], out[:, 1] = fvg_features(close, atr, gaps, p.dist_cap)
    blocks = order_blocks(high, low, close, st, p.ob_max_age)
    out[:, 2] = ob_balance(close, atr, blocks, p.dist_cap)
    liq = liquidity(high, low, close, piv, p.sweep_levels)
    out[:, 3] = sweep_recent(liq, p.sweep_window)
    out[:, 4], out[:, 5] = break_features(st, p.break_window)
    out[:, 6] = swing_trend(st.h1, st.h2, st.s1, st.s2)
    out[:, 7] = atr / close
    out[:, 8] = vol_z_batch(volume, p.vol_window, p.vol_z_clip)
    base_ms = interval_ms(p.base_interval)
    out[:, 9] = mtf_trend_batch(
        np.asarray(series.open_time, dtype=np.int64),
        close,
        p.mtf_periods_ms,
        base_ms,
        p.ema_fast,
        p.ema_slow,
    )
    out[:, 10] = ret_k_norm_batch(close, atr, p.ret_k)
    out[:, 11] = pd_position(close, st.h1, st.s1, p.pd_low, p.pd_high)
    return out
