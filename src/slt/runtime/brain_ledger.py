"""The Brain's database side: the ledger it writes and what it recalls at start.

Everything here survives the database being away. At start an unreachable database is a
warning, not a crash (a Brain restarted during an outage must trade again at once, from its
snapshot and the exchange); the ledger's writes go to the fsync'd journal until the database
answers again (`slt.storage.resilient`), and are replayed in order then.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from slt.engine.state import EngineState
from slt.live.backfill import missing_fills
from slt.live.ledger import Ledger
from slt.live.recovery import Recalled, recall
from slt.live.trader import Trader
from slt.runtime.heartbeat import wall_ms
from slt.runtime.spec import RunSpec
from slt.storage import Journal, ResilientStore, TradingStore, is_unavailable, migrate
from slt.storage.trading_ops import ClosePosition, OrderUpdate, WriteOp
from slt.venues.binance.errors import VenueTemporaryError
from slt.venues.binance.rest import BinanceRest

log = logging.getLogger("slt.brain")

SECRET_SETTINGS = frozenset({"database_url", "redis_url"})
"""Settings not copied into the run's stored config (their URLs may carry passwords)."""


def journal_path(state_file: Path) -> Path:
    """The degraded-mode journal, beside the Brain's state file."""
    return state_file.with_name("ledger-journal.jsonl")


async def migrate_or_warn(db: AsyncEngine) -> bool:
    """Apply the migrations; False (and a warning) when the database cannot be reached."""
    try:
        await migrate(db)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        log.warning(
            "database unreachable at start (%s): trading from the saved state and the "
            "exchange; the ledger is journaled until it is back",
            exc,
        )
        return False
    return True


async def recall_or_nothing(db: AsyncEngine, spec: RunSpec) -> Recalled:
    """What the database remembers (see `slt.live.recovery`); nothing while it is away."""
    try:
        recalled = await recall(
            db, spec.ledger_run_id, spec.venue.kind, same_run_only=spec.venue.kind == "local"
        )
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        log.warning("database unreachable: no stored positions recalled (%s)", exc)
        return Recalled()
    if recalled.positions:
        log.info(
            "database remembers %d open positions: %s",
            len(recalled.positions),
            ", ".join(
                f"{p.symbol} {p.side.name.lower()} since {p.entry_time_ms}"
                for p in recalled.positions.values()
            ),
        )
    return recalled


def open_ledger(spec: RunSpec, db: AsyncEngine, state_file: Path) -> tuple[Ledger, ResilientStore]:
    store = ResilientStore(TradingStore(db), Journal(journal_path(state_file)))
    return Ledger(store, spec.ledger_run_id, spec.venue.kind), store


def run_config(spec: RunSpec) -> dict[str, object]:
    config = spec.settings.model_dump(mode="json", exclude=set(SECRET_SETTINGS))
    config["symbols"] = list(spec.symbols)
    config["interval"] = spec.interval
    return config


async def settle(ledger: Ledger, recalled: Recalled, state: EngineState) -> None:
    """After reconciliation: the database holds exactly the engine's positions under this run.

    Every position held is upserted (it may be adopted, or carried over from an earlier run);
    a stored open position the engine no longer holds (closed while the Brain was away), or
    one carried over from an earlier run, is closed in its old row; an order of this run
    still unfinished in the database that the engine no longer tracks ended while the Brain
    was away."""
    await ledger.after_step(None, EngineState(balance=state.balance), state, [])
    held = {p.symbol for p in state.positions}
    now = state.time_ms
    ops: list[WriteOp] = [
        ClosePosition(p.run_id, p.symbol, now)
        for p in recalled.positions.values()
        if p.run_id != ledger.run_id or p.symbol not in held
    ]
    tracked = {o.client_id for o in state.orders} | {p.order.client_id for p in state.pending}
    ops += [
        OrderUpdate(
            ledger.run_id,
            cid,
            "canceled",
            now,
            0,
            "not open on the exchange at restart: it ended while the Brain was away",
        )
        for cid in recalled.open_orders
        if cid not in tracked
    ]
    for op in ops:
        await ledger.writes.apply(op)
    ledger.written += len(ops)


BACKFILL_MARGIN_MS = 60_000
"""Read the account history from a minute before the newest fill known: a fill's time and
the moment it was stored can differ, and reading twice is harmless (insert-once by trade id)."""


def touched_symbols(state: EngineState) -> set[str]:
    """Symbols on which the account can have executions: positions, orders, entries."""
    return (
        {p.symbol for p in state.positions}
        | {o.symbol for o in state.orders}
        | {p.symbol for p in state.pending}
    )


def backfill_since(recalled: Recalled) -> int:
    """Where a restarted Brain reads the account history from: the newest stored fill, else
    the oldest stored open position's entry (0: a fresh run, nothing to read)."""
    if recalled.last_fill_ms:
        return recalled.last_fill_ms
    return min((p.entry_time_ms for p in recalled.positions.values()), default=0)


async def backfill_fills(
    rest: BinanceRest, ledger: Ledger, symbols: set[str], since_ms: int
) -> int:
    """Store the executions of `symbols` since `since_ms` that the user-data stream never
    brought (the Brain was dead, or the stream down): no fill is lost. Returns how many
    executions were read (those already stored are skipped by their trade id)."""
    if not symbols or since_ms <= 0:
        return 0
    ordered = sorted(symbols)
    try:
        now = await rest.market_time_ms(ordered[0])
        found = await missing_fills(rest, ordered, since_ms - BACKFILL_MARGIN_MS, now)
    except VenueTemporaryError as exc:
        log.warning("account history unavailable, fills not read back: %s", exc)
        return 0
    await ledger.backfill(found)
    log.info(
        "account history read back: %d executions on %s since %d (stored once each)",
        len(found),
        ", ".join(ordered),
        since_ms,
    )
    return len(found)


async def start_ledger(
    spec: RunSpec, db: AsyncEngine, trader: Trader, state_file: Path
) -> tuple[Ledger, ResilientStore, Recalled]:
    """Recall what the database remembers (entry times for reconciliation), record the run's
    start, and give the Trader its ledger; the store retries the database in the background."""
    recalled = await recall_or_nothing(db, spec)
    trader.entry_times = recalled.entry_times()
    ledger, store = open_ledger(spec, db, state_file)
    await ledger.writes.start_run(ledger.run_id, ledger.venue, wall_ms(), run_config(spec))
    store.start()
    trader.ledger = ledger
    return ledger, store, recalled


async def reconcile_at_start(
    rest: BinanceRest, trader: Trader, ledger: Ledger, recalled: Recalled
) -> None:
    """With the user stream up: agree with the exchange, make the database agree with the
    engine, read back the fills missed while the Brain was away, and have every later stream
    gap do the same."""
    held_before = touched_symbols(trader.state)
    await trader.reconcile_with(None)
    await settle(ledger, recalled, trader.state)
    remembered = set(recalled.positions) | set(recalled.open_orders.values())
    symbols = held_before | remembered | touched_symbols(trader.state)
    await backfill_fills(rest, ledger, symbols, backfill_since(recalled))

    async def after_gap(held: set[str]) -> None:
        await backfill_fills(
            rest, ledger, held | touched_symbols(trader.state), ledger.last_fill_ms
        )

    trader.on_gap = after_gap


__all__ = [
    "backfill_fills",
    "backfill_since",
    "journal_path",
    "migrate_or_warn",
    "open_ledger",
    "recall_or_nothing",
    "reconcile_at_start",
    "run_config",
    "settle",
    "start_ledger",
    "touched_symbols",
]
