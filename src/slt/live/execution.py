"""Engine commands → the venue over REST, and what the engine must hear back at once.

Only refusals come back from here: a fill always arrives through the user-data stream
(`slt.live.translate`), so it is counted once however the order went out. The rules:

* `OrderRejected` (the exchange, or `slt.rules` before sending, said no): the engine gets an
  `OrderRejected` with Binance's code and keeps its state consistent (a stop that cannot rest
  makes it exit; an exit that failed gives the position its stop back);
* a temporary failure (network, 5xx, rate limit) means the order was not placed: the same
  event with code 0, so the engine does not wait for a fill that will never come — except for
  an order that closes a position (`slt.live.closing.is_closing`): that one is retried under
  the same client id until the exchange has it or refuses it for good (`Closer`), since the
  engine's decision to be out stands; only the definitive refusal reaches the engine;
* `OrderStateUnknown` (the order may have landed and even the lookup failed): no event; the
  client id is remembered as *doubtful* and looked up again on the next reconciliation (a
  close is looked up and retried at once instead; one whose retrying is cancelled at shutdown
  is left doubtful);
* a configuration error (keys, permissions) is fatal: it is raised, the process stops and
  the Orchestrator's restart budget decides what happens next.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from slt.domain import (
    CancelOrder,
    Command,
    Event,
    Notice,
    OrderCanceled,
    OrderRejected,
    OrderRequest,
    OrderType,
    PlaceOrder,
    RecordTrade,
)
from slt.live.closing import Closer, is_closing
from slt.rules import ExchangeRules
from slt.venues.binance.errors import OrderRejected as VenueRejected
from slt.venues.binance.errors import (
    OrderStateUnknown,
    VenueConfigError,
    VenueError,
    VenueTemporaryError,
)
from slt.venues.binance.rest import BinanceRest

log = logging.getLogger("slt.brain")

CONDITIONAL = frozenset({OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET})
UNKNOWN_ORDER = -2011
"""Binance's 'Unknown order sent.' on a cancel: the order is gone already (filled or ended)."""


