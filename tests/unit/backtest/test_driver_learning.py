"""The driver's self-learning hook: closed trades reach the strategy as they close, and a model
change only affects signals after the close at which it happened."""

from __future__ import annotations

from collections.abc import Sequence

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
