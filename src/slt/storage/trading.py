"""The live ledger in the database: what the Brain decided, sent, got filled and holds.

Writes are ops (`slt.storage.trading_ops`) applied idempotently (`trading_writes`), so the
same call is safe to repeat and safe to replay from the degraded-mode journal. Reads are
what a restarting Brain and `slt status` need: open positions with their entry times, the
orders in a given state, today's trades and PnL, the last account snapshot, the experience
buffer for retraining. Amounts come back as the exact `Decimal`s written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
import orjson
from sqlalchemy import RowMapping, Select, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.storage.engine import sqlite_file_twin
from slt.storage.sqlite_writer import SqliteWriter
from slt.storage.trading_ops import (
    AccountSnapshot,
    FillOp,
    OrderIntent,
    PositionOp,
    SignalOp,
    TradeOp,
    WriteOp,
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
from slt.storage.trading_sql import apply_all
from slt.storage.trading_writes import TradingWrites

DAY_MS = 86_400_000
RUN_TABLES: tuple[Table, ...] = (
    live_runs,
    signals,
    orders,
    fills,
    positions,
    live_trades,
    account_snapshots,
    experience,
)
"""Every table whose rows belong to a run."""
S = TypeVar("S", bound=msgspec.Struct)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveRun:
    """One live or paper run; `ended_ms` is None while it runs (or if it crashed)."""

    run_id: str
    venue: str
    started_ms: int
    ended_ms: int | None
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order as first recorded (`intent`) and where it stands now."""

    intent: OrderIntent
    status: str
    code: int
    reason: str
    updated_ms: int


@dataclass(frozen=True, slots=True)
class ExperienceRow:
    """Features at entry, the prediction, and (once the trade closed) what it realised."""

    run_id: str
    symbol: str
    entry_time_ms: int
    model_id: str
    features: tuple[float | None, ...]
    prediction: float
    realised_return: float | None
    exit_reason: str | None
    exit_time_ms: int | None


@dataclass(frozen=True, slots=True)
class DaySummary:
    """The trades that closed in one UTC day (`day_start_ms` ≤ exit < + 1 day) and their sums."""

    day_start_ms: int
    trades: tuple[TradeOp, ...]
    net_pnl: Decimal
    fees: Decimal
    wins: int


def _struct(cls: type[S], row: RowMapping) -> S:
    return cls(**{name: row[name] for name in cls.__struct_fields__})


