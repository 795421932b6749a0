"""Leak test: on a pure random walk nothing known at bar t predicts the return after t.

The series is a seeded, driftless geometric random walk of 1m candles, each built from 30
Gaussian sub-steps (open = previous close, high/low = the extremes of the path, close = its end),
with independent log-normal volumes. Its future is independent of its past, so any signal that
correlates with the forward return must have looked at the future.

Statistic. For a signal x_t and the forward log return y_t = log(close[t+H] / close[t]), H = 10,
the test reports the sample correlation over the bars where x is defined and its z-score under
the random-walk null. With per-bar log-return variance σ², y_t is a sum of the H shocks after t,
so for any x_t computed from candles ≤ t every cross term E[x_t x_u y_t y_u] reduces to the
shocks the two windows share:

    Var(Σ x̃_t y_t) = σ² · Σ_{t,u} x̃_t x̃_u · max(0, H − |t − u|)     (x̃ = x − mean(x))

which accounts for the overlap of neighbouring forward windows and for the persistence of x (a
slow feature has fewer independent samples). Dividing by ‖x̃‖·‖ỹ‖ gives the correlation's
standard error; it is at most sqrt(H / n) ≈ 0.0125 for a dense feature on n = 64,000 bars and
about 1/sqrt(m) for m scattered events. A signal passes when |corr| < 4 standard errors
(two-sided p ≈ 6·10⁻⁵ each; over the ~20 signals tested the chance of a false alarm on a fresh
seed is below 0.2 %); our dense features must in addition stay below 0.05 in absolute terms.

What must hold:

* the peer's outputs AS PLACED (swings on the pivot, gaps on the middle candle, BOS/CHoCH on the
  broken pivot, order blocks on the block candle, liquidity on the first swing) correlate with
  the future, the swings by far more than 0.3;
* the same outputs moved to the bar where they are known (`smc_known`) do not. Order blocks
  have no such bar before the last one: the output only keeps blocks the future did not erase
  (pinned by the truncation test below), so they are tested as placed only;
* all twelve of our features do not, and a copy of them read five bars early does: the bound is
  sharp enough to catch a look-ahead of one swing-confirmation delay;
* our rows do not change when the future is cut off; the peer's do, in every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from smc_known import (
    NEVER,
    bos_choch_events,
    fvg_events,
    liquidity_events,
    ob_events,
    ohlc_frame,
    on_bars,
    swing_events,
)

from slt.domain import CandleSeries
from slt.features import FEATURE_NAMES, compute_features

pytestmark = pytest.mark.integration

N_BARS = 64_000
"""Enough that 4 standard errors of a dense feature's correlation stay below 0.05."""
SUB_STEPS = 30
SIGMA = 0.0008
"""Per-bar log-return standard deviation, about BTC's on 1m candles."""
SEED = 20_260_121
HORIZON = 10
Z_BOUND = 4.0
ABS_BOUND = 0.05
SWING_LENGTH = 5
"""The peer's swing_length, matching our pivots' 5 bars on each side."""
PATH_FEATURES = (
    "fvg_dist_atr",
    "fvg_size_atr",
    "ob_balance_atr",
    "sweep_recent",
    "struct_break",
    "ret_k_norm",
    "pd_position",
)
"""Features that follow the price path closely enough that reading them early must show."""
START_MS = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000


@dataclass(frozen=True, slots=True)
class Corr:
    corr: float
    se: float
    samples: int

    @property
    def z(self) -> float:
        return self.corr / self.se

    def __str__(self) -> str:
        return f"corr {self.corr:+.4f} (z {self.z:+.1f}, n {self.samples:,})"


def random_walk(n: int, seed: int) -> CandleSeries:
    rng = np.random.default_rng(seed)
    path = np.cumsum(rng.normal(0.0, SIGMA / np.sqrt(SUB_STEPS), n * SUB_STEPS))
    path = path.reshape(n, SUB_STEPS)
    first = np.concatenate([[0.0], path[:-1, -1]])
    price = 30_000.0 * np.exp(
        np.column_stack(
            [
                first,
                np.maximum(first, path.max(axis=1)),
                np.minimum(first, path.min(axis=1)),
                path[:, -1],
            ]
        )
    )
    return CandleSeries(
        "RANDOMWALK",
        "1m",
        START_MS + 60_000 * np.arange(n, dtype=np.int64),
        *(np.ascontiguousarray(price[:, k]) for k in range(4)),
        rng.lognormal(3.0, 1.0, n),
    )


