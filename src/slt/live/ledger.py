"""The Brain's ledger: what happens to the account, written to the database in a safe order.

The `Trader` calls in at two points of every input, and the order is the promise:

* `before_step(event)` — before the engine acts on an event. A fill is stored *before* the
  engine books it, so a Brain killed right after can never have acted on a fill the database
  does not know; refusals and cancels move their order to its final status.
* `after_step(before, after, commands)` — the engine's answer, stored before any of its
  commands is sent: every order intent (so after a crash the database names every order that
  may be on the exchange), positions whose plan changed (opened, resized, stop moved) upserted
  with their entry time, positions that are gone closed, finished trades with their exit reason
  (closing their experience row). All of it is one transaction: one commit stands between a
  candle's signal and its order, not one per row.

Marks move every candle; they are not plan changes and are written only with the periodic
account snapshot (`account`). Every write goes through `TradingWrites`: in the Brain that is a
`ResilientStore`, so a database outage sends the writes to the fsync'd journal and the Brain
trades on; nothing here ever raises because the database is away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Protocol

from slt.domain import (
    Command,
    Event,
    Fill,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    PlaceOrder,
    Position,
    RecordTrade,
    Signal,
)
from slt.engine.state import EngineState
from slt.storage.trading_ops import (
    AccountSnapshot,
    ClosePosition,
    ExperienceOp,
    OrderUpdate,
    OutcomeOp,
    WriteOp,
    experience_of,
    fill_of,
    intent_of,
    position_of,
    signal_of,
    trade_of,
)
from slt.storage.trading_writes import TradingWrites


def plan_of(p: Position) -> tuple[object, ...]:
    """The fields of a position worth a database write: everything but the marks."""
    return (
        p.side,
        p.quantity,
        p.entry_price,
        p.entry_time_ms,
        p.leverage,
        p.margin,
        p.stop_price,
        p.stop_client_id,
        p.take_profit_price,
    )


def position_ops(
    run_id: str, before: Sequence[Position], after: Sequence[Position], time_ms: int
) -> list[WriteOp]:
    """Upserts for positions new or re-planned between two states, closes for those gone."""
    old = {p.symbol: p for p in before}
    ops: list[WriteOp] = []
    for p in after:
        prev = old.pop(p.symbol, None)
        if prev is None or plan_of(prev) != plan_of(p):
            ops.append(position_of(run_id, p, time_ms))
    ops.extend(ClosePosition(run_id, symbol, time_ms) for symbol in sorted(old))
    return ops


def order_status_ops(
    run_id: str, before: EngineState, after: EngineState, time_ms: int
) -> list[WriteOp]:
    """Orders the engine tracked before a step and no longer does, after a fill: filled."""
    tracked_after = {o.client_id for o in after.orders} | {p.order.client_id for p in after.pending}
    gone = [o.client_id for o in before.orders if o.client_id not in tracked_after]
    gone += [p.order.client_id for p in before.pending if p.order.client_id not in tracked_after]
    return [OrderUpdate(run_id, cid, "filled", time_ms) for cid in gone]


class HasFeatures(Protocol):
    """A symbol state that keeps the feature row its last signal was scored on (ML)."""

    last_row: Sequence[float] | None


class Ledger:
    """Builds the write ops of one run and hands them to `writes` in the promised order."""

    def __init__(self, writes: TradingWrites, run_id: str, venue: str) -> None:
        self.writes = writes
        self.run_id = run_id
        self.venue = venue
        self.written = 0
        self.last_fill_ms = 0
        """The newest fill heard (ms): a backfill after a stream gap reads from there."""
        # symbol → (model id, features, prediction) of its latest signal: the experience row
        # of the position that signal opens (the learning buffer of `slt.live.learning`)
        self._scored: dict[str, tuple[str, tuple[float, ...], float]] = {}
        self._signals: list[WriteOp] = []

    def note_features(self, signal: Signal, state: object) -> None:
        """Remember what a model signal was decided on; other strategies keep no features."""
        row = getattr(state, "last_row", None)
        if row is None or not signal.source.startswith("ml:"):
            return
        model_id = signal.source.removeprefix("ml:")
        # the predicted return of a trade in the signal's direction, as the outcome is measured
        features = tuple(float(x) for x in row)
        self._scored[signal.symbol] = (model_id, features, signal.expected_return)

    def _experience(self, p: Position) -> ExperienceOp | None:
        scored = self._scored.pop(p.symbol, None)
        if scored is None:
            return None
        model_id, features, prediction = scored
        return experience_of(self.run_id, p.symbol, p.entry_time_ms, model_id, features, prediction)

    async def _apply(self, ops: Iterable[WriteOp]) -> None:
        """One step's writes as one batch: one transaction (or one journal fsync)."""
        batch = list(ops)
        if batch:
            await self.writes.apply_many(batch)
            self.written += len(batch)

    async def start(self, started_ms: int, config: dict[str, object], state: EngineState) -> None:
        """The run's row, then every position the engine holds now (after reconciliation an
        adopted position may be new to this run), so the database agrees from the start."""
        await self.writes.start_run(self.run_id, self.venue, started_ms, dict(config))
        await self._apply(position_of(self.run_id, p, state.time_ms) for p in state.positions)

    async def sync_positions(self, open_rows: Iterable[str], state: EngineState) -> None:
        """Close this run's stored positions the engine no longer holds (after a restart
        the exchange may have closed them while the Brain was away)."""
        held = {p.symbol for p in state.positions}
        await self._apply(
            ClosePosition(self.run_id, s, state.time_ms) for s in sorted(set(open_rows) - held)
        )

    async def backfill(self, fills: Iterable[Fill]) -> None:
        """Fills read back from the exchange's account history (executions the stream never
        brought: the Brain was dead, or the stream down). Keyed by the venue's trade id like
        the stream's, so one already stored is not stored again."""
        await self._apply(fill_of(self.run_id, f, f.trade_id) for f in fills)

    def queue_signals(self, signals: Iterable[Signal]) -> None:
        """Signals to store with the next step's writes: the step they cause commits them in
        its own transaction, ahead of the orders they led to, instead of a transaction of
        their own between a candle and its order. `flush_signals` stores what is left."""
        self._signals += (signal_of(self.run_id, s) for s in signals)

    async def flush_signals(self) -> None:
        """Store the queued signals no step has taken (none of them led to a write)."""
        await self._apply(self._take_signals())

    def _take_signals(self) -> list[WriteOp]:
        queued, self._signals = self._signals, []
        return queued

    async def before_step(self, event: Event) -> None:
        run = self.run_id
        if isinstance(event, OrderFilled):
            fill = event.fill
            self.last_fill_ms = max(self.last_fill_ms, fill.time_ms)
            await self._apply([fill_of(run, fill, fill.trade_id)])
        elif isinstance(event, OrderRejected):
            await self._apply(
                [
                    OrderUpdate(
                        run,
                        event.order.client_id,
                        "rejected",
                        event.time_ms,
                        event.code,
                        event.reason[:500],
                    )
                ]
            )
        elif isinstance(event, OrderCanceled):
            await self._apply([OrderUpdate(run, event.client_id, "canceled", event.time_ms)])

    async def after_step(
        self,
        event: Event | None,
        before: EngineState,
        after: EngineState,
        commands: Sequence[Command],
    ) -> None:
        """`event` None: a reconciliation, whose changes are stored the same way. Call it
        before sending `commands`: their intents are written here (write-ahead)."""
        run, now = self.run_id, after.time_ms
        ops: list[WriteOp] = []
        if isinstance(event, OrderFilled):
            ops.extend(order_status_ops(run, before, after, event.fill.time_ms))
            held = {p.symbol for p in before.positions}
            for p in after.positions:
                if p.symbol not in held:
                    experience = self._experience(p)
                    if experience is not None:
                        ops.append(experience)
        if before.positions is not after.positions:
            ops.extend(position_ops(run, before.positions, after.positions, now))
        for cmd in commands:
            if isinstance(cmd, RecordTrade):
                t = cmd.trade
                ops.append(trade_of(run, t))
                ops.append(
                    OutcomeOp(
                        run,
                        t.symbol,
                        t.entry_time_ms,
                        t.return_pct,
                        t.exit_reason.value,
                        t.exit_time_ms,
                    )
                )
        ops += [intent_of(run, c.order) for c in commands if isinstance(c, PlaceOrder)]
        if ops:
            ops[:0] = self._take_signals()
        await self._apply(ops)

    async def account(self, state: EngineState, time_ms: int) -> None:
        """A snapshot of the account, and each open position with its current mark and
        unrealised PnL (what `slt status` shows)."""
        equity = Decimal(repr(state.equity()))
        available = Decimal(repr(state.available()))
        ops: list[WriteOp] = [
            *self._take_signals(),
            AccountSnapshot(
                self.run_id, time_ms, state.balance, equity, available, len(state.positions)
            ),
        ]
        ops += [position_of(self.run_id, p, time_ms, with_mark=True) for p in state.positions]
        await self._apply(ops)


__all__ = ["HasFeatures", "Ledger", "order_status_ops", "plan_of", "position_ops"]
