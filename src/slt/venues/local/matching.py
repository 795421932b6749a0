"""Matching against the replayed price path: fills, triggers, liquidation and funding.

The replay has no order book, only the price path of the stored candles, so:
- a MARKET order fills at once, in full, at the last price (on the tick grid) as taker;
- a LIMIT order that crosses the last price fills at once, in full, as taker at the better of
  its limit and the last price; IOC fills like that or expires, FOK fills like that or is
  rejected (-5021), GTX (post-only) that would take is rejected (-5022);
- a resting LIMIT order fills in full, as maker, at its own price when the path reaches it;
- a conditional order (algo, or legacy on /fapi/v1/order) triggers when the path reaches its
  trigger (§6.1: STOP BUY / TAKE_PROFIT SELL on price ≥ trigger, the others on ≤); its
  MARKET order fills where the path met the trigger, its LIMIT order as above. MARK_PRICE and
  CONTRACT_PRICE read the same price: the replay's mark is its last price. A GTD order expires
at its goodTillDate.
There are no partial fills from liquidity: every fill is of the whole remaining quantity.
Reduce-only orders fill at most the position, are shrunk to it when it shrinks and expire when
it is flat or flips to their side.

`advance` walks each symbol's path (`MarketReplay.path_between`) minute by minute, symbols in
turn within a minute, so events stay in market-time order. Within a path segment the level met
first is processed first; on a tie liquidation comes before a trigger and a trigger before a
resting limit. Between two vertices the price moves linearly, so a level between them was
traded. Events of a minute are stamped with the minute's end (or the advance's end time).
Liquidation (isolated or cross, prices from `slt.rules`) closes the whole position at its
liquidation price, rounded a tick against it, when the mark reaches it; isolated positions lose
their isolated wallet, cross positions pay the symbol's liquidation fee rate. Funding is
settled at 00/08/16 UTC on open positions with the account's rate and the mark at that time.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING

from slt.rules import (
    Rounding,
    funding_payment,
    funding_times,
    quantize_amount,
    trading_fee,
)
from slt.rules.rounding import CALC
from slt.venues.local import userevents as ue
from slt.venues.local.errors import ApiError, api_error
from slt.venues.local.orders import (
    BASIC_TYPES,
    TRIGGER_MARKET,
    ZERO,
    AlgoOrder,
    Order,
    check_capacity,
    check_margin,
    taker_price,
    trigger_direction,
)

if TYPE_CHECKING:
    from slt.venues.local.account import Account

MINUTE_MS = 60_000
LIQUIDATION, TRIGGER, LIMIT_FILL = 0, 1, 2


# order entry -------------------------------------------------------------------------------------
def _register(acct: Account, o: Order, t: int) -> None:
    o.order_id = acct.new_order_id(o.symbol)
    o.client_id = o.client_id or f"sltlocal-{o.order_id}"
    o.time = o.update_time = t
    acct.orders.setdefault(o.symbol, {})[o.order_id] = o
    acct.live.setdefault(o.symbol, {})[o.order_id] = o


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
        if not o.reduce_only:
            check_margin(acct, s, o.side, o.qty, take if take is not None else o.price)
    _register(acct, o, t)
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
            trade_id=acct.new_trade_id(),
        ),
        t,
    )
    acct.emit(ue.account_update(acct, "ORDER", [s]), t)
    _after_position_change(acct, s, t)


def _after_position_change(acct: Account, s: str, t: int) -> None:
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


def _trigger_algo(acct: Account, a: AlgoOrder, at: Decimal, t: int) -> None:
    """The algo order's trigger was reached at `at`: place and match its order."""
    s = a.symbol
    pos = acct.position(s)
    a.trigger_time = t
    if a.reduce_only and pos.side in (0, a.side):
        finish_algo(acct, a, "REJECTED", t, "Reduce Only reject")
        return
    market = a.order_type in TRIGGER_MARKET
    o = Order(
        symbol=s,
        side=a.side,
        type="MARKET" if market else "LIMIT",
        orig_type=a.order_type,
        tif=a.tif,
        qty=abs(pos.amount) if a.close_position else a.qty,
        price=ZERO if market else a.price,
        stop_price=a.trigger_price,
        reduce_only=a.reduce_only,
        close_position=a.close_position,
        working_type=a.working_type,
        price_protect=a.price_protect,
        stp=a.stp,
    )
    take = taker_price(o, at)
    if not a.reduce_only:
        try:
            check_margin(acct, s, o.side, o.qty, take if take is not None else o.price)
        except ApiError as err:
            finish_algo(acct, a, "REJECTED", t, err.msg)
            return
    _register(acct, o, t)
    a.actual_order_id = o.order_id
    finish_algo(acct, a, "TRIGGERED", t)
    acct.emit(ue.order_update(acct, o, "NEW", t), t)
    if take is not None and o.tif != "GTX":
        fill(acct, o, take, maker=False, t=t)
    elif take is not None or o.tif in ("IOC", "FOK"):
        close_order(acct, o, "EXPIRED", t, reason="2")
    a.actual_price = o.avg_price
    finish_algo(acct, a, "FINISHED", t)