def forward_correlation(x: np.ndarray, close: np.ndarray, horizon: int = HORIZON) -> Corr:
    """Correlation of x_t with the next `horizon` bars' log return, with its null SE (above).

    Bars where x is NaN are left out; for event signals pass 0 where there is no event and NaN is
    not needed: use `events_only` to restrict to the event bars.
    """
    log_close = np.log(close)
    n = close.size
    y = np.full(n, np.nan)
    y[:-horizon] = log_close[horizon:] - log_close[:-horizon]
    sigma2 = float(np.var(np.diff(log_close)))
    rows = np.flatnonzero(~np.isnan(x) & ~np.isnan(y))
    xt = x[rows] - x[rows].mean()
    yt = y[rows] - y[rows].mean()
    dense = np.zeros(n)
    dense[rows] = xt
    lagged = sum((horizon - k) * float(dense[:-k] @ dense[k:]) for k in range(1, horizon))
    var = sigma2 * (horizon * float(xt @ xt) + 2.0 * lagged)
    norm = float(np.sqrt(xt @ xt) * np.sqrt(yt @ yt))
    return Corr(float(xt @ yt) / norm, float(np.sqrt(var)) / norm, rows.size)


def events_only(n: int, bars: pd.Series, values: pd.Series) -> np.ndarray:
    """Event values at their bars, NaN elsewhere (so only event bars are correlated)."""
    keep = bars.to_numpy() < n
    x = on_bars(n, bars.to_numpy()[keep], np.sign(values.to_numpy()[keep]))
    return np.where(x != 0, x, np.nan)


@pytest.fixture(scope="module")
def walk() -> CandleSeries:
    return random_walk(N_BARS, SEED)


@pytest.fixture(scope="module")
def smc() -> Any:
    """The peer's `smc` class; its tests skip when it is not installed (ours still run)."""
    return pytest.importorskip("smartmoneyconcepts").smc


@pytest.fixture(scope="module")
def peer(smc: Any, walk: CandleSeries) -> dict[str, pd.DataFrame]:
    frame = ohlc_frame(walk.open, walk.high, walk.low, walk.close, walk.volume)
    swings = smc.swing_highs_lows(frame, SWING_LENGTH)
    swing_ev = swing_events(frame, swings, SWING_LENGTH)
    return {
        "swings": swing_ev[~swing_ev["artificial"]],
        "fvg": fvg_events(smc.fvg(frame)),
        "bos_choch": bos_choch_events(smc.bos_choch(frame, swings), swing_ev),
        "ob": ob_events(frame, swing_ev, smc.ob(frame, swings)),
        "liquidity": liquidity_events(smc.liquidity(frame, swings), swing_ev),
    }


def _value_column(name: str) -> str:
    return "kind" if name == "bos_choch" else "direction"


@pytest.mark.parametrize("name", ["swings", "fvg", "bos_choch", "ob", "liquidity"])
def test_peer_outputs_as_placed_predict_the_random_walk(
    walk: CandleSeries, peer: dict[str, pd.DataFrame], name: str
) -> None:
    ev = peer[name]
    c = forward_correlation(
        events_only(len(walk), ev["placed"], ev[_value_column(name)]), walk.close
    )
    assert abs(c.z) > Z_BOUND, f"{name} as placed: {c}"
    if name == "swings":
        # a swing high is by construction above the next 5 highs: the future falls after it
        assert c.corr < -0.3, f"swings as placed: {c}"


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("swings", "confirmed"),
        ("swings", "known"),
        ("fvg", "known"),
        ("bos_choch", "broken"),
        ("bos_choch", "known"),
        ("liquidity", "known"),
    ],
)
def test_peer_outputs_moved_to_their_known_bar_do_not(
    walk: CandleSeries, peer: dict[str, pd.DataFrame], name: str, column: str
) -> None:
    ev = peer[name]
    ev = ev[ev[column] != NEVER]
    c = forward_correlation(events_only(len(walk), ev[column], ev[_value_column(name)]), walk.close)
    assert abs(c.z) < Z_BOUND, f"{name} moved to {column}: {c}"


