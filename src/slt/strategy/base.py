"""The strategy interface: features in, `Signal`s out. Sizing and exits belong to the risk layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from slt.domain import Candle, CandleSeries, ModelEvent, Signal, TradeRecord
from slt.domain.candle import F64


@dataclass(frozen=True, slots=True)
class SignalColumns:
    """Signals for every bar of a series, as columns (batch mode, used by backtests).

    `direction[i]` is the signal at the close of bar i (0 = none); the other columns are only
    meaningful where the direction is non-zero.
    """

    direction: np.ndarray
    expected_return: F64
    confidence: F64
    atr_pct: F64

    def slice(self, start: int) -> SignalColumns:
        """Rows from `start` on (the bars after a warm-up history)."""
        return SignalColumns(
            self.direction[start:],
            self.expected_return[start:],
            self.confidence[start:],
            self.atr_pct[start:],
        )

    def signal(self, symbol: str, time_ms: int, i: int, source: str) -> Signal | None:
        # .item(i) gives the Python number directly, without a numpy scalar to convert
        d = int(self.direction.item(i))
        if d == 0:
            return None
        return Signal(
            symbol,
            time_ms,
            d,
            float(self.expected_return.item(i)),
            float(self.confidence.item(i)),
            float(self.atr_pct.item(i)),
            source,
        )


class SymbolState(Protocol):
    """Incremental per-symbol state: one closed candle in, the signal at its close out."""

    def update(self, candle: Candle) -> Signal | None: ...


class Strategy(Protocol):
    """A strategy has a batch form for backtests and an incremental form for live trading.

    Both must give the same signal at every bar (a test checks it): batch is only a faster way
    to compute what the incremental form would have said candle by candle.
    """

    @property
    def name(self) -> str: ...

    def batch(self, series: CandleSeries) -> SignalColumns: ...

    def incremental(self, symbol: str) -> SymbolState: ...


@runtime_checkable
class LearningStrategy(Strategy, Protocol):
    """A strategy that learns from the trades it caused (the self-learning loop).

    The driver reports every closed trade as soon as it closes, with the close time. When the
    strategy answers True its model changed: the driver asks `batch` again and uses the new
    signals only for bars closing after `now_ms`, so nothing decided earlier is rewritten. The
    strategy must itself train only on what was known at `now_ms`. `due_ms` is a close time
    at which it wants to be asked even if no trade closed (a model grown too old); the driver
    then calls `on_trades_closed` with no trades at the first close at or after it.
    """

    def on_trades_closed(self, trades: Sequence[TradeRecord], now_ms: int) -> bool: ...

    def due_ms(self) -> int | None: ...

    def model_events(self) -> tuple[ModelEvent, ...]: ...
