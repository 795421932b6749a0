"""The Brain's core: closed candles, account events and clock ticks in; the one `Engine`
decides; commands go out through the `Executor`.

One input is handled at a time, to the end (the engine step, the snapshot, the orders sent
and whatever refusals they bring back), so the engine never sees two events at once and
the order of its decisions is the order of its inputs — the same discipline as the
backtest driver, which is why a backtest and a live run of the same events agree.

Write-ahead: after each step that produced commands, the new state is saved before any
command is sent (`slt.live.snapshot`); with a `Ledger`, a fill is stored before the engine
acts on it and every order intent before the order leaves (`slt.live.ledger`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from slt.domain import (
    Bar,
    BarsClosed,
    CancelOrder,
    Candle,
    CandleSeries,
    Command,
    Event,
    ExitReason,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    PlaceOrder,
    RecordTrade,
    Timer,
    TradeRecord,
)
from slt.engine.engine import Engine
from slt.engine.state import EngineState
from slt.live import snapshot
from slt.live.execution import Executor
from slt.live.ledger import Ledger
from slt.live.reconcile import EntryTimes, ExchangeView, reconcile
from slt.live.routing import OrderRouter, exits_first
from slt.live.translate import StreamTranslator
from slt.strategy.base import Strategy, SymbolState
from slt.venues.binance.userstream import StreamGap, UserEvent

log = logging.getLogger("slt.brain")

REFUSALS_PER_MINUTE = 20
"""Refusals of one symbol's orders the engine hears per minute; more are a refusal loop."""
MAX_CHAIN = 64
"""Events one input may cause in a row (fills and refusals feeding back into the engine). A
longer chain is a refusal loop — a stop the exchange keeps refusing, an exit it keeps
refusing — and is cut: the Brain reconciles with the exchange at the next clock tick."""


