"""The named write methods shared by both stores, and the rules every write follows.

Idempotency is decided per table, from its natural key (`slt.storage.trading_sql` turns the
rules into SQL):

* insert-once rows (runs, signals, order intents, fills, trades, account snapshots,
  experience) use INSERT … ON CONFLICT DO NOTHING: the first write wins, a repeat is a no-op;
* an order's status only moves forward (`ORDER_STATUSES` ranks), so a replayed or late
  'sent' never overwrites 'filled';
* a position is the newest state of its (run, symbol): an upsert or close only applies when
  it is not older than the stored row (`updated_ms`), so applying a history twice ends on the
  same row as applying it once. An upsert without a mark keeps the stored `mark_price` (it is
  still the symbol's last known price) but sets `unrealized_pnl` as given, even to None: a
  PnL belongs to the size it was computed for, and a resize or a reopened position must not
  show the old one (`slt status` computes it from the mark instead);
* an end time or an experience's outcome is a plain set: repeating it sets the same value.

An update whose row does not exist yet (a run's end before its start, an order update before
its intent, a close before the position, an outcome before its experience) changes nothing:
the write-ahead order guarantees the row comes first, and the journal replays in that order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from slt.domain import Fill, OrderRequest, Position, Signal, TradeRecord
from slt.storage.trading_ops import (
    AccountSnapshot,
    ClosePosition,
    EndRun,
    OrderUpdate,
    OutcomeOp,
    StartRun,
    WriteOp,
    experience_of,
    fill_of,
    intent_of,
    position_of,
    signal_of,
    trade_of,
)


class TradingWrites(ABC):
    """The named writes, each building one op and handing it to `apply`.

    `TradingStore` applies it to the database; `ResilientStore` falls back to the journal.
    Both therefore accept exactly the same calls, which is what the Brain is written against.
    """

    @abstractmethod
    async def apply(self, op: WriteOp) -> None:
        """Store *op* (or keep it safe until it can be stored)."""

    async def apply_many(self, ops: Iterable[WriteOp]) -> None:
        for op in ops:
            await self.apply(op)

    async def start_run(
        self, run_id: str, venue: str, started_ms: int, config: dict[str, Any] | None = None
    ) -> None:
        await self.apply(StartRun(run_id, venue, started_ms, dict(config or {})))

    async def end_run(self, run_id: str, ended_ms: int) -> None:
        await self.apply(EndRun(run_id, ended_ms))

    async def record_signal(self, run_id: str, signal: Signal) -> None:
        await self.apply(signal_of(run_id, signal))

    async def record_intent(self, run_id: str, order: OrderRequest) -> None:
        """Persist an order before it is sent (write-ahead); repeating it changes nothing."""
        await self.apply(intent_of(run_id, order))

    async def update_order(
        self,
        run_id: str,
        client_id: str,
        status: str,
        time_ms: int,
        *,
        code: int = 0,
        reason: str = "",
    ) -> None:
        """Move an order to `status`; ignored when the stored status is as far or further."""
        await self.apply(OrderUpdate(run_id, client_id, status, time_ms, code, reason))

    async def record_fill(self, run_id: str, fill: Fill, trade_id: int | None = None) -> None:
        """Persist a fill before the engine acts on it; keyed by `trading_ops.fill_key`."""
        await self.apply(fill_of(run_id, fill, trade_id))

    async def upsert_position(self, run_id: str, position: Position, updated_ms: int) -> None:
        await self.apply(position_of(run_id, position, updated_ms))

    async def close_position(self, run_id: str, symbol: str, time_ms: int) -> None:
        await self.apply(ClosePosition(run_id, symbol, time_ms))

    async def record_trade(self, run_id: str, trade: TradeRecord) -> None:
        await self.apply(trade_of(run_id, trade))

    async def record_account(
        self,
        run_id: str,
        time_ms: int,
        balance: Decimal,
        equity: Decimal,
        available: Decimal,
        open_positions: int,
    ) -> None:
        await self.apply(
            AccountSnapshot(run_id, time_ms, balance, equity, available, open_positions)
        )

    async def record_experience(
        self,
        run_id: str,
        symbol: str,
        entry_time_ms: int,
        model_id: str,
        features: Iterable[float],
        prediction: float,
    ) -> None:
        await self.apply(
            experience_of(run_id, symbol, entry_time_ms, model_id, features, prediction)
        )

    async def record_outcome(
        self,
        run_id: str,
        symbol: str,
        entry_time_ms: int,
        realised_return: float,
        exit_reason: str,
        exit_time_ms: int,
    ) -> None:
        await self.apply(
            OutcomeOp(run_id, symbol, entry_time_ms, realised_return, exit_reason, exit_time_ms)
        )
