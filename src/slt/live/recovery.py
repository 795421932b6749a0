"""What the database remembers about the account, read once when the Brain starts.

The engine's snapshot file is the fast path back after a restart, but it is a single local
file: a new container, a wiped volume or a damaged file loses it. The database keeps what
must never be lost with it — which positions are open and since when (the 2-hour time exit
counts from there), and which of our orders were still in flight. `recall` reads that, and
the Brain hands it to reconciliation: a position the exchange holds and the engine does not
know is adopted with its stored entry time instead of "now".

A local replay venue starts empty on every `slt run`, so only the current run's rows count
there; on Binance the account outlives the run, so open positions of earlier runs on the
same venue count as well (newest row per symbol).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.domain import Side
from slt.storage.trading_schema import fills, live_runs, orders, positions


@dataclass(frozen=True, slots=True)
class StoredPosition:
    run_id: str
    symbol: str
    side: Side
    entry_time_ms: int


@dataclass(frozen=True, slots=True)
class Recalled:
    positions: dict[str, StoredPosition] = field(default_factory=dict)
    """Open positions by symbol (the newest row when several runs left one open)."""
    open_orders: dict[str, str] = field(default_factory=dict)
    """Client id → symbol of this run's orders not known to have ended."""
    last_fill_ms: int = 0
    """The newest fill stored for this run (0: none)."""

    def entry_times(self) -> dict[str, tuple[Side, int]]:
        return {s: (p.side, p.entry_time_ms) for s, p in self.positions.items()}


async def recall(engine: AsyncEngine, run_id: str, venue: str, *, same_run_only: bool) -> Recalled:
    """Open positions and unfinished orders as stored (see the module notes for the scope)."""
    query = (
        select(
            positions.c.run_id,
            positions.c.symbol,
            positions.c.side,
            positions.c.entry_time_ms,
        )
        .join(live_runs, live_runs.c.run_id == positions.c.run_id)
        .where(positions.c.closed_ms.is_(None), live_runs.c.venue == venue)
        .order_by(positions.c.updated_ms)
    )
    if same_run_only:
        query = query.where(positions.c.run_id == run_id)
    found: dict[str, StoredPosition] = {}
    async with engine.connect() as conn:
        for row in (await conn.execute(query)).mappings():
            symbol = str(row["symbol"])
            found[symbol] = StoredPosition(
                str(row["run_id"]), symbol, Side[str(row["side"])], int(row["entry_time_ms"])
            )
        unfinished = await conn.execute(
            select(orders.c.client_id, orders.c.symbol).where(
                orders.c.run_id == run_id, orders.c.status_rank < 3
            )
        )
        open_orders = {str(r.client_id): str(r.symbol) for r in unfinished}
        last_fill = await conn.execute(
            select(func.max(fills.c.time_ms)).where(fills.c.run_id == run_id)
        )
        last_fill_ms = int(last_fill.scalar_one() or 0)
    return Recalled(found, open_orders, last_fill_ms)


__all__ = ["Recalled", "StoredPosition", "recall"]
