"""Matching against the replayed price path: order entry and fills.

The replay has no order book, only the price path of the stored candles, so:
- a MARKET order fills at once, in full, at the last price (on the tick grid) as taker;
- a LIMIT order that crosses the last price fills at once, in full, as taker at the better of
  its limit and the last price; IOC fills like that or expires, FOK fills like that or is
  rejected (-5021), GTX (post-only) that would take is rejected (-5022);
- a resting LIMIT order fills in full, as maker, at its own price when the path reaches it.
There are no partial fills from liquidity: every fill is of the whole remaining quantity.
Reduce-only orders fill at most the position, are shrunk to it when it shrinks and expire when
it is flat or flips to their side.

What happens as market time passes (resting fills, triggers, liquidation, funding, GTD expiry)
is in `walk`, which calls back into the entry and fill functions here: this module says how an
order is admitted and filled, `walk` when the path makes it happen.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from slt.rules.rounding import CALC
from slt.venues.local import userevents as ue
from slt.venues.local.errors import api_error
from slt.venues.local.orders import (
    BASIC_TYPES,
    AlgoOrder,
    Order,
    check_capacity,
    check_margin,
    taker_price,
)

if TYPE_CHECKING:
    from slt.venues.local.account import Account


# order entry -------------------------------------------------------------------------------------
def register(acct: Account, o: Order, t: int) -> None:
    """Give a new order its id (and client id) and put it in the account's books."""
    o.order_id = acct.new_order_id(o.symbol)
    o.client_id = o.client_id or f"sltlocal-{o.order_id}"
    o.time = o.update_time = t
    acct.orders.setdefault(o.symbol, {})[o.order_id] = o
    acct.live.setdefault(o.symbol, {})[o.order_id] = o


def check_take_band(acct: Account, symbol: str, side: int, price: Decimal) -> None:
    """-4131 when the price an order would take lies beyond the PERCENT_PRICE band around the
    mark price (a BUY above mark × multiplierUp, a SELL below mark × multiplierDown)."""
    rules = acct.symbol_rules(symbol)
    mark = acct.mark_price(symbol)
    if (side > 0 and price > mark * rules.percent_up) or (
        side < 0 and price < mark * rules.percent_down
    ):
        raise api_error(-4131)


def submit(acct: Account, o: Order) -> Order:
    """Admit a parsed order (-4116, -2025, -2022, -5021, -5022, -2019) and match it at
    `acct.now`."""
    s, t = o.symbol, acct.now
    if o.client_id and any(x.client_id == o.client_id for x in acct.open_orders(s)):
        raise api_error(-4116)
    check_capacity(acct, s, algo=False)
    pos = acct.position(s)
    take: Decimal | None = None
    if o.type in BASIC_TYPES:
        if o.reduce_only and pos.side in (0, o.side):
            raise api_error(-2022)
        take = taker_price(o, acct.last_price(s))
        if o.tif == "GTX" and take is not None:
            raise api_error(-5022)
        if o.tif == "FOK" and take is None:
            raise api_error(-5021)
        if take is not None:
            check_take_band(acct, s, o.side, take)
        if not o.reduce_only:
            check_margin(acct, s, o.side, o.qty, take if take is not None else o.price)
    register(acct, o, t)
    acct.emit(ue.order_update(acct, o, "NEW", t), t)
    if take is not None:
        fill(acct, o, take, maker=False, t=t)
    elif o.type == "LIMIT" and o.tif == "IOC":
        close_order(acct, o, "EXPIRED", t, reason="2")
    return o


def submit_algo(acct: Account, a: AlgoOrder) -> AlgoOrder:
    """Park a parsed algo order (-4116 for a clientAlgoId already open). No margin is checked
    before the trigger, as on Binance (§0)."""
    if a.client_algo_id and any(x.client_algo_id == a.client_algo_id for x in acct.open_algos()):
        raise api_error(-4116)
    check_capacity(acct, a.symbol, algo=True)
    a.algo_id = acct.new_algo_id()
    a.client_algo_id = a.client_algo_id or f"sltalgo-{a.algo_id}"
    a.create_time = a.update_time = acct.now
    acct.algos[a.algo_id] = acct.live_algos[a.algo_id] = a
    acct.emit(ue.algo_update(acct, a), acct.now)
    return a


def close_order(acct: Account, o: Order, status: str, t: int, reason: str = "0") -> None:
    """End an open order without a fill (CANCELED or EXPIRED) and tell the user stream."""
    o.status = status
    o.update_time = t
    acct.emit(ue.order_update(acct, o, status, t, expire_reason=reason), t)


def finish_algo(acct: Account, a: AlgoOrder, status: str, t: int, reason: str = "") -> None:
    a.status = status
    a.update_time = t
    a.reject_reason = reason
    acct.emit(ue.algo_update(acct, a), t)


# fills -------------------------------------------------------------------------------------------
def fill(acct: Account, o: Order, price: Decimal, *, maker: bool, t: int) -> None:
    """Fill what is left of `o` at `price` in full (reduce-only: at most the position)."""
    s = o.symbol
    pos = acct.position(s)
    q = o.qty - o.executed
    if o.reduce_only:
        if pos.side in (0, o.side):
            close_order(acct, o, "EXPIRED", t)
            return
        q = min(q, abs(pos.amount))
        o.qty = o.executed + q
    realized, fee = acct.apply_fill(s, o.side, q, price, maker, t)
    o.executed += q
    o.cum_quote += CALC.multiply(q, price)
    o.avg_price = CALC.divide(o.cum_quote, o.executed)
    o.status = "FILLED"
    o.update_time = t
    acct.emit(
        ue.order_update(
            acct,
            o,
            "TRADE",
            t,
            last_qty=q,
            last_price=price,
            fee=fee,
            realized=realized,
            maker=maker,
            trade_id=acct.record_trade(o, q, price, fee=fee, realized=realized, maker=maker, t=t),
        ),
        t,
    )
    acct.emit(ue.account_update(acct, "ORDER", [s]), t)
    after_position_change(acct, s, t)


def after_position_change(acct: Account, s: str, t: int) -> None:
    """Reduce-only orders follow the position: shrunk to it, expired when it is flat or on
    their own side (they could only grow it)."""
    pos = acct.position(s)
    size = abs(pos.amount)
    for o in acct.open_orders(s):
        if not o.reduce_only:
            continue
        if pos.side in (0, o.side):
            close_order(acct, o, "EXPIRED", t)
        elif o.qty - o.executed > size and not o.close_position:
            o.qty = o.executed + size
    for a in acct.open_algos(s):
        if a.reduce_only and pos.side in (0, a.side):
            finish_algo(acct, a, "EXPIRED", t)
