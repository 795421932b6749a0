"""What a trader relies on from a backtest, checked on the bundled sample's real candles.

* No entry fills at the close it was decided on: every trade's entry fill is at the open of the
  symbol's next candle after the candle whose close gave the signal (also across a data gap),
  at that open's price (exactly, without slippage; within the slippage, adverse, with it).
* The ledger closes: final − initial balance == Σ trade.net_pnl exactly (Decimal), also when
  the data ends right on a reversal signal; each trade's net = gross − fees − funding, and its
  exit legs add up to it.
* At most `max_positions` (3) positions are held at once, rebuilt from entry/exit times.
* Every trade says why it ended; its last exit leg is that reason, at its exit time.
* A run is deterministic: same inputs, same trade-list hash (dict order and instances aside).
* Bad input raises `BacktestError` whose message names the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pytest

from slt.backtest.driver import BacktestError, run_backtest
from slt.backtest.result import BacktestResult
from slt.config import Settings, load_settings
from slt.domain import CandleSeries, ExitReason, Side
from slt.domain.candle import MINUTE_MS
from slt.rules import ExchangeRules
from slt.strategy.baseline import EmaAtrBaseline

Series = dict[str, CandleSeries]

SETTINGS = {
    "default": {},
    "no-slippage": {"fees": {"slippage_pct": 0.0}},
    "tight": {
        "risk": {
            "stop_loss_pct": 0.003,
            "take_profit_pct": 0.006,
            "trailing_activation_pct": 0.002,
            "trailing_distance_pct": 0.001,
        }
    },
    "kelly": {"risk": {"sizing": "kelly", "kelly_min_trades": 10}},
    "heavy-funding": {"fees": {"funding_rate": 0.01, "funding_interval_hours": 1}},
    "rotation": {"risk": {"max_positions": 1, "rotation_min_edge": 0.0}},
}


@pytest.fixture(scope="module")
def runs(sample: Series, rules: ExchangeRules) -> dict[str, BacktestResult]:
    """One run of the sample per settings case, shared by the checks below."""
    return {name: _run(sample, load_settings(**ov), rules) for name, ov in SETTINGS.items()}


def _run(
    series: Mapping[str, CandleSeries], settings: Settings, rules: ExchangeRules
) -> BacktestResult:
    return run_backtest(series, EmaAtrBaseline(settings.baseline), settings, rules)


def _relabel(series: CandleSeries, symbol: str, interval: str | None = None) -> CandleSeries:
    return CandleSeries(
        symbol,
        interval or series.interval,
        series.open_time,
        series.open,
        series.high,
        series.low,
        series.close,
        series.volume,
    )


def _drop_rows(series: CandleSeries, start: int, stop: int) -> CandleSeries:
    keep = np.r_[0:start, stop : len(series)]
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


# Entries fill at the next open -------------------------------------------------------------


def _entry_rows(
    result: BacktestResult, series: Mapping[str, CandleSeries], settings: Settings
) -> list[tuple[int, int]]:
    """(trade index, row of the entry candle) after checking each entry is at a candle open
    right after a candle whose close signalled the trade's direction."""
    strategy = EmaAtrBaseline(settings.baseline)
    direction = {s: strategy.batch(ser).direction for s, ser in series.items()}
    out = []
    for k, t in enumerate(result.trades):
        ser = series[t.symbol]
        r = int(np.searchsorted(ser.open_time, t.entry_time_ms))
        assert r < len(ser) and ser.open_time[r] == t.entry_time_ms, (
            f"trade {k} ({t.symbol}) entered at {t.entry_time_ms}, not at a candle open"
        )
        assert r >= 1, f"trade {k} entered on the first candle: no earlier close decided it"
        assert int(direction[t.symbol][r - 1]) == int(t.side), (
            f"trade {k} ({t.symbol} {t.side.name}) filled at row {r}, but the close of row "
            f"{r - 1} gave direction {int(direction[t.symbol][r - 1])}"
        )
        out.append((k, r))
    return out


@pytest.mark.parametrize("name", ["default", "no-slippage", "tight", "rotation"])
def test_every_entry_fills_at_the_open_after_its_signal_candle(
    name: str, runs: dict[str, BacktestResult], sample: Series, rules: ExchangeRules
) -> None:
    settings = load_settings(**SETTINGS[name])
    result = runs[name]
    assert len(result.trades) >= 50
    slip = settings.fees.slippage_pct
    differs = 0
    for k, r in _entry_rows(result, sample, settings):
        t = result.trades[k]
        ser = sample[t.symbol]
        opened = Decimal(repr(float(ser.open[r])))
        decided = Decimal(repr(float(ser.close[r - 1])))
        tick = rules.get(t.symbol).tick_size
        if slip == 0:
            assert t.entry_price == opened, f"trade {k} filled at {t.entry_price}, open {opened}"
        elif t.side is Side.LONG:
            assert opened <= t.entry_price <= opened * Decimal(1 + slip) + tick, k
        else:
            assert opened * Decimal(1 - slip) - tick <= t.entry_price <= opened, k
        differs += opened != decided
    # Half the sample's candles open away from the previous close: those trades prove the
    # fill is at the next open rather than at the deciding close.
    assert differs >= len(result.trades) // 4


