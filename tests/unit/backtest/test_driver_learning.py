"""The driver's self-learning hook: closed trades reach the strategy as they close, and a model
change only affects signals after the close at which it happened."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from slt.backtest.driver import run_backtest
from slt.config import load_settings
from slt.domain import Candle, CandleSeries, ModelEvent, Side, Signal, TradeRecord
from slt.rules import ExchangeRules
from slt.strategy.base import LearningStrategy, SignalColumns

EVERY = 97
"""A signal every 97 bars: far enough apart that trades do not overlap much."""


class FlipAfterTrades:
    """Goes long every `EVERY` bars until it has seen `flip_after` trades, short afterwards.

    A stand-in for a model that retrains: its "model" is the direction it trades.
    """

    name = "flip"

    def __init__(self, flip_after: int) -> None:
        self.flip_after = flip_after
        self.direction = 1
        self.seen: list[TradeRecord] = []
        self.calls: list[tuple[int, int]] = []  # (now_ms, trades in the call)
        self.flipped_at: int | None = None
        self.events: list[ModelEvent] = []

    def batch(self, series: CandleSeries) -> SignalColumns:
        n = len(series)
        direction = np.zeros(n, dtype=np.int64)
        direction[EVERY::EVERY] = self.direction
        return SignalColumns(direction, np.full(n, 0.01), np.full(n, 0.6), np.full(n, 0.004))

    def incremental(self, symbol: str) -> _NoLive:
        return _NoLive()

    def on_trades_closed(self, trades: Sequence[TradeRecord], now_ms: int) -> bool:
        self.calls.append((now_ms, len(trades)))
        self.seen.extend(trades)
        if self.flipped_at is None and len(self.seen) >= self.flip_after:
            self.direction, self.flipped_at = -1, now_ms
            self.events.append(ModelEvent(now_ms, len(self.seen), "trades", "b", "b", True, {}))
            return True
        return False

    def model_events(self) -> tuple[ModelEvent, ...]:
        return tuple(self.events)

    def due_ms(self) -> int | None:
        return None


class _NoLive:
    def update(self, candle: Candle) -> Signal | None:
        return None


def test_trades_reach_the_strategy_once_as_they_close_and_a_change_rewrites_no_past(
    sample: dict[str, CandleSeries], rules: ExchangeRules
) -> None:
    series = {"BTCUSDT": sample["BTCUSDT"], "LTCUSDT": sample["LTCUSDT"]}
    settings = load_settings()
    runs = {}
    for skip in (True, False):
        strategy = FlipAfterTrades(flip_after=10)
        assert isinstance(strategy, LearningStrategy)
        runs[skip] = (strategy, run_backtest(series, strategy, settings, rules, skip_quiet=skip))

    strategy, result = runs[True]
    assert result.trades == runs[False][1].trades, "skipping quiet candles changed the run"
    # Every trade closed before the data ended was reported exactly once, at its close.
    reported = strategy.seen
    assert reported == list(result.trades[: len(reported)])
    assert len(reported) >= len(result.trades) - 2  # the last ones close at the data's end
    assert all(now >= t.exit_time_ms for (now, _), t in zip(strategy.calls, reported, strict=False))
    # Before the change every entry is long; entries decided after it are short.
    flipped = strategy.flipped_at
    assert flipped is not None
    before = [t for t in result.trades if t.entry_time_ms <= flipped]
    after = [t for t in result.trades if t.entry_time_ms > flipped + 60_000]
    assert len(before) >= 10 and after
    assert {t.side for t in before} == {Side.LONG}
    assert {t.side for t in after} == {Side.SHORT}
    assert result.model_events == tuple(strategy.events)


class AgeOnly(FlipAfterTrades):
    """Never signals; asks to be woken every `every_ms` of simulated time."""

    def __init__(self, start_ms: int, every_ms: int) -> None:
        super().__init__(flip_after=10**9)
        self.next_due = start_ms + every_ms
        self.every_ms = every_ms

    def batch(self, series: CandleSeries) -> SignalColumns:
        n = len(series)
        z = np.zeros(n)
        return SignalColumns(np.zeros(n, dtype=np.int64), z, z, z)

    def on_trades_closed(self, trades: Sequence[TradeRecord], now_ms: int) -> bool:
        self.calls.append((now_ms, len(trades)))
        self.next_due = now_ms + self.every_ms
        return False

    def due_ms(self) -> int | None:
        return self.next_due


def test_a_due_time_wakes_the_strategy_even_when_nothing_trades(
    sample: dict[str, CandleSeries], rules: ExchangeRules
) -> None:
    series = {"ADAUSDT": sample["ADAUSDT"]}
    start = int(series["ADAUSDT"].open_time[0])
    every = 6 * 3_600_000 + 30_000  # not on a candle boundary: the next close after it counts
    calls = {}
    for skip in (True, False):
        strategy = AgeOnly(start, every)
        run_backtest(series, strategy, load_settings(), rules, skip_quiet=skip)
        calls[skip] = strategy.calls
    assert calls[True] == calls[False]
    times = [t for t, n in calls[True]]
    assert len(times) >= 40 and all(n == 0 for _, n in calls[True])
    assert times[0] == start + every + 30_000  # the first close at or after the due time
    assert all(b - a == every + 30_000 for a, b in pairwise(times))


def test_history_before_start_only_warms_the_strategy_up(
    sample: dict[str, CandleSeries], rules: ExchangeRules
) -> None:
    from slt.strategy.baseline import EmaAtrBaseline

    series = {"BTCUSDT": sample["BTCUSDT"], "DOGEUSDT": sample["DOGEUSDT"]}
    settings = load_settings()
    strategy = EmaAtrBaseline(settings.baseline)
    btc = series["BTCUSDT"]
    start = int(btc.open_time[len(btc) // 2]) + 30_000  # mid-candle: the next candle starts it
    warm = run_backtest(series, strategy, settings, rules, start_ms=start)
    assert warm.start_ms == start + 30_000
    assert warm.candles_processed == sum(int((s.open_time >= start).sum()) for s in series.values())
    assert warm.trades and all(t.entry_time_ms > start for t in warm.trades)
    # Every entry follows a signal of the strategy computed on the WHOLE history.
    for t in warm.trades[:20]:
        ser = series[t.symbol]
        row = int(np.searchsorted(ser.open_time, t.entry_time_ms)) - 1
        assert strategy.batch(ser).direction[row] == int(t.side)
