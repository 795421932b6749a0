"""Labels by hand and by property.

The hand examples open a trade at 100 (the open after the decision bar) with no costs unless
stated, so every number is arithmetic you can check: stop 99, partial 101, target 102.
The properties cover what purging and training rely on: a label lies between what the stop,
the target and any gap allow; it never changes when later data arrives; and it is NaN exactly
where the data ends before the trade does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import FeeConfig, RiskConfig
from slt.model.labels import LabelParams, forward_labels

from .conftest import make_series

FLAT = (100.0, 100.0, 100.0, 100.0)

P = LabelParams(
    horizon_bars=10,
    stop_loss_pct=0.01,
    take_profit_pct=0.02,
    partial_take_profit=False,
    partial_at=0.5,
    partial_fraction=0.5,
    breakeven_after_partial=True,
    trailing_activation_pct=5.0,  # off unless a test turns it on
    trailing_distance_pct=0.006,
    max_hold_ms=7_200_000,
    taker_rate=0.0,
    slippage_pct=0.0,
)


def long0(bars: list[tuple[float, float, float, float]], params: LabelParams = P) -> float:
    """The long label of the first bar (entry at the second bar's open)."""
    return float(forward_labels(make_series(bars), params).long[0])


def short0(bars: list[tuple[float, float, float, float]], params: LabelParams = P) -> float:
    return float(forward_labels(make_series(bars), params).short[0])


TAIL = [FLAT] * 12  # enough later bars for the time exit to fill


def test_long_hits_take_profit() -> None:
    bars = [FLAT, (100, 101, 99.5, 100.5), (100.5, 102.5, 100.2, 102), *TAIL]
    assert long0(bars) == pytest.approx(0.02, abs=1e-12)
    # Fees on both fills: 100 × 0.05 % in, 102 × 0.05 % out.
    with_fees = replace(P, taker_rate=0.0005)
    assert long0(bars, with_fees) == pytest.approx((2 - 0.05 - 0.051) / 100, abs=1e-12)


def test_long_hits_stop_loss() -> None:
    bars = [FLAT, (100, 100.5, 99.5, 99.6), (99.6, 99.8, 98.9, 99.0), *TAIL]
    assert long0(bars) == pytest.approx(-0.01, abs=1e-12)


def test_short_hits_take_profit_and_mirrors_the_long_stop() -> None:
    bars = [FLAT, (100, 100.5, 99.5, 99.6), (99.6, 99.8, 97.9, 98.0), *TAIL]
    assert short0(bars) == pytest.approx(0.02, abs=1e-12)
    assert long0(bars) == pytest.approx(-0.01, abs=1e-12)


def test_stop_and_target_in_one_candle_count_as_the_stop() -> None:
    bars = [FLAT, (100, 100.2, 99.8, 100), (100, 102.5, 97.5, 100), *TAIL]
    assert long0(bars) == pytest.approx(-0.01, abs=1e-12)
    assert short0(bars) == pytest.approx(-0.01, abs=1e-12)


def test_gap_through_the_stop_fills_at_the_open() -> None:
    bars = [FLAT, (100, 100.2, 99.8, 99.9), (98.0, 98.5, 97.5, 98.2), *TAIL]
    assert long0(bars) == pytest.approx(-0.02, abs=1e-12)
    # A gap through the target fills at the (better) open as well.
    up = [FLAT, (100, 100.2, 99.8, 100.1), (103.0, 103.5, 102.8, 103.2), *TAIL]
    assert long0(up) == pytest.approx(0.03, abs=1e-12)


def test_time_exit_at_the_horizon_fills_at_the_next_open() -> None:
    """H = 3: decided at the close of bar t+3, filled at the open of bar t+4."""
    bars = [FLAT, (100, 100.3, 99.9, 100.1), FLAT, (100, 100.4, 99.8, 100.2), (100.3,) * 4, FLAT]
    labels = forward_labels(make_series(bars), replace(P, horizon_bars=3))
    assert labels.long[0] == pytest.approx(0.003, abs=1e-12)
    assert labels.short[0] == pytest.approx(-0.003, abs=1e-12)
    assert labels.long_end[0] == 4
    # Bar 2's trade would exit at the open of bar 6, which does not exist.
    assert np.isfinite(labels.long[:2]).all() and np.isnan(labels.long[2:]).all()
    # max_hold_ms shorter than H wins: two bars.
    held = forward_labels(make_series(bars), replace(P, horizon_bars=3, max_hold_ms=120_000))
    assert held.long[0] == pytest.approx(0.0, abs=1e-12) and held.long_end[0] == 3


def test_partial_then_breakeven_stop() -> None:
    p = replace(P, partial_take_profit=True)
    bars = [
        FLAT,
        (100, 100.2, 99.8, 100.1),
        (100.1, 101.2, 99.5, 100.8),  # partial at 101; the new stop is not live in this candle
        (100.8, 100.9, 99.8, 99.9),  # breakeven stop at 100 hit
        *TAIL,
    ]
    labels = forward_labels(make_series(bars), p)
    assert labels.long[0] == pytest.approx(0.5 * 0.01 + 0.5 * 0.0, abs=1e-12)
    assert labels.long_end[0] == 3
    no_be = forward_labels(make_series(bars), replace(p, breakeven_after_partial=False))
    assert no_be.long_end[0] > 3  # the original stop at 99 holds


def test_partial_and_target_in_one_candle_close_both_legs() -> None:
    p = replace(P, partial_take_profit=True)
    bars = [FLAT, (100, 100.2, 99.8, 100.1), (100.1, 102.2, 100.0, 102.1), *TAIL]
    assert long0(bars, p) == pytest.approx(0.5 * 0.01 + 0.5 * 0.02, abs=1e-12)


def test_trailing_stop_follows_the_best_close() -> None:
    p = replace(P, trailing_activation_pct=0.01, trailing_distance_pct=0.006)
    bars = [
        FLAT,
        (100, 100.6, 99.8, 100.5),
        (100.5, 101.6, 100.4, 101.5),  # best close 101.5: stop to 101.5 × 0.994 = 100.891
        (101.5, 101.6, 100.5, 100.7),  # trailed stop hit
        *TAIL,
    ]
    assert long0(bars, p) == pytest.approx(0.00891, abs=1e-12)


def test_slippage_and_fees_cost_both_directions() -> None:
    p = replace(P, taker_rate=0.0005, slippage_pct=0.0002, horizon_bars=1)
    bars = [FLAT, FLAT, FLAT, FLAT]
    entry_l, exit_l = 100 * 1.0002, 100 * 0.9998
    expected_long = (exit_l - entry_l - 0.0005 * (entry_l + exit_l)) / entry_l
    entry_s, exit_s = 100 * 0.9998, 100 * 1.0002
    expected_short = (entry_s - exit_s - 0.0005 * (entry_s + exit_s)) / entry_s
    labels = forward_labels(make_series(bars), p)
    assert labels.long[0] == pytest.approx(expected_long, abs=1e-12)
    assert labels.short[0] == pytest.approx(expected_short, abs=1e-12)
    assert expected_long < -0.0013  # about 14 bps round trip


def test_params_follow_the_risk_config() -> None:
    p = LabelParams.from_config(RiskConfig(), FeeConfig(), 15)
    assert (p.stop_loss_pct, p.take_profit_pct, p.taker_rate) == (0.01, 0.02, 0.0005)
    assert p.hold_ms(60_000) == 15 * 60_000 and p.span_bars(60_000) == 16
    with pytest.raises(ValueError, match="horizon_bars"):
        replace(p, horizon_bars=0)


# Properties -------------------------------------------------------------------------------------


def random_series(seed: int, n: int, vol: float, gap_prob: float):  # type: ignore[no-untyped-def]
    """A random walk with occasional gaps between one close and the next open."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    gaps = np.where(rng.random(n) < gap_prob, rng.normal(0, 5 * vol, n), 0.0)
    opens = np.r_[100.0, close[:-1]] * np.exp(gaps)
    wick = np.abs(rng.normal(0, vol, (2, n)))
    high = np.maximum(opens, close) * (1 + wick[0])
    low = np.minimum(opens, close) * (1 - wick[1])
    return make_series(np.column_stack([opens, high, low, close]).tolist())


param_sets = st.builds(
    lambda sl, tp, partial, act, dist, h, taker, slip: LabelParams(
        horizon_bars=h,
        stop_loss_pct=sl,
        take_profit_pct=tp,
        partial_take_profit=partial,
        partial_at=0.5,
        partial_fraction=0.5,
        breakeven_after_partial=True,
        trailing_activation_pct=act,
        trailing_distance_pct=dist,
        max_hold_ms=7_200_000,
        taker_rate=taker,
        slippage_pct=slip,
    ),
    st.floats(0.001, 0.03),
    st.floats(0.001, 0.05),
    st.booleans(),
    st.floats(0.001, 0.05),
    st.floats(0.0005, 0.02),
    st.integers(1, 30),
    st.sampled_from([0.0, 0.0005]),
    st.sampled_from([0.0, 0.0002]),
)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 300),
    vol=st.floats(0.0005, 0.01),
    gap_prob=st.sampled_from([0.0, 0.05, 0.3]),
    params=param_sets,
)
def test_label_is_bounded_by_stop_target_gaps_and_fees(
    seed: int, n: int, vol: float, gap_prob: float, params: LabelParams
) -> None:
    s = random_series(seed, n, vol, gap_prob)
    labels = forward_labels(s, params)
    slip, fee = params.slippage_pct, params.taker_rate
    for side, ret, end in ((1, labels.long, labels.long_end), (-1, labels.short, labels.short_end)):
        for t in np.flatnonzero(np.isfinite(ret)):
            entry = s.open[t + 1] * (1 + side * slip)
            opens = s.open[t + 1 : end[t] + 1]
            stop = entry * (1 - side * params.stop_loss_pct)
            target = entry * (1 + side * params.take_profit_pct)
            # Every exit is at a level between the first stop and the target, or at an open.
            worst = min(stop, opens.min()) if side > 0 else max(stop, opens.max())
            best = max(target, opens.max()) if side > 0 else min(target, opens.min())
            worst_fill = worst * (1 - side * slip)
            hi_price = max(worst_fill, best)
            lower = side * (worst_fill - entry) / entry - fee * (1 + hi_price / entry)
            upper = side * (best - entry) / entry
            assert lower - 1e-12 <= ret[t] <= upper + 1e-12
            sl = params.stop_loss_pct
            at_stop = -sl - slip * (1 + sl) - fee * (2 + sl) * (1 + slip)
            # Worse than the stop loss and its costs only through a gap past the stop.
            assert at_stop - 1e-12 <= ret[t] or side * (worst - stop) < 0


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 300),
    cut=st.floats(0.0, 1.0),
    gap_prob=st.sampled_from([0.0, 0.1]),
    params=param_sets,
)
def test_label_is_nan_exactly_where_the_data_ends_first(
    seed: int, n: int, cut: float, gap_prob: float, params: LabelParams
) -> None:
    s = random_series(seed, n, 0.003, gap_prob)
    full = forward_labels(s, params)
    m = max(1, int(cut * n))
    part = forward_labels(s.slice(0, m), params)
    span = params.span_bars(s.interval_ms)
    for f_ret, f_end, p_ret, p_end in (
        (full.long, full.long_end, part.long, part.long_end),
        (full.short, full.short_end, part.short, part.short_end),
    ):
        realised = (f_end[:m] >= 0) & (f_end[:m] < m)
        assert (np.isfinite(p_ret) == realised).all()
        assert np.array_equal(p_ret[realised], f_ret[:m][realised])  # later data changes nothing
        assert np.array_equal(p_end[realised], f_end[:m][realised])
        assert (p_end[~realised] == -1).all()
        assert np.isfinite(f_ret[: max(0, n - span)]).all()  # only the tail can be unrealised
        ends = f_end[f_end >= 0]
        rows = np.flatnonzero(f_end >= 0)
        assert ((ends > rows) & (ends <= rows + span)).all()


def test_kernel_speed_is_well_above_a_million_bars_per_second_and_direction() -> None:
    """A loose floor (the kernel measures ~8M bars/s·direction here): 400k bars, both
    directions, in well under a second even on a busy machine."""
    import time

    s = random_series(7, 400_000, 0.001, 0.01)
    p = LabelParams.from_config(RiskConfig(), FeeConfig(), 15)
    forward_labels(s.slice(0, 100), p)  # compiled / loaded from cache
    started = time.perf_counter()
    forward_labels(s, p)
    elapsed = time.perf_counter() - started
    assert 2 * len(s) / elapsed > 1_000_000, f"{2 * len(s) / elapsed:,.0f} bars/s·direction"
