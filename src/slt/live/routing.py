"""Venue commands leave in per-symbol lanes, so a slow REST call never holds up a candle.

The engine's step is quick; a REST round trip is not (milliseconds on a good day, seconds on a
bad one). If the Brain waited for each order's answer before taking the next candle, every
candle would queue behind every order in flight. Instead the step's commands are handed to
the router and the Brain moves on; the router sends them, and the few events the answers carry
(a refusal, a cancel of an order already gone) come back through `on_events` to be applied like
any other input.

Order matters within a symbol (cancel the old stop before placing the new one: Binance keeps
one close-position stop per side), not across symbols, so each symbol has its own FIFO lane
and the lanes run concurrently. One reordering is made (`exits_first`): a market exit leaves
ahead of the cancels of the same step, which only tidy up the orders it makes pointless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from slt.domain import CancelOrder, Command, Event, OrderRequest, OrderType, PlaceOrder
from slt.domain.enums import OrderPurpose
from slt.live.execution import Executor

log = logging.getLogger("slt.brain")

Lane = asyncio.Queue[tuple[PlaceOrder | CancelOrder, int | None]]


def exits_first(commands: Sequence[Command]) -> list[Command]:
    """`commands` with each market exit moved ahead of the rest, the rest in their order.

    The engine closes a position by cancelling its resting stop and targets, then selling at
    market; in one lane each of those cancels is a round trip the exit would wait for, while
    the price moves. Sent first, the exit is safe: it is reduce-only, so a stop that triggers
    meanwhile can never make it open a position the other way (the exchange refuses it), and
    a close-position stop left without a position closes nothing. Everything else keeps its
    order: a stop move's cancel still precedes its new stop, and an entry after an exit of
    the same symbol still follows it."""
    exits = [c for c in commands if _is_market_exit(c)]
    if not exits:
        return list(commands)
    return [*exits, *(c for c in commands if not _is_market_exit(c))]


def _is_market_exit(command: Command) -> bool:
    if not isinstance(command, PlaceOrder):
        return False
    order = command.order
    return (
        order.purpose is OrderPurpose.EXIT and order.type is OrderType.MARKET and order.reduce_only
    )


class OrderRouter:
    def __init__(
        self,
        executor: Executor,
        order_of: Callable[[str], OrderRequest | None],
        on_events: Callable[[list[Event]], None],
        on_sent: Callable[[float], None],
    ) -> None:
        self.executor = executor
        self.order_of = order_of
        self.on_events = on_events
        self.on_sent = on_sent
        self.lanes: dict[str, Lane] = {}
        self.workers: dict[str, asyncio.Task[None]] = {}
        self.in_flight = 0

    def send(self, command: PlaceOrder | CancelOrder, received_ns: int | None = None) -> None:
        """Queue `command` on its symbol's lane; `received_ns` (the Feed's receipt time of the
        candle that caused it) times the candle-to-order latency when the order goes out."""
        symbol = command.order.symbol if isinstance(command, PlaceOrder) else command.symbol
        lane = self.lanes.get(symbol)
        if lane is None:
            lane = self.lanes[symbol] = asyncio.Queue()
            self.workers[symbol] = asyncio.create_task(self._run(lane), name=f"lane-{symbol}")
        lane.put_nowait((command, received_ns))
        self.in_flight += 1

    def pending(self) -> int:
        """Commands queued or in flight."""
        return self.in_flight

    async def _run(self, lane: Lane) -> None:
        while True:
            command, received_ns = await lane.get()
            try:
                if received_ns is not None and isinstance(command, PlaceOrder):
                    self.on_sent((time.time_ns() - received_ns) / 1e6)
                events = await self.executor.execute(command, self.order_of)
                if events:
                    self.on_events(events)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A fatal venue error (bad keys) must stop the Brain: hand it to the loop.
                log.exception("sending %s failed", command)
                raise
            finally:
                self.in_flight -= 1
                lane.task_done()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued command was sent (True), at most `timeout_s` (False)."""
        try:
            async with asyncio.timeout(timeout_s):
                for lane in list(self.lanes.values()):
                    await lane.join()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        for task in self.workers.values():
            task.cancel()
        for task in self.workers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.workers.clear()
        self.lanes.clear()

    def failed(self) -> BaseException | None:
        """The error a lane died of (a configuration error the Brain must stop on), if any."""
        for task in self.workers.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None
