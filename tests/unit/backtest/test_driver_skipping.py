"""Skipping quiet candles changes nothing.

`run_backtest(..., skip_quiet=True)` jumps over candles at which, per `slt.backtest.waker`,
neither the engine nor the venue can act. That is only an optimisation: every run here is
replayed with `skip_quiet=False` (every candle of every symbol fed to the engine) and the two
must agree exactly: the same trades (compared field by field and by hash), the same final
balance, fees, funding and rejected orders, the same time in market, and equity curves equal to
1e-9 relative.

The data is the bundled sample (four symbols, two weeks of real 1m candles), under settings
chosen so that each kind of wake-up actually happens: tight stops and trailing (many intrabar
fills and stop moves), a drawdown halt that trips, short time exits, emergency exits, rotation,
heavy hourly funding, Kelly sizing. Each case names an exit reason that must occur, so a case
that stops exercising what it is for fails instead of passing vacuously.

A second scenario cuts the sample so that symbols start and end at different times and have
gaps while positions are open on them: a gap of one symbol across a funding time, a gap of
every symbol across a UTC midnight, a three-candle gap, a symbol whose data ends with a position
open. The cuts are placed from runs on the data cut so far, in time order, so the positions
they aim at are really open when the gaps start (checked on the final run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from slt.backtest.driver import run_backtest
from slt.backtest.result import BacktestResult
from slt.config import Settings, load_settings
from slt.domain import CandleSeries, ExitReason, TradeRecord
from slt.domain.candle import DAY_MS, MINUTE_MS
from slt.rules import ExchangeRules
from slt.strategy.baseline import EmaAtrBaseline

Series = dict[str, CandleSeries]

TIGHT = {
    "stop_loss_pct": 0.003,
    "take_profit_pct": 0.006,
    "trailing_activation_pct": 0.002,
    "trailing_distance_pct": 0.001,
}


def _run(
    series: Mapping[str, CandleSeries], settings: Settings, rules: ExchangeRules, *, skip: bool
) -> BacktestResult:
    strategy = EmaAtrBaseline(settings.baseline)
    return run_backtest(series, strategy, settings, rules, run_id="skip-test", skip_quiet=skip)


def _legs(result: BacktestResult) -> set[ExitReason]:
    return {leg.reason for t in result.trades for leg in t.exits}


def assert_same_run(skipped: BacktestResult, full: BacktestResult) -> None:
    """Everything a skipping run reports equals what the candle-by-candle run reports."""
    for i, (a, b) in enumerate(zip(skipped.trades, full.trades, strict=False)):
        assert a == b, f"trade {i} differs with skipping:\n  skip_quiet=True:  {a}\n  False: {b}"
    assert len(skipped.trades) == len(full.trades), (
        f"{len(skipped.trades)} trades with skipping, {len(full.trades)} without"
    )
    assert skipped.trade_list_hash() == full.trade_list_hash()
    assert skipped.final_balance == full.final_balance
    assert str(skipped.final_balance) == str(full.final_balance)
    assert skipped.fees_paid == full.fees_paid
    assert skipped.funding_paid == full.funding_paid
    assert skipped.rejected_orders == full.rejected_orders
    assert skipped.in_market_ms == full.in_market_ms
    assert (skipped.start_ms, skipped.end_ms) == (full.start_ms, full.end_ms)
    np.testing.assert_array_equal(skipped.equity_time_ms, full.equity_time_ms)
    np.testing.assert_allclose(skipped.equity, full.equity, rtol=1e-9, atol=0.0)


@dataclass(frozen=True)
class Case:
    risk: dict[str, Any]
    fees: dict[str, Any]
    must_see: ExitReason | None  # an exit-leg reason the case exists to exercise

    def settings(self) -> Settings:
        return load_settings(risk=self.risk, fees=self.fees)


CASES = {
    "default": Case({}, {}, None),
    "kelly": Case({"sizing": "kelly", "kelly_min_trades": 10}, {}, None),
    "tight-stops-trailing": Case(TIGHT, {}, ExitReason.TRAILING_STOP),
    "daily-halt-1pct": Case({"daily_drawdown_halt": 0.01}, {}, None),
    "max-hold-10min": Case({"max_hold_ms": 600_000}, {}, ExitReason.TIME_EXIT),
    "emergency-exits": Case({"emergency_margin_loss": 0.03}, {}, ExitReason.EMERGENCY),
    "rotation": Case({"max_positions": 1, "rotation_min_edge": 0.0}, {}, ExitReason.ROTATION),
    "hourly-heavy-funding": Case({}, {"funding_rate": 0.01, "funding_interval_hours": 1}, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_skipping_changes_nothing_on_the_sample(
    name: str, sample: Series, rules: ExchangeRules
) -> None:
    case = CASES[name]
    settings = case.settings()
    skipped = _run(sample, settings, rules, skip=True)
    full = _run(sample, settings, rules, skip=False)

    assert len(full.trades) >= 50, "the sample should trade; the comparison would be vacuous"
    assert {ExitReason.STOP_LOSS, ExitReason.PARTIAL_TAKE_PROFIT} & _legs(full)
    if case.must_see is not None:
        assert case.must_see in _legs(full), f"{name} never produced a {case.must_see} exit"
    assert_same_run(skipped, full)


def test_the_halt_case_really_halts(sample: Series, rules: ExchangeRules) -> None:
    """The 1 % daily halt of the case above trips: without it, the same run trades more."""
    halted = _run(sample, CASES["daily-halt-1pct"].settings(), rules, skip=True)
    unhalted = _run(sample, load_settings(risk={"daily_drawdown_halt": 1.0}), rules, skip=True)
    assert len(halted.trades) < len(unhalted.trades)


def test_funding_case_really_charges_funding(sample: Series, rules: ExchangeRules) -> None:
    result = _run(sample, CASES["hourly-heavy-funding"].settings(), rules, skip=True)
    assert sum(1 for t in result.trades if t.funding != 0) >= 20


# Uneven starts and ends, and gaps while positions are open ------------------------------------


def _drop_window(series: CandleSeries, start_ms: int, stop_ms: int) -> CandleSeries:
    """The series without its candles opening in [start_ms, stop_ms)."""
    keep = (series.open_time < start_ms) | (series.open_time >= stop_ms)
    return CandleSeries(
        series.symbol,
        series.interval,
        series.open_time[keep],
        series.open[keep],
        series.high[keep],
        series.low[keep],
        series.close[keep],
        series.volume[keep],
    )


def _until(series: CandleSeries, end_ms: int) -> CandleSeries:
    return series.slice(0, int(np.searchsorted(series.open_time, end_ms)))


def _first_trade(
    result: BacktestResult, symbol: str | None, after_ms: int, min_hold_ms: int
) -> TradeRecord:
    for t in result.trades:
        if (
            (symbol is None or t.symbol == symbol)
            and t.entry_time_ms >= after_ms
            and t.holding_ms >= min_hold_ms
        ):
            return t
    raise AssertionError(f"no {symbol or 'any'} trade held {min_hold_ms} ms after {after_ms}")


@dataclass(frozen=True)
class Ragged:
    """The sample cut up, and the windows where positions were open at a cut."""

    series: Series
    ltc_start_ms: int
    ada_gap: tuple[int, int]
    all_gap: tuple[int, int]
    btc_gap: tuple[int, int]
    doge_end_ms: int


def _ragged(sample: Series, settings: Settings, rules: ExchangeRules) -> Ragged:
    """Cut the sample in time order; each cut is placed inside a trade of the run on the data
    cut so far. History before a cut is unchanged by it, so the aimed-at position is open when
    its gap starts, and (having no candle to exit on) is still open when the gap ends."""
    s = dict(sample)
    ltc = s["LTCUSDT"]
    ltc_start = int(ltc.open_time[2500])
    s["LTCUSDT"] = ltc.slice(2500, len(ltc))

    t = _first_trade(_run(s, settings, rules, skip=True), "ADAUSDT", ltc_start, 20 * MINUTE_MS)
    ada_gap = (
        t.entry_time_ms + 5 * MINUTE_MS,
        t.entry_time_ms + 5 * MINUTE_MS + 10 * 60 * MINUTE_MS,
    )
    s["ADAUSDT"] = _drop_window(s["ADAUSDT"], *ada_gap)

    # A gap of every symbol across a UTC midnight, while something is open.
    result = _run(s, settings, rules, skip=True)
    midnight = (ada_gap[1] // DAY_MS + 1) * DAY_MS
    while not any(
        t.entry_time_ms < midnight - 30 * MINUTE_MS < t.exit_time_ms for t in result.trades
    ):
        midnight += DAY_MS
        assert midnight < result.end_ms, "no midnight with an open position to cut around"
    all_gap = (midnight - 30 * MINUTE_MS, midnight + 45 * MINUTE_MS)
    s = {sym: _drop_window(ser, *all_gap) for sym, ser in s.items()}

    t = _first_trade(_run(s, settings, rules, skip=True), "BTCUSDT", all_gap[1], 15 * MINUTE_MS)
    btc_gap = (t.entry_time_ms + 7 * MINUTE_MS, t.entry_time_ms + 10 * MINUTE_MS)
    s["BTCUSDT"] = _drop_window(s["BTCUSDT"], *btc_gap)

    result = _run(s, settings, rules, skip=True)
    late = result.start_ms + (result.end_ms - result.start_ms) * 7 // 10
    t = _first_trade(result, "DOGEUSDT", max(late, btc_gap[1]), 20 * MINUTE_MS)
    doge_end = t.entry_time_ms + 10 * MINUTE_MS
    s["DOGEUSDT"] = _until(s["DOGEUSDT"], doge_end)
    return Ragged(s, ltc_start, ada_gap, all_gap, btc_gap, doge_end)


def _spans(result: BacktestResult, symbol: str | None, window: tuple[int, int]) -> bool:
    """Some position (of `symbol`) was entered before `window` and closed at or after its end."""
    return any(
        (symbol is None or t.symbol == symbol)
        and t.entry_time_ms < window[0]
        and t.exit_time_ms >= window[1]
        for t in result.trades
    )


@pytest.mark.parametrize("name", ["default", "tight-stops-trailing", "daily-halt-1pct"])
def test_skipping_changes_nothing_with_ragged_data(
    name: str, sample: Series, rules: ExchangeRules
) -> None:
    settings = CASES[name].settings()
    ragged = _ragged(sample, settings, rules)
    s = ragged.series
    firsts = {int(ser.open_time[0]) for ser in s.values()}
    lasts = {int(ser.open_time[-1]) for ser in s.values()}
    assert len(firsts) == 2 and len(lasts) == 2, "symbols should start and end at different times"

    skipped = _run(s, settings, rules, skip=True)
    full = _run(s, settings, rules, skip=False)

    # The scenario is what it claims: positions were open across every cut.
    assert _spans(full, "ADAUSDT", ragged.ada_gap), "no ADA position open across its 10 h gap"
    assert _spans(full, None, ragged.all_gap), "no position open across the all-symbol gap"
    assert _spans(full, "BTCUSDT", ragged.btc_gap), "no BTC position open across its short gap"
    assert _spans(full, "DOGEUSDT", (ragged.doge_end_ms, ragged.doge_end_ms)), (
        "no DOGE position open when its data ended"
    )
    assert not any(
        t.symbol == "LTCUSDT" and t.entry_time_ms <= ragged.ltc_start_ms for t in full.trades
    )
    assert_same_run(skipped, full)


# Coarser candles -----------------------------------------------------------------------------


def _resample(series: CandleSeries, k: int, interval: str) -> CandleSeries:
    """k consecutive 1m candles merged into one (the sample has no gaps, so they align)."""
    n = len(series) // k * k
    return CandleSeries(
        series.symbol,
        interval,
        series.open_time[:n:k],
        series.open[:n:k],
        series.high[:n].reshape(-1, k).max(axis=1),
        series.low[:n].reshape(-1, k).min(axis=1),
        series.close[k - 1 : n : k],
        series.volume[:n].reshape(-1, k).sum(axis=1),
    )


@pytest.mark.parametrize(("k", "interval"), [(5, "5m"), (15, "15m")])
def test_skipping_changes_nothing_on_coarser_candles(
    k: int, interval: str, sample: Series, rules: ExchangeRules
) -> None:
    """Funding times, UTC midnights and time exits fall on other step sizes here; a faster
    baseline keeps the number of trades meaningful."""
    series = {s: _resample(ser, k, interval) for s, ser in sample.items()}
    settings = load_settings(baseline={"fast": 5, "slow": 20}, risk={"max_hold_ms": 86_400_000})
    skipped = _run(series, settings, rules, skip=True)
    full = _run(series, settings, rules, skip=False)
    assert len(full.trades) >= 50
    assert any(t.funding != 0 for t in full.trades)
    assert_same_run(skipped, full)