def _trigger_legacy(acct: Account, o: Order, at: Decimal, t: int) -> None:
    """A legacy conditional order (on /fapi/v1/order) reached its stopPrice: it becomes the
    MARKET or LIMIT order it carries, keeping its id."""
    pos = acct.position(o.symbol)
    if o.reduce_only and pos.side in (0, o.side):
        close_order(acct, o, "EXPIRED", t)
        return
    if o.close_position:
        o.qty = abs(pos.amount)
    o.type = "MARKET" if o.orig_type in TRIGGER_MARKET else "LIMIT"
    take = taker_price(o, at)
    if take is not None:
        fill(acct, o, take, maker=False, t=t)


def _liquidate(acct: Account, s: str, liq: Decimal, t: int) -> None:
    """Close the whole position at its liquidation price, a tick against it (§12 item 10)."""
    rules = acct.symbol_rules(s)
    pos = acct.position(s)
    price = rules.round_price(liq, Rounding.DOWN if pos.side > 0 else Rounding.UP)
    pnl = quantize_amount(CALC.multiply(pos.amount, price - pos.entry))
    if acct.isolated(s):
        fee = quantize_amount(max(ZERO, pos.isolated_wallet + pnl))
    else:
        rate_fee = trading_fee(CALC.multiply(abs(pos.amount), price), rules.liquidation_fee)
        fee = min(rate_fee, quantize_amount(max(ZERO, acct.cross_wallet() + pnl)))
    q = abs(pos.amount)
    o = Order(
        symbol=s,
        side=-pos.side,
        type="LIQUIDATION",
        orig_type="LIQUIDATION",
        tif="IOC",
        qty=q,
        price=price,
        stop_price=ZERO,
        reduce_only=True,
        close_position=False,
        working_type="CONTRACT_PRICE",
        price_protect=False,
        stp="NONE",
        client_id=f"autoclose-{t}",
    )
    _register(acct, o, t)
    realized = acct.close_out(s, price, fee, t)
    o.executed, o.cum_quote, o.avg_price, o.status = q, q * price, price, "FILLED"
    acct.emit(
        ue.order_update(
            acct,
            o,
            "CALCULATED",
            t,
            last_qty=q,
            last_price=price,
            fee=fee,
            realized=realized,
            trade_id=acct.new_trade_id(),
        ),
        t,
    )
    acct.emit(ue.account_update(acct, "ORDER", [s]), t)
    _after_position_change(acct, s, t)


# the walk ----------------------------------------------------------------------------------------
def _hit(cur: Decimal, end: Decimal, level: Decimal, d: int) -> tuple[Decimal, Decimal] | None:
    """(distance along the segment, price) where a level firing on d·(price − level) ≥ 0 is
    met on the way from `cur` to `end`; None when it is not."""
    if d * (cur - level) >= 0:
        return ZERO, cur
    if d * (end - level) >= 0:
        return abs(level - cur), level
    return None


Level = tuple[int, int, "Order | AlgoOrder | None", Decimal, int]
"""(kind, seq, what, level, d): something that happens when d·(price − level) ≥ 0."""


