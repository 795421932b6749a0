"""The account through market time: what the replayed price path reaches, in path order.

- a resting LIMIT order fills in full, as maker, at its own price when the path reaches it;
- a conditional order (algo, or legacy on /fapi/v1/order) triggers when the path reaches its
  trigger (§6.1: STOP BUY / TAKE_PROFIT SELL on price ≥ trigger, the others on ≤); its
  MARKET order fills where the path met the trigger, its LIMIT order as `matching` fills a new
  one. MARK_PRICE and CONTRACT_PRICE read the same price: the replay's mark is its last price.
  A GTD order expires at its goodTillDate.

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

from slt.rules import Rounding, funding_payment, funding_times, quantize_amount, trading_fee
from slt.rules.rounding import CALC
from slt.venues.local import matching
from slt.venues.local import userevents as ue
from slt.venues.local.errors import ApiError
from slt.venues.local.orders import (
    BASIC_TYPES,
    TRIGGER_MARKET,
    ZERO,
    AlgoOrder,
    Order,
    check_margin,
    taker_price,
    trigger_direction,
)

if TYPE_CHECKING:
    from slt.venues.local.account import Account

MINUTE_MS = 60_000
LIQUIDATION, TRIGGER, LIMIT_FILL = 0, 1, 2


# triggers and liquidation ------------------------------------------------------------------------
def _trigger_algo(acct: Account, a: AlgoOrder, at: Decimal, t: int) -> None:
    """The algo order's trigger was reached at `at`: place and match its order."""
    s = a.symbol
    pos = acct.position(s)
    a.trigger_time = t
    if a.reduce_only and pos.side in (0, a.side):
        matching.finish_algo(acct, a, "REJECTED", t, "Reduce Only reject")
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
            matching.finish_algo(acct, a, "REJECTED", t, err.msg)
            return
    matching.register(acct, o, t)
    a.actual_order_id = o.order_id
    matching.finish_algo(acct, a, "TRIGGERED", t)
    acct.emit(ue.order_update(acct, o, "NEW", t), t)
    if take is not None and o.tif != "GTX":
        matching.fill(acct, o, take, maker=False, t=t)
    elif take is not None or o.tif in ("IOC", "FOK"):
        matching.close_order(acct, o, "EXPIRED", t, reason="2")
    a.actual_price = o.avg_price
    matching.finish_algo(acct, a, "FINISHED", t)


def _trigger_legacy(acct: Account, o: Order, at: Decimal, t: int) -> None:
    """A legacy conditional order (on /fapi/v1/order) reached its stopPrice: it becomes the
    MARKET or LIMIT order it carries, keeping its id."""
    pos = acct.position(o.symbol)
    if o.reduce_only and pos.side in (0, o.side):
        matching.close_order(acct, o, "EXPIRED", t)
        return
    if o.close_position:
        o.qty = abs(pos.amount)
    o.type = "MARKET" if o.orig_type in TRIGGER_MARKET else "LIMIT"
    take = taker_price(o, at)
    if take is not None:
        matching.fill(acct, o, take, maker=False, t=t)


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
    matching.register(acct, o, t)
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
            trade_id=acct.record_trade(o, q, price, fee=fee, realized=realized, maker=False, t=t),
        ),
        t,
    )
    acct.emit(ue.account_update(acct, "ORDER", [s]), t)
    matching.after_position_change(acct, s, t)


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
                matching.fill(acct, what, what.price, maker=True, t=t1)
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
                    matching.close_order(acct, o, "EXPIRED", t1)
        if t1 in funding:
            _settle_funding(acct, t1)
        t0 = t1
        if not _active(acct):
            break
    acct.now = now
