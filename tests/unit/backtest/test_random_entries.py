"""Random entries: batch and live draw the same coins, at the requested rate, from the seed alone.

The control is only fair if it is what it claims: entries at a known rate, independent of the
price path, reproducible, and identical whether computed over a whole series or candle by
candle (so a backtest of it means what a live run of it would do).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from slt.data.sample import SAMPLE_SYMBOLS
from slt.domain import CandleSeries
from slt.strategy.base import SignalColumns
from slt.strategy.random_entries import (
    DEFAULT_CONFIDENCE,
    DEFAULT_EXPECTED_RETURN,
    RandomEntries,
    matching_rate,
    splitmix64,
    splitmix64_array,
)

ATR = 14


def _bits(x: float) -> int:
    return int(np.float64(x).view(np.int64))


def test_splitmix64_matches_the_reference_sequence() -> None:
    """Vigna's splitmix64 seeded with 0 starts 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4."""
    assert splitmix64(0) == 0xE220A8397B1DCDAF
    assert splitmix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


def test_numpy_and_python_hashes_agree_on_the_whole_64_bit_range() -> None:
    rng = np.random.default_rng(3)
    xs = rng.integers(0, 2**64, size=2_000, dtype=np.uint64, endpoint=False)
    xs[:3] = [0, 2**63, 2**64 - 1]
    got = splitmix64_array(xs)
    assert [int(v) for v in got] == [splitmix64(int(v)) for v in xs]


@pytest.mark.parametrize("symbol", SAMPLE_SYMBOLS)
def test_batch_and_incremental_give_the_same_signal_on_every_bar(
    symbol: str, sample: dict[str, CandleSeries]
) -> None:
    series = sample[symbol]
    strategy = RandomEntries(0.02, seed=11, name="coin")
    cols = strategy.batch(series)
    state = strategy.incremental(symbol)
    fired = 0
    for i in range(len(series)):
        candle = series.candle(i)
        signal = state.update(candle)
        if signal is None:
            assert int(cols.direction[i]) == 0, f"bar {i}: batch fired, incremental did not"
            continue
        fired += 1
        assert signal.direction == int(cols.direction[i]), f"bar {i}"
        assert signal.time_ms == candle.close_time + 1 and signal.source == "coin"
        assert _bits(signal.atr_pct) == _bits(float(cols.atr_pct[i])), f"bar {i}"
        assert signal.expected_return == DEFAULT_EXPECTED_RETURN
        assert signal.confidence == DEFAULT_CONFIDENCE
    assert fired == int(np.count_nonzero(cols.direction)) > 100


def test_realised_rate_and_sides_match_the_request(sample: dict[str, CandleSeries]) -> None:
    """Over all ~80k bars the count of signals lies within 5 binomial standard deviations of
    rate × eligible bars, and longs are half of them within the same bound."""
    rate = 0.01
    strategy = RandomEntries(rate, seed=5)
    signals = {s: strategy.batch(sample[s]) for s in sample}
    eligible = sum(int(np.count_nonzero(~np.isnan(c.atr_pct))) for c in signals.values())
    fired = sum(int(np.count_nonzero(c.direction)) for c in signals.values())
    longs = sum(int(np.count_nonzero(c.direction == 1)) for c in signals.values())
    assert abs(fired - rate * eligible) < 5 * math.sqrt(eligible * rate * (1 - rate))
    assert abs(longs - fired / 2) < 5 * math.sqrt(fired / 4)
    assert matching_rate(signals) == pytest.approx(fired / sum(len(sample[s]) for s in sample))


def test_same_seed_same_draws_other_seed_other_draws(sample: dict[str, CandleSeries]) -> None:
    series = sample["BTCUSDT"]
    a = RandomEntries(0.05, seed=1).batch(series).direction
    again = RandomEntries(0.05, seed=1).batch(series).direction
    b = RandomEntries(0.05, seed=2).batch(series).direction
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, b)
    both = int(np.count_nonzero((a != 0) & (b != 0)))
    # Independent draws overlap on about rate² of bars (~50 here), far from all ~1000.
    assert both < 0.2 * int(np.count_nonzero(a))


def test_symbols_draw_independently(sample: dict[str, CandleSeries]) -> None:
    """Same open times, different names: the coins must differ, or all symbols trade at once."""
    strategy = RandomEntries(0.05, seed=1)
    btc, ltc = sample["BTCUSDT"], sample["LTCUSDT"]
    np.testing.assert_array_equal(btc.open_time, ltc.open_time)
    assert not np.array_equal(strategy.batch(btc).direction, strategy.batch(ltc).direction)


def test_warm_up_bars_never_fire_and_truncation_changes_nothing(
    sample: dict[str, CandleSeries],
) -> None:
    series = sample["DOGEUSDT"]
    strategy = RandomEntries(1.0, seed=9, atr_period=ATR)
    full = strategy.batch(series)
    assert not full.direction[: ATR - 1].any()
    assert full.direction[ATR - 1 :].all()
    lower = RandomEntries(0.1, seed=9).batch(series)
    for t in (ATR, 500, 7_777, len(series) - 2):
        cut = RandomEntries(0.1, seed=9).batch(series.slice(0, t + 1))
        np.testing.assert_array_equal(cut.direction, lower.direction[: t + 1])


def test_rate_zero_never_fires_and_bad_rates_are_refused(
    sample: dict[str, CandleSeries],
) -> None:
    assert not RandomEntries(0.0).batch(sample["ADAUSDT"]).direction.any()
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="rate"):
            RandomEntries(bad)


def test_matching_rate_counts_non_zero_bars() -> None:
    def cols(direction: list[int]) -> SignalColumns:
        n = len(direction)
        z = np.zeros(n)
        return SignalColumns(np.asarray(direction, dtype=np.int8), z, z, z)

    assert matching_rate({"A": cols([0, 1, 0, -1]), "B": cols([0, 0, 0, 0, 0, 1])}) == 0.3
    assert matching_rate({}) == 0.0
    assert matching_rate({"A": cols([])}) == 0.0
