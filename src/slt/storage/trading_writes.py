"""How each write op becomes SQL, and the named write methods shared by both stores.

Idempotency is decided here, per table, from its natural key:

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

import msgspec
from sqlalchemy import Insert, Table, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slt.domain import Fill, OrderRequest, Position, Signal, TradeRecord
from slt.storage.runs import dumps
from slt.storage.trading_ops import (
    ORDER_STATUSES,
    AccountSnapshot,
    ClosePosition,
    EndRun,
    ExperienceOp,
    FillOp,
    OrderIntent,
    OrderUpdate,
    OutcomeOp,
    PositionOp,
    SignalOp,
    StartRun,
    TradeOp,
    WriteOp,
    experience_of,
    fill_of,
    intent_of,
    position_of,
    signal_of,
    trade_of,
)
from slt.storage.trading_schema import (
    account_snapshots,
    experience,
    fills,
    live_runs,
    live_trades,
    orders,
    positions,
    signals,
)

_INSERT_ONCE: dict[type[Any], Table] = {
    SignalOp: signals,
    FillOp: fills,
    TradeOp: live_trades,
    AccountSnapshot: account_snapshots,
}


def _insert(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both databases support it)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _values(op: msgspec.Struct) -> dict[str, Any]:
    return {name: getattr(op, name) for name in op.__struct_fields__}


async def apply_in(conn: AsyncConnection, op: WriteOp) -> None:
    """Apply one op inside the caller's transaction (see the module notes for the rules)."""
    table = _INSERT_ONCE.get(type(op))
    if table is not None:
        await _insert_once(conn, table, _values(op))
    elif isinstance(op, OrderIntent):
        row = _values(op)
        row.update(status="intent", status_rank=0, code=0, reason="", updated_ms=op.created_ms)
        await _insert_once(conn, orders, row)
    elif isinstance(op, OrderUpdate):
        rank = ORDER_STATUSES[op.status]
        await conn.execute(
            update(orders)
            .where(
                orders.c.run_id == op.run_id,
                orders.c.client_id == op.client_id,
                orders.c.status_rank < rank,
            )
            .values(
                status=op.status,
                status_rank=rank,
                code=op.code,
                reason=op.reason,
                updated_ms=op.time_ms,
            )
        )
    elif isinstance(op, PositionOp):
        await _upsert_position(conn, op)
    elif isinstance(op, ClosePosition):
        await conn.execute(
            update(positions)
            .where(
                positions.c.run_id == op.run_id,
                positions.c.symbol == op.symbol,
                positions.c.closed_ms.is_(None),
                positions.c.updated_ms <= op.time_ms,
            )
            .values(closed_ms=op.time_ms, updated_ms=op.time_ms)
        )
    elif isinstance(op, StartRun):
        row = _values(op)
        row["config"] = dumps(op.config)
        await _insert_once(conn, live_runs, row)
    elif isinstance(op, EndRun):
        await conn.execute(
            update(live_runs).where(live_runs.c.run_id == op.run_id).values(ended_ms=op.ended_ms)
        )
    elif isinstance(op, ExperienceOp):
        row = _values(op)
        row["features"] = msgspec.json.encode(list(op.features)).decode()
        await _insert_once(conn, experience, row)
    elif isinstance(op, OutcomeOp):
        await conn.execute(
            update(experience)
            .where(
                experience.c.run_id == op.run_id,
                experience.c.symbol == op.symbol,
                experience.c.entry_time_ms == op.entry_time_ms,
            )
            .values(
                realised_return=op.realised_return,
                exit_reason=op.exit_reason,
                exit_time_ms=op.exit_time_ms,
            )
        )
    else:  # pragma: no cover - the union is closed; a new op must be handled above
        raise TypeError(f"no rule to store {type(op).__name__}")


async def _insert_once(conn: AsyncConnection, table: Table, row: dict[str, Any]) -> None:
    stmt: Insert = _insert(conn, table).values(**row)
    await conn.execute(stmt.on_conflict_do_nothing())  # type: ignore[attr-defined]


async def _upsert_position(conn: AsyncConnection, op: PositionOp) -> None:
    row = _values(op)
    row["closed_ms"] = None
    stmt = _insert(conn, positions).values(**row)
    changed: dict[str, Any] = {
        k: stmt.excluded[k] for k in row if k not in ("run_id", "symbol", "mark_price")
    }
    changed["mark_price"] = func.coalesce(stmt.excluded.mark_price, positions.c.mark_price)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[positions.c.run_id, positions.c.symbol],
            set_=changed,
            where=positions.c.updated_ms <= stmt.excluded.updated_ms,
        )
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
