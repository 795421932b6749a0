"""User-data stream events → engine events.

Fills reach the engine only from the account's own stream (never from a REST answer), so a
fill is counted exactly once whichever way the order went out. A triggered conditional order
(stop, take-profit) is an algo order whose execution is a new regular order with an id the
exchange chose: its `ALGO_UPDATE X=TRIGGERED` names that order (`ai`), and from then on the
regular order's fills and cancels are reported under the algo order's client id, the one the
engine knows.

Each fill carries the execution's trade id (`t`), the key under which the ledger stores it, so
a fill read back over REST after a crash (`slt.live.backfill`) is recognised as the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from slt.domain import (
    Event,
    Fill,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    Side,
)
from slt.venues.binance.userstream import AlgoUpdate, OrderTradeUpdate, UserEvent

OrderLookup = Callable[[str], OrderRequest | None]

_GONE = frozenset({"CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"})
_ALGO_GONE = frozenset({"CANCELED", "EXPIRED"})
LIQUIDATION_PREFIXES = ("autoclose-", "adl_autoclose")
"""Client ids Binance gives the orders of a liquidation or auto-deleverage."""


def _dec(text: str, default: Decimal = Decimal(0)) -> Decimal:
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError):
        return default


class StreamTranslator:
    """Stateful only in the triggered-algo map (kept small: entries go when the order ends)."""

    def __init__(self) -> None:
        self.algo_of_order: dict[int, str] = {}

    def translate(self, event: UserEvent, order_of: OrderLookup) -> list[Event]:
        """The engine events `event` carries; `order_of` finds the engine's own copy of an
        order by client id (a rejection must name the order it refuses)."""
        if isinstance(event, AlgoUpdate):
            return self._algo(event, order_of)
        if isinstance(event, OrderTradeUpdate):
            return self._order(event)
        return []

    def _algo(self, event: AlgoUpdate, order_of: OrderLookup) -> list[Event]:
        o = event.o
        if o.X == "TRIGGERED" and o.ai not in ("", 0):
            self.algo_of_order[int(o.ai)] = o.caid
            return []
        if o.X in _ALGO_GONE:
            return [OrderCanceled(o.s, o.caid, event.T)]
        if o.X == "REJECTED":
            order = order_of(o.caid)
            if order is None:
                return [OrderCanceled(o.s, o.caid, event.T)]
            return [OrderRejected(order, event.T, 0, o.rm or "rejected when triggered")]
        return []

    def _order(self, event: OrderTradeUpdate) -> list[Event]:
        o = event.o
        client_id = self.algo_of_order.get(o.i, o.c)
        done = o.X in ("FILLED", *_GONE)
        if done:
            self.algo_of_order.pop(o.i, None)
        if o.x == "TRADE":
            qty = _dec(o.l)
            if qty <= 0:
                return []
            fee = _dec(o.n) if (o.N or "USDT") == "USDT" else Decimal(0)
            fill = Fill(
                client_id=client_id,
                symbol=o.s,
                side=Side.LONG if o.S == "BUY" else Side.SHORT,
                price=_dec(o.L),
                quantity=qty,
                fee=fee,
                time_ms=o.T or event.T,
                liquidation=client_id.startswith(LIQUIDATION_PREFIXES),
                trade_id=o.t or None,
            )
            return [OrderFilled(fill)]
        if o.x in _GONE or o.X in _GONE:
            return [OrderCanceled(o.s, client_id, o.T or event.T)]
        return []