def _levels(acct: Account, s: str) -> list[Level]:
    """Every level that can act on `s` now: liquidation, triggers, resting limits."""
    out: list[Level] = []
    pos = acct.position(s)
    if pos.amount:
        liq = acct.liquidation_price(s)
        if liq is not None and liq > 0:
            out.append((LIQUIDATION, 0, None, liq, -pos.side))
    for a in acct.open_algos(s):
        out.append(
            (TRIGGER, a.algo_id, a, a.trigger_price, trigger_direction(a.order_type, a.side))
        )
    for o in acct.open_orders(s):
        if o.type == "LIMIT":
            out.append((LIMIT_FILL, o.order_id, o, o.price, -o.side))
        elif o.type not in BASIC_TYPES:
            out.append((TRIGGER, o.order_id, o, o.stop_price, trigger_direction(o.type, o.side)))
    return out


def _next(
    levels: list[Level], cur: Decimal, end: Decimal
) -> tuple[Decimal, int, int, Order | AlgoOrder | None, Decimal] | None:
    """The first level met from `cur` to `end`: (distance, kind, seq, what, price)."""
    best: tuple[Decimal, int, int, Order | AlgoOrder | None, Decimal] | None = None
    for kind, seq, what, level, d in levels:
        met = _hit(cur, end, level, d)
        if met is None:
            continue
        key = (met[0], kind, seq, what, met[1] if kind != LIQUIDATION else level)
        if best is None or key[:3] < best[:3]:
            best = key
    return best


def _walk(acct: Account, s: str, t0: int, t1: int) -> None:
    """Process, in path order, what the price path of (t0, t1] reaches on `s`."""
    path = acct.market.path_between(s, t0, t1)
    if not path:
        return
    levels = _levels(acct, s)
    low, high = min(path), max(path)
    if not any(high >= lv if d > 0 else low <= lv for *_, lv, d in levels):
        return  # nothing within reach this minute (the usual case)
    rules = acct.symbol_rules(s)
    pts = [Decimal(repr(p)) for p in path]
    segments = list(pairwise(pts)) or [(pts[0], pts[0])]
    for start, end in segments:
        cur = start
        for _ in range(10_000):
            nxt = _next(levels, cur, end)
            if nxt is None:
                break
            _dist, kind, _seq, what, at = nxt
            if kind == LIQUIDATION:
                _liquidate(acct, s, at, t1)
            elif isinstance(what, AlgoOrder):
                _trigger_algo(acct, what, rules.round_price(at, Rounding.NEAREST), t1)
            elif isinstance(what, Order) and kind == TRIGGER:
                _trigger_legacy(acct, what, rules.round_price(at, Rounding.NEAREST), t1)
            elif isinstance(what, Order):
                fill(acct, what, what.price, maker=True, t=t1)
            cur = at
            levels = _levels(acct, s)


def _settle_funding(acct: Account, t: int) -> None:
    for s in sorted(acct.held()):
        pos = acct.position(s)
        amount = funding_payment(
            side=pos.side,
            quantity=abs(pos.amount),
            mark_price=acct.mark_price(s, t),
            rate=acct.funding_rate,
        )
        acct.credit_funding(s, amount, t)
        shown = [s] if acct.isolated(s) else []
        acct.emit(ue.account_update(acct, "FUNDING_FEE", shown, amount), t)


def _active(acct: Account) -> list[str]:
    symbols = {o.symbol for o in acct.open_orders()} | {a.symbol for a in acct.open_algos()}
    return sorted(symbols | set(acct.held()))


def advance(acct: Account, now: int) -> None:
    """Replay (acct.now, now]: see the module docstring."""
    start = acct.now
    if now <= start:
        return
    if not _active(acct):
        acct.now = now
        return
    funding = set(funding_times(start, now))
    # Minute steps only where candles can move the price; funding and `now` always.
    market = acct.market
    first_minute = (max(start, market.first_open_ms) // MINUTE_MS + 1) * MINUTE_MS
    minutes = range(first_minute, min(now, market.last_close_ms + MINUTE_MS), MINUTE_MS)
    expiries = {o.gtd for o in acct.open_orders() if start < o.gtd <= now}
    stops = sorted({*minutes, *funding, *expiries, now})
    t0 = start
    for t1 in stops:
        acct.now = t1
        for s in _active(acct):
            _walk(acct, s, t0, t1)
        if t1 in expiries:
            for o in acct.open_orders():
                if 0 < o.gtd <= t1:
                    close_order(acct, o, "EXPIRED", t1)
        if t1 in funding:
            _settle_funding(acct, t1)
        t0 = t1
        if not _active(acct):
            break
    acct.now = now
