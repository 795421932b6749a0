"""The two paths agree: `compute_features` (batch) and `FeatureState` / `MultiSymbolFeatures`
(incremental, one candle at a time) give bit-identical rows on every bar."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain.candle import Candle, CandleSeries
from slt.features import (
    DEFAULT_PARAMS,
    FEATURE_NAMES,
    FeatureParams,
    FeatureState,
    MultiSymbolFeatures,
    compute_features,
)
from slt.features.incremental import _Store

Bits = Callable[[np.ndarray, np.ndarray], np.ndarray]
RandomWalk = Callable[..., CandleSeries]


def _assert_rows_equal(batch: np.ndarray, inc: np.ndarray, bits_equal: Bits, what: str) -> None:
    assert batch.shape == inc.shape
    ok = bits_equal(batch, inc)
    if not ok.all():
        t, j = np.argwhere(~ok)[0]
        raise AssertionError(
            f"{what}: row {t} {FEATURE_NAMES[j]}: batch {batch[t, j]!r} incremental {inc[t, j]!r}"
        )


def test_update_candle_by_candle_equals_batch_on_real_data(
    sample: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    s = sample["BTCUSDT"]
    state = FeatureState()
    rows = np.array([state.update(s.candle(i)) for i in range(len(s))])
    batch = compute_features(s)
    _assert_rows_equal(batch, rows, bits_equal, "BTCUSDT")
    assert state.bars == len(s) and state.symbol == "BTCUSDT"
    # the real data exercises every feature: each column has values
    assert (~np.isnan(batch)).sum(axis=0).min() > 10_000


@pytest.mark.parametrize("params", ["default", "short"])
def test_replay_equals_batch_on_every_sample_symbol(
    sample: dict[str, CandleSeries], bits_equal: Bits, params: str
) -> None:
    p = (
        DEFAULT_PARAMS
        if params == "default"
        else FeatureParams(pivot_left=2, pivot_right=3, fvg_max_count=3, ob_max_age=50)
    )
    for symbol, s in sample.items():
        _assert_rows_equal(compute_features(s, p), FeatureState(p).replay(s), bits_equal, symbol)


@pytest.mark.integration
def test_replay_equals_batch_on_shared_real_data(
    shared_1m: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    for name, s in shared_1m.items():
        _assert_rows_equal(compute_features(s), FeatureState().replay(s), bits_equal, name)


SMALL_PARAMS = st.builds(
    FeatureParams,
    atr_period=st.integers(1, 20),
    pivot_left=st.integers(1, 6),
    pivot_right=st.integers(1, 6),
    fvg_min_atr=st.sampled_from([0.0, 0.1, 0.5]),
    fvg_max_age=st.integers(1, 80),
    fvg_max_count=st.integers(1, 8),
    ob_max_age=st.integers(1, 80),
    sweep_levels=st.integers(1, 6),
    sweep_window=st.integers(1, 12),
    break_window=st.integers(1, 40),
    vol_window=st.integers(1, 70),
    ret_k=st.integers(1, 20),
    ema_fast=st.integers(1, 5),
    ema_slow=st.integers(1, 8),
)
"""Every window short, so that expiries, evictions and warm-up edges happen often."""


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 1500),
    seed=st.integers(0, 2**32 - 1),
    gap_rate=st.sampled_from([0.0, 0.01, 0.2]),
    tick=st.sampled_from([0.0, 0.5]),
    p=st.one_of(st.just(DEFAULT_PARAMS), SMALL_PARAMS),
)
def test_batch_equals_incremental_on_random_walks(
    random_walk: RandomWalk,
    bits_equal: Bits,
    n: int,
    seed: int,
    gap_rate: float,
    tick: float,
    p: FeatureParams,
) -> None:
    s = random_walk(n, seed, gap_rate=gap_rate, tick=tick)
    batch = compute_features(s, p)
    _assert_rows_equal(batch, FeatureState(p).replay(s), bits_equal, "replay")
    if n <= 200:  # the Python entry point too
        state = FeatureState(p)
        rows = np.array([state.update(s.candle(i)) for i in range(n)]).reshape(
            n, len(FEATURE_NAMES)
        )
        _assert_rows_equal(batch, rows, bits_equal, "update")


def test_growing_liquidity_stacks_changes_nothing(
    sample: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    s = sample["DOGEUSDT"]
    state = FeatureState()
    state._store = _Store(1, DEFAULT_PARAMS, stack_room=1)
    _assert_rows_equal(compute_features(s), state.replay(s), bits_equal, "grown")
    assert state._store.stacks.shape[2] > 1


def _minutes(sample: dict[str, CandleSeries], skip: int = 0) -> list[list[Candle]]:
    """Per minute, the candles of all symbols (dropping every `skip`-th of the second)."""
    series = list(sample.values())
    n = min(len(s) for s in series)
    out = []
    for i in range(n):
        batch = [s.candle(i) for s in series]
        if skip and i % skip == 0:
            batch.pop(1)
        out.append(batch[::-1] if i % 2 else batch)
    return out


def test_multi_symbol_update_equals_batch_per_symbol(
    sample: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    sub = {k: v.slice(0, 4000) for k, v in sample.items()}
    multi = MultiSymbolFeatures(list(sub))
    got: dict[str, list[np.ndarray]] = {k: [] for k in sub}
    for minute in _minutes(sub, skip=7):
        for symbol, row in multi.update(minute).items():
            got[symbol].append(row)
    second = list(sub)[1]
    for symbol, s in sub.items():
        if symbol == second:  # that symbol missed every 7th minute: a gappy series
            keep = np.arange(len(s)) % 7 != 0
            s = CandleSeries(
                symbol, "1m", s.open_time[keep], s.open[keep], s.high[keep], s.low[keep],
                s.close[keep], s.volume[keep],
            )  # fmt: skip
        _assert_rows_equal(compute_features(s), np.array(got[symbol]), bits_equal, symbol)
        assert multi.bars(symbol) == len(s)


def test_multi_symbol_ignores_stale_candles_and_rejects_unknown_symbols(
    sample: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    s = sample["LTCUSDT"].slice(0, 300)
    multi = MultiSymbolFeatures(["LTCUSDT"])
    rows = []
    for i in range(len(s)):
        out = multi.update([s.candle(i)])
        rows.append(out["LTCUSDT"])
        if i in (50, 51):  # a replayed candle changes nothing and is left out
            assert multi.update([s.candle(i)]) == {}
            assert multi.update([s.candle(i - 10)]) == {}
    assert multi.stale_candles == 4
    _assert_rows_equal(compute_features(s), np.array(rows), bits_equal, "stale")
    with pytest.raises(ValueError, match="unknown symbol"):
        multi.update([sample["BTCUSDT"].candle(0)])
    multi.add_symbol("BTCUSDT")
    btc = sample["BTCUSDT"].slice(0, 100)
    warm = multi.replay(btc)
    _assert_rows_equal(compute_features(btc), warm, bits_equal, "added")
    with pytest.raises(ValueError, match="twice"):
        MultiSymbolFeatures(["A", "A"])


def test_feature_state_refuses_out_of_order_and_foreign_candles(
    sample: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    s = sample["ADAUSDT"].slice(0, 200)
    state = FeatureState()
    rows = [state.update(s.candle(i)) for i in range(100)]
    with pytest.raises(ValueError, match="time order"):
        state.update(s.candle(99))
    with pytest.raises(ValueError, match="follows ADAUSDT"):
        state.update(sample["BTCUSDT"].candle(100))
    rows += [state.update(s.candle(i)) for i in range(100, 200)]  # state was not touched
    _assert_rows_equal(compute_features(s), np.array(rows), bits_equal, "after refusal")


def test_compute_features_checks_its_input(sample: dict[str, CandleSeries]) -> None:
    s = sample["ADAUSDT"].slice(0, 50)
    five = dataclasses.replace(s, interval="5m")
    with pytest.raises(ValueError, match="1m"):
        compute_features(five)
    backwards = dataclasses.replace(s, open_time=s.open_time[::-1].copy())
    with pytest.raises(ValueError, match="increasing"):
        compute_features(backwards)
    empty = compute_features(s.slice(0, 0))
    assert empty.shape == (0, len(FEATURE_NAMES))