class TradingStore(TradingWrites):
    """Async access to the live trading tables. Run `slt.storage.migrate` on the engine first.

    Each `apply` is its own transaction, committed before it returns: when the call is
    back, the row is durable. Database errors propagate (see `ResilientStore` for the
    wrapper that journals instead when the database is unreachable).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        twin = sqlite_file_twin(engine)
        # its thread starts at the first write: a store that only reads (`slt status`) has none
        self._writer = SqliteWriter(twin) if twin is not None else None

    async def apply(self, op: WriteOp) -> None:
        await self.apply_many([op])

    async def apply_many(self, ops: Iterable[WriteOp]) -> None:
        """Apply *ops* in order in one transaction: all of them or none. On a SQLite file
        the transaction runs whole in a writer thread (`slt.storage.sqlite_writer`)."""
        batch = list(ops)
        if self._writer is not None:
            await self._writer.apply_many(batch)
            return
        async with self.engine.begin() as conn:
            await apply_all(conn, batch)

    async def aclose(self) -> None:
        """Stop the SQLite writer thread, if one was started (the engine is the caller's)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, writer.close)
            waits = writer.lock_waits
            if waits.count:
                log.info(
                    "ledger writes waited for another process's database lock %d times "
                    "(%.1f ms in all, longest %.1f ms)",
                    waits.count,
                    1000 * waits.total_s,
                    1000 * waits.longest_s,
                )

    # reads ----------------------------------------------------------------------------------
    async def _rows(self, query: Select[Any]) -> Sequence[RowMapping]:
        async with self.engine.connect() as conn:
            rows: Sequence[RowMapping] = (await conn.execute(query)).mappings().all()
        return rows

    async def run(self, run_id: str) -> LiveRun | None:
        rows = await self._rows(select(live_runs).where(live_runs.c.run_id == run_id))
        return _run(rows[0]) if rows else None

    async def latest_run(self, venue: str | None = None) -> LiveRun | None:
        """The most recently started run (of *venue*, if given)."""
        query = select(live_runs).order_by(live_runs.c.started_ms.desc(), live_runs.c.run_id)
        if venue is not None:
            query = query.where(live_runs.c.venue == venue)
        rows = await self._rows(query.limit(1))
        return _run(rows[0]) if rows else None

    async def open_positions(self, run_id: str) -> list[PositionOp]:
        """Open positions of the run with their entry times, by symbol."""
        query = (
            select(positions)
            .where(positions.c.run_id == run_id, positions.c.closed_ms.is_(None))
            .order_by(positions.c.symbol)
        )
        return [_struct(PositionOp, r) for r in await self._rows(query)]

    async def order(self, run_id: str, client_id: str) -> OrderRow | None:
        query = select(orders).where(orders.c.run_id == run_id, orders.c.client_id == client_id)
        rows = await self._rows(query)
        return _order(rows[0]) if rows else None

    async def orders(
        self, run_id: str, statuses: Iterable[str] | None = None, limit: int = 100
    ) -> list[OrderRow]:
        """The run's most recently updated orders, newest first, optionally only *statuses*
        (e.g. ``("intent", "sent")`` for orders whose fate a restart must look up)."""
        query = select(orders).where(orders.c.run_id == run_id)
        if statuses is not None:
            query = query.where(orders.c.status.in_(list(statuses)))
        query = query.order_by(orders.c.updated_ms.desc(), orders.c.client_id.desc()).limit(limit)
        return [_order(r) for r in await self._rows(query)]

    async def fills(self, run_id: str, client_id: str | None = None) -> list[FillOp]:
        """The run's fills (of one order, if given), oldest first."""
        query = select(fills).where(fills.c.run_id == run_id)
        if client_id is not None:
            query = query.where(fills.c.client_id == client_id)
        query = query.order_by(fills.c.time_ms, fills.c.fill_key)
        return [_struct(FillOp, r) for r in await self._rows(query)]

    async def signals(self, run_id: str, since_ms: int = 0) -> list[SignalOp]:
        query = (
            select(signals)
            .where(signals.c.run_id == run_id, signals.c.time_ms >= since_ms)
            .order_by(signals.c.time_ms, signals.c.symbol)
        )
        return [_struct(SignalOp, r) for r in await self._rows(query)]

    async def trades(
        self, run_id: str | None = None, start_ms: int = 0, end_ms: int | None = None
    ) -> list[TradeOp]:
        """Closed trades with ``start_ms <= exit_time_ms < end_ms`` (all runs when run_id is
        None), in exit order."""
        query = select(live_trades).where(live_trades.c.exit_time_ms >= start_ms)
        if run_id is not None:
            query = query.where(live_trades.c.run_id == run_id)
        if end_ms is not None:
            query = query.where(live_trades.c.exit_time_ms < end_ms)
        query = query.order_by(
            live_trades.c.exit_time_ms, live_trades.c.symbol, live_trades.c.entry_time_ms
        )
        return [_struct(TradeOp, r) for r in await self._rows(query)]

    async def day_summary(self, now_ms: int, run_id: str | None = None) -> DaySummary:
        """Trades closed during the UTC day containing *now_ms*, with their net PnL (summed
        exactly in Decimal), fees and number of winners."""
        start = now_ms - now_ms % DAY_MS
        day = await self.trades(run_id, start, start + DAY_MS)
        return DaySummary(
            day_start_ms=start,
            trades=tuple(day),
            net_pnl=sum((t.net_pnl for t in day), Decimal(0)),
            fees=sum((t.fees for t in day), Decimal(0)),
            wins=sum(1 for t in day if t.net_pnl > 0),
        )

    async def last_account(self, run_id: str) -> AccountSnapshot | None:
        query = (
            select(account_snapshots)
            .where(account_snapshots.c.run_id == run_id)
            .order_by(account_snapshots.c.time_ms.desc())
            .limit(1)
        )
        rows = await self._rows(query)
        return _struct(AccountSnapshot, rows[0]) if rows else None

    async def account_history(self, run_id: str, since_ms: int = 0) -> list[AccountSnapshot]:
        query = (
            select(account_snapshots)
            .where(account_snapshots.c.run_id == run_id, account_snapshots.c.time_ms >= since_ms)
            .order_by(account_snapshots.c.time_ms)
        )
        return [_struct(AccountSnapshot, r) for r in await self._rows(query)]

    async def export_run(self, run_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every row of one run, table by table in key order, without the `run_id` column:
        the whole ledger of a run as plain values (to compare runs, or to archive one)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for table in RUN_TABLES:
            key = [c for c in table.primary_key.columns if c.name != "run_id"]
            query = select(table).where(table.c.run_id == run_id).order_by(*key)
            out[table.name] = [
                {k: v for k, v in r.items() if k != "run_id"} for r in await self._rows(query)
            ]
        return out

    async def experience(
        self, run_id: str | None = None, *, closed_only: bool = True
    ) -> list[ExperienceRow]:
        """The experience buffer in entry order; by default only rows with an outcome (what
        retraining can learn from)."""
        query = select(experience)
        if run_id is not None:
            query = query.where(experience.c.run_id == run_id)
        if closed_only:
            query = query.where(experience.c.realised_return.is_not(None))
        query = query.order_by(experience.c.entry_time_ms, experience.c.symbol, experience.c.run_id)
        return [_experience(r) for r in await self._rows(query)]


def _run(r: RowMapping) -> LiveRun:
    ended = r["ended_ms"]
    return LiveRun(
        run_id=str(r["run_id"]),
        venue=str(r["venue"]),
        started_ms=int(r["started_ms"]),
        ended_ms=None if ended is None else int(ended),
        config=orjson.loads(r["config"]),
    )


def _order(r: RowMapping) -> OrderRow:
    return OrderRow(
        intent=_struct(OrderIntent, r),
        status=str(r["status"]),
        code=int(r["code"]),
        reason=str(r["reason"]),
        updated_ms=int(r["updated_ms"]),
    )


def _experience(r: RowMapping) -> ExperienceRow:
    return ExperienceRow(
        run_id=str(r["run_id"]),
        symbol=str(r["symbol"]),
        entry_time_ms=int(r["entry_time_ms"]),
        model_id=str(r["model_id"]),
        features=tuple(orjson.loads(r["features"])),
        prediction=float(r["prediction"]),
        realised_return=r["realised_return"],
        exit_reason=r["exit_reason"],
        exit_time_ms=r["exit_time_ms"],
    )