class Trader:
    def __init__(
        self,
        engine: Engine,
        strategy: Strategy,
        executor: Executor,
        state: EngineState,
        *,
        state_path: Path,
        venue: str,
        translator: StreamTranslator | None = None,
        speed: float = 1.0,
        stale_after_ms: int = 60_000,
    ) -> None:
        self.engine = engine
        self.strategy = strategy
        self.executor = executor
        self.state = state
        self.state_path = state_path
        self.venue = venue
        self.translator = translator or StreamTranslator()
        self.speed = speed
        self.stale_after_ms = stale_after_ms
        """A candle whose news is older than this (market ms since the Feed received it) still
        updates the indicators and the exits, but opens no position: after a restart the
        ring's backlog describes a market that has moved on."""
        self.stale_signals = 0
        self.symbols: dict[str, SymbolState] = {}
        self.last_open: dict[str, int] = {}
        self.candles = 0
        self.fills = 0
        self.last_candle_ms = 0
        self.needs_reconcile = False
        self.router: OrderRouter | None = None
        self.refusals: dict[str, deque[float]] = defaultdict(deque)
        self.latencies_ms: list[float] = []
        self.all_latencies_ms: list[float] = []
        """Candle handed to the Brain → first order of the resulting step sent (wall ms)."""
        self.ledger: Ledger | None = None
        self.on_gap: Callable[[set[str]], Awaitable[object]] | None = None
        """After a user-stream gap and its reconciliation, with the symbols that held
        something before it: the Brain reads their missed fills back (`slt.live.backfill`)."""
        self.on_trade: Callable[[TradeRecord], None] | None = None
        """Told of every closed trade (the live learner counts them)."""
        self.entry_times: EntryTimes = {}
        """Entry times the database remembers for positions the engine may have lost (a
        restart without the snapshot): reconciliation adopts them instead of guessing."""

    @property
    def marks(self) -> dict[str, float]:
        return self.executor.marks

    def order_of(self, client_id: str) -> OrderRequest | None:
        st = self.state
        found = st.order(client_id)
        if found is not None:
            return found
        return next((p.order for p in st.pending if p.order.client_id == client_id), None)

    # inputs ------------------------------------------------------------------------------------
    def warm(self, series: CandleSeries) -> int:
        """Feed stored history to a symbol's strategy state (no engine step): its indicators
        are ready when the first live candle arrives. Returns how many candles were used."""
        state = self._state_of(series.symbol)
        last = self.last_open.get(series.symbol)
        used = 0
        for i in range(len(series)):
            c = series.candle(i)
            if last is not None and c.open_time <= last:
                continue
            state.update(c)
            last = c.open_time
            used += 1
        if last is not None:
            self.last_open[series.symbol] = last
            self.marks.setdefault(series.symbol, float(series.close[-1]))
        return used

    async def on_candles(
        self, candles: Sequence[Candle], received_ns: Sequence[int] | None = None
    ) -> None:
        """Closed candles from the ring (with the Feed's receipt times, 0 = unknown): grouped
        by close time, each group one engine step. A symbol's candle older than one already
        seen is skipped: the Feed guarantees order, this guards a replayed ring."""
        now_ns = time.time_ns()
        groups: dict[int, list[tuple[Candle, int]]] = defaultdict(list)
        for k, c in enumerate(candles):
            last = self.last_open.get(c.symbol)
            if last is not None and c.open_time <= last:
                continue
            self.last_open[c.symbol] = c.open_time
            groups[c.close_time + 1].append((c, received_ns[k] if received_ns else 0))
        for t in sorted(groups):
            bars = []
            signals = []
            first_signal_ns: int | None = None
            for c, recv in groups[t]:
                self.marks[c.symbol] = c.close
                signal = self._state_of(c.symbol).update(c)
                if signal is not None and recv and self._stale(recv, now_ns):
                    self.stale_signals += 1
                    log.info(
                        "signal %s ignored: its candle waited %.1f s in the ring (market %.0f s)",
                        c.symbol,
                        (now_ns - recv) / 1e9,
                        (now_ns - recv) / 1e9 * self.speed,
                    )
                    signal = None
                if signal is not None:
                    signals.append(signal)
                    if self.ledger is not None:
                        self.ledger.note_features(signal, self.symbols[c.symbol])
                    if first_signal_ns is None and recv:
                        first_signal_ns = recv
                    log.info(
                        "signal %s %s: expected return %.3f %%, confidence %.2f (%s)",
                        c.symbol,
                        "long" if signal.direction > 0 else "short",
                        100 * signal.expected_return,
                        signal.confidence,
                        signal.source,
                    )
                bars.append(Bar(c, signal))
            self.candles += len(bars)
            self.last_candle_ms = max(self.last_candle_ms, t)
            if signals and self.ledger is not None:
                # stored with this step's own writes, or later when the Brain is idle
                self.ledger.queue_signals(signals)
            await self.apply(BarsClosed(t, tuple(bars)), first_signal_ns)

    def _stale(self, recv_ns: int, now_ns: int) -> bool:
        return (now_ns - recv_ns) / 1e6 * self.speed > self.stale_after_ms

    async def on_user_event(self, event: UserEvent) -> None:
        if isinstance(event, StreamGap):
            log.warning("user-data stream was down (%d reconnects): reconciling", event.reconnects)
            st = self.state
            held = (
                {p.symbol for p in st.positions}
                | {o.symbol for o in st.orders}
                | {p.symbol for p in st.pending}
            )
            await self.reconcile_with(None)
            if self.on_gap is not None:
                await self.on_gap(held)
            return
        for e in self.translator.translate(event, self.order_of):
            await self.apply(e)

    async def on_timer(self, now_ms: int) -> None:
        if self.needs_reconcile:
            self.needs_reconcile = False
            await self.reconcile_with(None)
        await self.apply(Timer(now_ms))
        for e in await self.executor.resolve_doubtful():
            await self.apply(e)

    # the one path every event takes ---------------------------------------------------------
    async def apply(self, event: Event, received_ns: int | None = None) -> None:
        queue: list[Event] = [event]
        steps = 0
        while queue:
            e = queue.pop(0)
            steps += 1
            if steps > MAX_CHAIN:
                log.error(
                    "cut a chain of %d events (the venue keeps refusing the engine's orders); "
                    "reconciling with the exchange at the next clock tick",
                    steps,
                )
                self.needs_reconcile = True
                return
            if isinstance(e, OrderRejected) and self._refusal_storm(e):
                continue
            if isinstance(e, OrderFilled):
                self.fills += 1
                f = e.fill
                log.info(
                    "fill %s %s %s %s @ %s (fee %s)",
                    f.client_id,
                    f.symbol,
                    "buy" if f.side > 0 else "sell",
                    f.quantity,
                    f.price,
                    f.fee,
                )
            ledger = self.ledger
            if ledger is not None:
                await ledger.before_step(e)  # a fill is stored before the engine books it
            before = self.state
            self.state, commands = self.engine.step(before, e)
            if ledger is not None:
                await ledger.after_step(e, before, self.state, commands)
            if self.on_trade is not None:
                for cmd in commands:
                    if isinstance(cmd, RecordTrade):
                        self.on_trade(cmd.trade)
            queue.extend(await self.run_commands(commands, received_ns))
            received_ns = None

    async def run_commands(
        self, commands: list[Command], received_ns: int | None = None
    ) -> list[Event]:
        """Save the state (write-ahead), then send: through the router when there is one (the
        answers come back later as events), else in order, returning the events at once.
        The ledger's `after_step` for these commands has stored their intents already."""
        if commands:
            self.save()
        events: list[Event] = []
        routed = False
        for cmd in exits_first(commands):
            if self.router is not None and isinstance(cmd, PlaceOrder | CancelOrder):
                self.router.send(cmd, received_ns if isinstance(cmd, PlaceOrder) else None)
                routed = True
                if isinstance(cmd, PlaceOrder):
                    received_ns = None
                continue
            if received_ns is not None and isinstance(cmd, PlaceOrder):
                self.sent_after((time.time_ns() - received_ns) / 1e6)
                received_ns = None
            events.extend(await self.executor.execute(cmd, self.order_of))
        if routed:
            # The lanes start their requests now, not after the rest of this candle batch.
            await asyncio.sleep(0)
        return events

    async def flatten(self, now_ms: int) -> int:
        """Close every open position at market and cancel entries in flight (`slt run
        --flatten` at shutdown); returns how many positions were open. The closes retry until
        the exchange has them (`slt.live.closing`); their fills arrive as usual."""
        before = self.state
        self.state, commands = self.engine.close_all(before, now_ms, ExitReason.SHUTDOWN)
        if self.ledger is not None:
            await self.ledger.after_step(None, before, self.state, commands)
        for e in await self.run_commands(commands):
            await self.apply(e)
        return len(before.positions)

    def sent_after(self, latency_ms: float) -> None:
        """One candle-to-order latency measured (the heartbeat and the bench read them)."""
        self.latencies_ms.append(latency_ms)
        self.all_latencies_ms.append(latency_ms)

    async def reconcile_with(self, view: ExchangeView | None) -> None:
        """Bring the engine in line with the exchange (`slt.live.reconcile`); `view` None
        fetches it now."""
        if view is None:
            view = await fetch_view(self.executor, self.state.time_ms)
        for row in view.positions:
            mark = float(str(row.get("markPrice") or 0))
            if mark > 0:
                self.marks[str(row["symbol"])] = mark
        done = reconcile(self.state, view, self.engine.rules, self.engine.risk, self.entry_times)
        for note in done.notes:
            log.warning("reconcile: %s", note)
        if not done.notes:
            log.info("reconcile: the engine agrees with the exchange")
        before, self.state = self.state, done.state
        if self.ledger is not None:
            await self.ledger.after_step(None, before, self.state, done.commands)
        for e in await self.run_commands(done.commands):
            await self.apply(e)
        self.save()

    def _refusal_storm(self, e: OrderRejected) -> bool:
        """Too many refusals for one symbol within a minute: stop feeding them to the engine
        (each would make it send another order) and reconcile at the next tick instead."""
        now = time.monotonic()
        seen = self.refusals[e.order.symbol]
        while seen and now - seen[0] > 60:
            seen.popleft()
        seen.append(now)
        if len(seen) <= REFUSALS_PER_MINUTE:
            return False
        if not self.needs_reconcile:
            log.error(
                "%s: %d orders refused within a minute (last: %s); not answering them, "
                "reconciling with the exchange at the next clock tick",
                e.order.symbol,
                len(seen),
                e.reason,
            )
        self.needs_reconcile = True
        return True

    def save(self, *, durable: bool = False) -> None:
        snapshot.save(
            self.state_path,
            snapshot.BrainSnapshot(
                self.state,
                time.time_ns() // 1_000_000,
                dict(self.translator.algo_of_order),
                self.venue,
            ),
            durable=durable,
        )

    def _state_of(self, symbol: str) -> SymbolState:
        state = self.symbols.get(symbol)
        if state is None:
            state = self.symbols[symbol] = self.strategy.incremental(symbol)
        return state


async def fetch_view(executor: Executor, time_ms: int) -> ExchangeView:
    """Positions, open orders, open algo orders and the wallet (about 90 weight units)."""
    rest = executor.rest
    positions = await rest.positions()
    orders = await rest.open_orders()
    algo = await rest.open_algo_orders()
    account = await rest.account()
    wallet = usdt_wallet(account)
    return ExchangeView(time_ms, wallet, positions, orders, algo)


def usdt_wallet(account: Mapping[str, Any]) -> Decimal | None:
    """The USDT wallet balance in an `/fapi/v2/account` answer (None when it has no USDT)."""
    for a in account.get("assets", []):
        if a.get("asset") == "USDT":
            return Decimal(str(a["walletBalance"]))
    return None
