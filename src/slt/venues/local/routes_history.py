"""The account-history endpoints: `GET /fapi/v1/userTrades` and `GET /fapi/v1/allOrders`.

They are how a client that missed part of its user-data stream (it crashed, or the socket was
down) learns what happened meanwhile: the stream's events are gone, the account's history is
not. Both are SIGNED with weight 5 and `symbol` required, and follow Binance's documented
rules (Account Trade List, All Orders):

* a time window is at most 7 days (userTrades: `endTime − startTime` ≤ 7 days; allOrders: less
  than 7 days), refused with -1127 otherwise; without `startTime`/`endTime` the last 7 days of
  market time; with only one of them the 7 days after `startTime` or before `endTime`;
* userTrades: `fromId` (trades with id ≥ it, oldest first) cannot go with `startTime` or
  `endTime` (-1128); `orderId` keeps that order's trades; trades are filtered on `time`;
* userTrades: "Only support querying trade in the past 6 months" — a trade older than
  `TRADE_HORIZON_MS` (180 days) before now is never returned, whatever the parameters
  (window, `fromId`, `orderId`, defaults). Binance documents no error for an older
  `startTime`, and users asking for older trades report an empty answer, not a refusal: so
  a window reaching back past the horizon is accepted (the 7-day and order rules still apply)
  and answers only its trades inside the horizon, `[]` when it lies wholly before it;
* allOrders: `orderId` gives the orders with id ≥ it (oldest first); orders are filtered on
  their creation `time`; an order that ended CANCELED or EXPIRED without a fill is not found
  once 3 days old, and no order once 90 days old;
* `limit` defaults to 500, at most 1000 (-1130 beyond); with a window the oldest `limit` rows,
  without any of `fromId`/`orderId`/`startTime`/`endTime` the most recent `limit`.

Lists are ascending (oldest first), as every Binance list. "Now" is market time: that is the
clock every trade and order was stamped with, and the one the 6-month, 90-day and 3-day
horizons count back from (in a replay of old candles the wall clock would hide every trade).
"""

from __future__ import annotations

from typing import Any, TypeVar

from slt.venues.local import formats as fm
from slt.venues.local.endpoints import Endpoint, Params, Security, fixed
from slt.venues.local.errors import api_error
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.orders import Order
from slt.venues.local.routes_trading import account_now, required_symbol
from slt.venues.local.trades import trade_json

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
UNFILLED_HIDDEN_MS = 3 * DAY_MS
"""A CANCELED/EXPIRED order without a fill drops out of allOrders after 3 days."""
ORDER_HIDDEN_MS = 90 * DAY_MS
"""Any order drops out of allOrders after 90 days."""
TRADE_HORIZON_MS = 180 * DAY_MS
"""userTrades answers only trades of the past 6 months; counted as 180 days, no more than any
six calendar months, so a client that keeps within it here keeps within it on Binance."""
_INT_RANGE = "^[0-9]{1,20}$"

Row = TypeVar("Row")


def _int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        raise api_error(-1100, name, _INT_RANGE)
    return int(value)


def _limit(params: Params) -> int:
    limit = _int(params, "limit")
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise api_error(-1130, "limit")
    return limit


def window(start: int | None, end: int | None, now: int, *, inclusive: bool) -> tuple[int, int]:
    """The [start, end] a history query covers (module docstring); -1023 when start > end,
    -1127 when it spans more than 7 days (`inclusive`: exactly 7 days is allowed)."""
    if start is None and end is None:
        return now - WEEK_MS, now
    if start is None:
        assert end is not None
        return end - WEEK_MS, end
    if end is None:
        return start, start + WEEK_MS
    if start > end:
        raise api_error(-1023, msg="Start time is greater than end time.")
    span = end - start
    if span > WEEK_MS or (span == WEEK_MS and not inclusive):
        raise api_error(-1127, WEEK_MS // 3_600_000)
    return start, end


def _page(rows: list[Row], limit: int, *, newest: bool) -> list[Row]:
    return rows[-limit:] if newest else rows[:limit]


async def user_trades(ex: LocalExchange, params: Params) -> Any:
    """GET /fapi/v1/userTrades (Account Trade List), by the rules of the module docstring.

    Trades older than the 6-month horizon are dropped before any other rule, so no parameter
    reaches them. Assumption: Binance's text ("Only support querying trade in the past 6
    months") names no error code, so an old `startTime` is not refused; it just finds nothing
    older than the horizon (the empty answers users report for such queries)."""
    acct = account_now(ex)
    symbol = required_symbol(acct, params)
    order_id = _int(params, "orderId")
    from_id = _int(params, "fromId")
    start, end = _int(params, "startTime"), _int(params, "endTime")
    limit = _limit(params)
    horizon = acct.now - TRADE_HORIZON_MS
    trades = [t for t in acct.trades.get(symbol, []) if t.time >= horizon]
    if order_id is not None:
        trades = [t for t in trades if t.order_id == order_id]
    if from_id is not None:
        if start is not None or end is not None:
            raise api_error(-1128)
        rows = [t for t in trades if t.trade_id >= from_id][:limit]
    else:
        lo, hi = window(start, end, acct.now, inclusive=True)
        in_window = [t for t in trades if lo <= t.time <= hi]
        rows = _page(in_window, limit, newest=start is None and end is None)
    return [trade_json(acct, t) for t in rows]


def _visible(o: Order, now: int) -> bool:
    """Whether allOrders still reports `o` (module docstring)."""
    if o.time + ORDER_HIDDEN_MS < now:
        return False
    unfilled_end = o.status in ("CANCELED", "EXPIRED") and not o.executed
    return not (unfilled_end and o.time + UNFILLED_HIDDEN_MS < now)


async def all_orders(ex: LocalExchange, params: Params) -> Any:
    """GET /fapi/v1/allOrders (All Orders)."""
    acct = account_now(ex)
    symbol = required_symbol(acct, params)
    order_id = _int(params, "orderId")
    start, end = _int(params, "startTime"), _int(params, "endTime")
    limit = _limit(params)
    book = acct.orders.get(symbol, {})
    orders = [o for _, o in sorted(book.items()) if _visible(o, acct.now)]
    timed = start is not None or end is not None
    if order_id is not None:
        orders = [o for o in orders if o.order_id >= order_id]
    if timed or order_id is None:
        lo, hi = window(start, end, acct.now, inclusive=False)
        orders = [o for o in orders if lo <= o.time <= hi]
    rows = _page(orders, limit, newest=not timed and order_id is None)
    return [fm.order_json(acct, o, with_time=True) for o in rows]


HISTORY: list[Endpoint] = [
    Endpoint("GET", "/fapi/v1/userTrades", Security.SIGNED, fixed(5), user_trades),
    Endpoint("GET", "/fapi/v1/allOrders", Security.SIGNED, fixed(5), all_orders),
]