def test_a_signal_before_a_gap_fills_at_the_first_open_after_it(
    sample: Series, rules: ExchangeRules, runs: dict[str, BacktestResult]
) -> None:
    """Cut 30 candles right after a signal candle: the entry waits for the next candle that
    exists and fills at its open, not at the close it was decided on."""
    settings = load_settings(**SETTINGS["no-slippage"])
    trade = runs["no-slippage"].trades[len(runs["no-slippage"].trades) // 2]
    ser = sample[trade.symbol]
    r = int(np.searchsorted(ser.open_time, trade.entry_time_ms))
    gapped = dict(sample)
    gapped[trade.symbol] = _drop_rows(ser, r, r + 30)
    result = _run(gapped, settings, rules)

    _entry_rows(result, gapped, settings)
    signal_close = int(ser.open_time[r - 1]) + ser.interval_ms
    after = [
        t for t in result.trades if t.symbol == trade.symbol and t.entry_time_ms >= signal_close
    ]
    first = after[0]
    assert first.entry_time_ms == int(ser.open_time[r + 30]) == signal_close + 30 * MINUTE_MS
    assert first.side is trade.side
    assert first.entry_price == Decimal(repr(float(ser.open[r + 30])))


# The ledger --------------------------------------------------------------------------------


def _assert_ledger(result: BacktestResult) -> None:
    total = sum((t.net_pnl for t in result.trades), Decimal(0))
    assert result.final_balance - result.initial_balance == total, (
        f"balance moved {result.final_balance - result.initial_balance}, trades net {total}"
    )
    for k, t in enumerate(result.trades):
        assert t.net_pnl == t.gross_pnl - t.fees - t.funding, k
        assert t.gross_pnl == sum((leg.pnl for leg in t.exits), Decimal(0)), k
        assert sum((leg.quantity for leg in t.exits), Decimal(0)) == t.quantity, k
        assert t.fees > sum((leg.fee for leg in t.exits), Decimal(0)), f"{k}: no entry fee"
    assert result.fees_paid == sum((t.fees for t in result.trades), Decimal(0))


@pytest.mark.parametrize("name", list(SETTINGS))
def test_balance_change_is_exactly_the_sum_of_trade_pnl(
    name: str, runs: dict[str, BacktestResult]
) -> None:
    result = runs[name]
    assert len(result.trades) >= 50
    assert isinstance(result.final_balance, Decimal)
    assert result.final_balance != result.initial_balance
    _assert_ledger(result)
    if name == "heavy-funding":
        assert result.funding_paid > 0


def test_ledger_closes_when_the_data_ends_on_a_reversal(
    sample: Series, rules: ExchangeRules, runs: dict[str, BacktestResult]
) -> None:
    """The last candle's close reverses an open position: its exit and the new entry are both
    decided with no next open to fill at. No money may be left outside the trade list."""
    reversal = next(
        t for t in reversed(runs["default"].trades) if t.exit_reason is ExitReason.SIGNAL_REVERSAL
    )
    # The reversal exit fills at the open after the signal candle: end the data before it.
    cut = {
        s: ser.slice(0, int(np.searchsorted(ser.open_time, reversal.exit_time_ms)))
        for s, ser in sample.items()
    }
    result = _run(cut, load_settings(), rules)
    assert result.end_ms == reversal.exit_time_ms
    same = [
        t
        for t in result.trades
        if t.symbol == reversal.symbol and t.entry_time_ms == reversal.entry_time_ms
    ]
    assert len(same) == 1
    assert same[0].exit_reason is ExitReason.SIGNAL_REVERSAL
    assert same[0].exit_time_ms == result.end_ms
    # Entries decided on the last close have no next open: they never fill.
    assert all(t.entry_time_ms < result.end_ms for t in result.trades)
    _assert_ledger(result)


# Portfolio limit and exit reasons -----------------------------------------------------------


def _max_held(result: BacktestResult) -> int:
    """Most positions held at once; a position exiting at the instant another enters does not
    overlap it (exits sort before entries at equal times)."""
    events = sorted(
        (time, delta)
        for t in result.trades
        for time, delta in ((t.entry_time_ms, 1), (t.exit_time_ms, -1))
    )
    held = peak = 0
    for _, delta in events:
        held += delta
        peak = max(peak, held)
    return peak


@pytest.mark.parametrize("name", ["default", "tight", "kelly", "heavy-funding"])
def test_never_more_than_three_positions_at_once(
    name: str, runs: dict[str, BacktestResult]
) -> None:
    assert load_settings(**SETTINGS[name]).risk.max_positions == 3
    assert _max_held(runs[name]) == 3, "the limit should be reached and never passed"


def test_position_limit_follows_the_setting(
    sample: Series, rules: ExchangeRules, runs: dict[str, BacktestResult]
) -> None:
    assert _max_held(runs["rotation"]) == 1
    assert any(t.exit_reason is ExitReason.ROTATION for t in runs["rotation"].trades)
    two = _run(sample, load_settings(risk={"max_positions": 2}), rules)
    assert _max_held(two) == 2


def test_position_limit_holds_when_a_symbols_data_ends_early(
    sample: Series, rules: ExchangeRules
) -> None:
    series = dict(sample)
    doge = series["DOGEUSDT"]
    series["DOGEUSDT"] = doge.slice(0, int(np.searchsorted(doge.open_time, 1_750_383_540_000)))
    result = _run(series, load_settings(), rules)
    assert _max_held(result) <= 3
    # What DOGE held when its data ended is closed right there, at its last close.
    last = int(series["DOGEUSDT"].open_time[-1]) + 60_000
    doge_exits = [t.exit_time_ms for t in result.trades if t.symbol == "DOGEUSDT"]
    assert max(doge_exits) <= last


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_trade_says_why_it_ended(name: str, runs: dict[str, BacktestResult]) -> None:
    result = runs[name]
    for k, t in enumerate(result.trades):
        assert isinstance(t.exit_reason, ExitReason), k
        assert t.exit_reason is not ExitReason.PARTIAL_TAKE_PROFIT, f"{k}: a partial is not an end"
        assert t.exits, f"trade {k} has no exit legs"
        assert t.exits[-1].reason is t.exit_reason, k
        assert t.exits[-1].time_ms == t.exit_time_ms >= t.entry_time_ms, k
        assert all(leg.reason is ExitReason.PARTIAL_TAKE_PROFIT for leg in t.exits[:-1]), k
        if t.exit_reason is ExitReason.END_OF_DATA:
            assert t.exit_time_ms == result.end_ms, k
    assert len({t.exit_reason for t in result.trades}) >= 3


# Determinism ---------------------------------------------------------------------------------


def test_backtest_is_deterministic(
    sample: Series, rules: ExchangeRules, runs: dict[str, BacktestResult]
) -> None:
    settings = load_settings()
    first = runs["default"]
    reordered = {s: sample[s] for s in reversed(list(sample))}
    again = run_backtest(
        reordered, EmaAtrBaseline(load_settings().baseline), settings, rules, run_id="again"
    )
    assert first.trades, "an empty trade list would hash the same every time"
    assert again.trade_list_hash() == first.trade_list_hash()
    assert again.trades == first.trades
    assert again.final_balance == first.final_balance
    np.testing.assert_array_equal(again.equity, first.equity)
    assert again.trade_list_hash() != runs["tight"].trade_list_hash()


# Bad input -----------------------------------------------------------------------------------


def test_no_series_is_refused_with_the_import_command(rules: ExchangeRules) -> None:
    settings = load_settings()
    with pytest.raises(BacktestError, match="slt data import"):
        run_backtest({}, EmaAtrBaseline(settings.baseline), settings, rules)


def test_a_symbol_without_exchange_rules_is_refused_by_name(
    sample: Series, rules: ExchangeRules
) -> None:
    settings = load_settings()
    series = {"BTCUSDT": sample["BTCUSDT"], "FOOUSDT": _relabel(sample["LTCUSDT"], "FOOUSDT")}
    with pytest.raises(BacktestError, match=r"FOOUSDT.*drop it from --symbols"):
        run_backtest(series, EmaAtrBaseline(settings.baseline), settings, rules)


def test_mixed_intervals_are_refused_with_the_interval_option(
    sample: Series, rules: ExchangeRules
) -> None:
    settings = load_settings()
    ltc = sample["LTCUSDT"]
    five = ltc.slice(0, len(ltc))
    five = CandleSeries(
        "LTCUSDT",
        "5m",
        five.open_time[::5],
        five.open[::5],
        five.high[::5],
        five.low[::5],
        five.close[::5],
        five.volume[::5],
    )
    series = {"BTCUSDT": sample["BTCUSDT"], "LTCUSDT": five}
    with pytest.raises(BacktestError, match=r"different intervals.*'1m'.*'5m'.*--interval"):
        run_backtest(series, EmaAtrBaseline(settings.baseline), settings, rules)


def test_an_empty_series_is_refused_with_the_window_options(
    sample: Series, rules: ExchangeRules
) -> None:
    settings = load_settings()
    series = {"BTCUSDT": sample["BTCUSDT"], "LTCUSDT": sample["LTCUSDT"].slice(0, 0)}
    with pytest.raises(BacktestError, match=r"LTCUSDT.*widen --start/--end"):
        run_backtest(series, EmaAtrBaseline(settings.baseline), settings, rules)
