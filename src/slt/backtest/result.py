"""What a backtest produces: the input of the report, the run store and the golden master."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from slt.domain.candle import F64, I64
from slt.domain.model import ModelEvent
from slt.domain.position import TradeRecord


@dataclass(frozen=True)
class BacktestResult:
    """A finished run.

    The equity curve is sampled at every step the engine processed, plus the first and last
    candle; between two samples equity did not change (nothing was open), so it can be
    forward-filled onto any grid. `in_market_ms` is the time at least one position was open.
    """

    run_id: str
    config: dict[str, Any]
    symbols: tuple[str, ...]
    interval: str
    start_ms: int
    end_ms: int
    initial_balance: Decimal
    final_balance: Decimal
    trades: tuple[TradeRecord, ...]
    equity_time_ms: I64
    equity: F64
    in_market_ms: int
    fees_paid: Decimal
    funding_paid: Decimal
    rejected_orders: dict[str, int] = field(default_factory=dict)
    candles_processed: int = 0
    elapsed_s: float = 0.0
    model_events: tuple[ModelEvent, ...] = ()
    """Each retrain of a self-learning strategy during the run, and whether it was promoted."""

    def trade_list_hash(self) -> str:
        """SHA-256 of the canonical trade list: the golden master of a reference run."""
        return trades_hash(self.trades)


def trades_hash(trades: tuple[TradeRecord, ...]) -> str:
    payload = msgspec.json.encode([msgspec.to_builtins(t) for t in trades])
    return hashlib.sha256(payload).hexdigest()