@pytest.fixture(scope="module")
def ours(walk: CandleSeries) -> np.ndarray:
    return compute_features(walk)


@pytest.mark.parametrize("column", range(len(FEATURE_NAMES)), ids=list(FEATURE_NAMES))
def test_our_features_do_not_predict_the_random_walk(
    walk: CandleSeries, ours: np.ndarray, column: int
) -> None:
    x = ours[:, column]
    assert np.isfinite(x).sum() > 0.9 * len(walk), "feature mostly undefined on the walk"
    c = forward_correlation(x, walk.close)
    assert abs(c.z) < Z_BOUND and abs(c.corr) < ABS_BOUND, f"{FEATURE_NAMES[column]}: {c}"


def test_the_bound_catches_our_features_read_five_bars_early(
    walk: CandleSeries, ours: np.ndarray
) -> None:
    """The same check fails a copy of our features that looks R = 5 bars into the future."""
    early = np.full_like(ours, np.nan)
    early[:-SWING_LENGTH] = ours[SWING_LENGTH:]
    flagged = [
        name
        for k, name in enumerate(FEATURE_NAMES)
        if abs(forward_correlation(early[:, k], walk.close).z) > Z_BOUND
    ]
    # the price-path features; atr_pct, vol_z, mtf_trend, swing_trend and the break age move too
    # slowly, or not with the direction of the price, for five bars to matter
    assert set(PATH_FEATURES) <= set(flagged), flagged


@pytest.mark.parametrize("cut", [5_000, 17_777, 40_001])
def test_our_rows_do_not_change_when_the_future_is_cut_off(
    walk: CandleSeries, ours: np.ndarray, cut: int
) -> None:
    np.testing.assert_array_equal(compute_features(walk.slice(0, cut)), ours[:cut])


PEER_CALLS = ("swing_highs_lows", "fvg", "bos_choch", "ob", "liquidity")


def _peer_outputs(smc: Any, series: CandleSeries) -> dict[str, pd.DataFrame]:
    frame = ohlc_frame(series.open, series.high, series.low, series.close, series.volume)
    swings = smc.swing_highs_lows(frame, SWING_LENGTH)
    return {
        "swing_highs_lows": swings,
        "fvg": smc.fvg(frame),
        "bos_choch": smc.bos_choch(frame, swings),
        "ob": smc.ob(frame, swings),
        "liquidity": smc.liquidity(frame, swings),
    }


def test_peer_rows_change_when_the_future_is_cut_off(smc: Any, walk: CandleSeries) -> None:
    """Rows before a cut, computed with and without the candles after it, differ in every call.

    Swings: the last row always carries a filler swing. Gaps: `MitigatedIndex` of gaps filled
    after the cut. Breaks: events whose break or pattern lies after the cut. Order blocks: most
    blocks on the rows before the cut are erased by candles after it. Liquidity: the tolerance
    follows the whole input's range, and groups keep taking members.
    """
    full = _peer_outputs(smc, walk.slice(0, 20_000))
    changed = dict.fromkeys(PEER_CALLS, 0)
    erased = shown = 0
    for cut in (5_000, 10_000, 15_000):
        head = _peer_outputs(smc, walk.slice(0, cut))
        for call in PEER_CALLS:
            a = full[call].iloc[:cut].to_numpy(np.float64)
            b = head[call].to_numpy(np.float64)
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            changed[call] += int((~same.all(axis=1)).sum())
        blocks = ~np.isnan(head["ob"]["OB"].to_numpy(np.float64))
        shown += int(blocks.sum())
        erased += int((blocks & np.isnan(full["ob"]["OB"].to_numpy(np.float64)[:cut])).sum())
    assert all(changed.values()), changed
    assert erased > shown / 3, f"{erased} of {shown} order blocks erased by later candles"