class Executor:
    """Sends commands; `order_of` finds the engine's copy of an order by client id (a cancel
    must know whether the order is a conditional one, which lives on the algo endpoint).
    `closer` retries closes (default: a `Closer` with the default `ClosePolicy`)."""

    def __init__(
        self,
        rest: BinanceRest,
        rules: ExchangeRules,
        marks: dict[str, float],
        clock: Callable[[], int],
        *,
        closer: Closer | None = None,
    ) -> None:
        self.rest = rest
        self.rules = rules
        self.marks = marks
        self.clock = clock
        self.closer = closer or Closer(rest)
        self.sent = 0
        self.rejected: Counter[int] = Counter()
        self.doubtful: dict[str, OrderRequest] = {}
        self.trades: list[RecordTrade] = []
        self.on_sent: Callable[[OrderRequest], None] | None = None

    async def execute(
        self, command: Command, order_of: Callable[[str], OrderRequest | None]
    ) -> list[Event]:
        if isinstance(command, PlaceOrder):
            return await self._place(command.order)
        if isinstance(command, CancelOrder):
            return await self._cancel(command, order_of(command.client_id))
        if isinstance(command, RecordTrade):
            t = command.trade
            log.info(
                "exit %s %s: %s, pnl %s USDT (%.2f %%), held %d min",
                t.symbol,
                t.side.name.lower(),
                t.exit_reason.value,
                f"{t.net_pnl:.4f}",
                100 * t.return_pct,
                (t.exit_time_ms - t.entry_time_ms) // 60_000,
            )
            self.trades.append(command)
            return []
        if isinstance(command, Notice):
            # One template per kind, so repeats of one kind are summarised together and never
            # with another kind's; refusals and skipped entries are warnings.
            level = logging.WARNING if "reject" in command.kind else logging.INFO
            log.log(level, command.kind.replace("%", "%%") + ": %s", command.message)
        return []

    @property
    def close_retries(self) -> int:
        """Tries of a close after a failed one, since start (for the heartbeat)."""
        return self.closer.retries

    @property
    def close_alerts(self) -> int:
        """ALERT lines about a close that keeps failing, since start (for the heartbeat)."""
        return self.closer.alerts

    @property
    def closes_pending(self) -> int:
        """Closes being retried right now (for the heartbeat)."""
        return self.closer.pending()

    async def _place(self, order: OrderRequest) -> list[Event]:
        if is_closing(order):
            return await self._close(order)
        mark = self.marks.get(order.symbol)
        if mark is None:
            try:
                mark = await self._mark(order.symbol)
            except VenueError as exc:
                return [self._refused(order, exc.code or 0, f"no price for the symbol: {exc}")]
        try:
            if self.on_sent is not None:
                self.on_sent(order)
            self.sent += 1
            await self.rest.submit(order, self.rules.get(order.symbol), Decimal(repr(mark)))
        except VenueConfigError:
            raise
        except VenueRejected as exc:
            return [self._refused(order, exc.code or 0, str(exc))]
        except OrderStateUnknown as exc:
            self.doubtful[order.client_id] = order
            log.warning("order %s state unknown, will look it up: %s", order.client_id, exc)
            return []
        except VenueTemporaryError as exc:
            return [self._refused(order, exc.code or 0, f"not placed: {exc}")]
        self._log_placed(order)
        return []

    async def _close(self, order: OrderRequest) -> list[Event]:
        """Send a close until the exchange has it (`Closer`); only a definitive refusal comes
        back to the engine. Runs in the symbol's lane, so other symbols go on meanwhile."""

        async def send() -> None:
            mark = self.marks.get(order.symbol)
            if mark is None:
                mark = await self._mark(order.symbol)
            await self.rest.submit(order, self.rules.get(order.symbol), Decimal(repr(mark)))

        if self.on_sent is not None:
            self.on_sent(order)
        self.sent += 1
        try:
            await self.closer.run(order, send)
        except VenueConfigError:
            raise
        except VenueRejected as exc:
            return [self._refused(order, exc.code or 0, str(exc))]
        except asyncio.CancelledError:
            # Shutdown: the close may or may not have landed; whoever runs next looks it up.
            self.doubtful[order.client_id] = order
            log.warning("close %s %s abandoned at shutdown", order.client_id, order.symbol)
            raise
        self._log_placed(order)
        return []

    async def _mark(self, symbol: str) -> float:
        mark = float(await self.rest.last_price(symbol))
        self.marks[symbol] = mark
        return mark

    @staticmethod
    def _log_placed(order: OrderRequest) -> None:
        log.info(
            "order %s %s %s %s%s",
            order.client_id,
            order.symbol,
            order.binance_side,
            order.type.value,
            f" qty {order.quantity}" if order.quantity is not None else " close-position",
        )

    async def _cancel(self, command: CancelOrder, order: OrderRequest | None) -> list[Event]:
        conditional = order is not None and order.type in CONDITIONAL
        try:
            await self.rest.cancel_order(command.symbol, command.client_id, conditional=conditional)
        except VenueConfigError:
            raise
        except VenueError as exc:
            if exc.code == UNKNOWN_ORDER or exc.code == -2013:
                return [OrderCanceled(command.symbol, command.client_id, self.clock())]
            log.warning("cancel of %s failed (%s): %s", command.client_id, exc.code, exc)
        return []

    def _refused(self, order: OrderRequest, code: int, reason: str) -> OrderRejected:
        self.rejected[code] += 1
        log.warning(
            "order %s %s %s rejected (code %d): %s",
            order.client_id,
            order.symbol,
            order.purpose.name,
            code,
            reason,
        )
        return OrderRejected(order, self.clock(), code, reason)

    async def resolve_doubtful(self) -> list[Event]:
        """Look up each order whose fate is unknown: one the exchange does not know never
        landed (the engine hears it was rejected); one it knows reports itself on the stream."""
        events: list[Event] = []
        for client_id, order in list(self.doubtful.items()):
            try:
                found = await self.rest.query_order(
                    order.symbol, client_id, conditional=order.type in CONDITIONAL
                )
            except VenueTemporaryError:
                continue
            del self.doubtful[client_id]
            if found is None:
                events.append(self._refused(order, 0, "never reached the exchange"))
        return events
