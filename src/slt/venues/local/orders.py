"""Orders: what an order and an algo order are, and the checks on them that need the account
(margin, open-order capacity) or the market (the price a taker gets, a trigger's direction).

How a request's parameters become an order (or Binance's error) is `order_params`: parsing
changes with the API's parameters, these definitions with the matching engine.

Supported types: LIMIT and MARKET on the order endpoint; STOP_MARKET, TAKE_PROFIT_MARKET,
STOP and TAKE_PROFIT on the algo endpoint (and on the order endpoint when the exchange runs
with `legacy_conditional`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from slt.rules import initial_margin, trading_fee
from slt.rules.rounding import CALC
from slt.venues.local.errors import api_error

if TYPE_CHECKING:
    from slt.venues.local.account import Account

ZERO = Decimal(0)
BUY, SELL = 1, -1
SIDES = {"BUY": BUY, "SELL": SELL}
SIDE_NAMES = {BUY: "BUY", SELL: "SELL"}

BASIC_TYPES = ("LIMIT", "MARKET")
TRIGGER_MARKET = ("STOP_MARKET", "TAKE_PROFIT_MARKET")
TRIGGER_LIMIT = ("STOP", "TAKE_PROFIT")
CONDITIONAL = (*TRIGGER_MARKET, *TRIGGER_LIMIT, "TRAILING_STOP_MARKET")
ALL_TYPES = (*BASIC_TYPES, *CONDITIONAL)
MAX_OPEN_ORDERS = 200
"""MAX_NUM_ORDERS: open orders per symbol, regular and algo together (§5.3)."""
MAX_OPEN_ALGOS = 200
"""Open conditional orders across all symbols since 2025-12-29 (§0)."""


@dataclass(slots=True)
class Order:
    """One order of the matching engine, as `GET /fapi/v1/order` describes it.

    `side` is +1 BUY / −1 SELL. `type` is LIMIT or MARKET, or a conditional type for a legacy
    conditional order (placed on /fapi/v1/order with `legacy_conditional`) until it triggers.
    `orig_type` keeps the type it was placed with. `qty` is 0 for a closePosition order until
    it triggers. Ids, times and fill state are set by the account."""

    symbol: str
    side: int
    type: str
    orig_type: str
    tif: str
    qty: Decimal
    price: Decimal
    stop_price: Decimal
    reduce_only: bool
    close_position: bool
    working_type: str
    price_protect: bool
    stp: str
    order_id: int = 0
    client_id: str = ""
    time: int = 0
    update_time: int = 0
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    avg_price: Decimal = ZERO
    resp_type: str = "ACK"
    gtd: int = 0
    """goodTillDate (UTC ms) of a GTD order; 0 otherwise."""

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(slots=True)
class AlgoOrder:
    """One conditional order of the Algo Service (§6.6): waits for its trigger, then places a
    MARKET (STOP_MARKET / TAKE_PROFIT_MARKET) or LIMIT (STOP / TAKE_PROFIT) order."""

    symbol: str
    side: int
    order_type: str
    tif: str
    qty: Decimal
    price: Decimal
    trigger_price: Decimal
    reduce_only: bool
    close_position: bool
    working_type: str
    price_protect: bool
    stp: str
    algo_id: int = 0
    client_algo_id: str = ""
    create_time: int = 0
    update_time: int = 0
    trigger_time: int = 0
    status: str = "NEW"
    actual_order_id: int = 0
    actual_price: Decimal = ZERO
    reject_reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status == "NEW"


def check_margin(acct: Account, symbol: str, side: int, qty: Decimal, price: Decimal) -> None:
    """-2027 when the grown position exceeds the leverage's bracket, -2019 when the opening part
    (and its taker fee) does not fit in the available balance. Reducing costs nothing."""
    pos = acct.position(symbol)
    size = abs(pos.amount)
    opening = qty if pos.side in (0, side) else max(ZERO, qty - size)
    if not opening:
        return
    lev = acct.config(symbol).leverage
    grown = (size if pos.side == side else ZERO) + opening
    if lev > acct.symbol_rules(symbol).max_leverage_for(CALC.multiply(grown, price)):
        raise api_error(-2027)
    need = initial_margin(CALC.multiply(opening, price), lev) + trading_fee(
        CALC.multiply(qty, price), acct.taker_rate
    )
    if need > acct.available():
        raise api_error(-2019)


def taker_price(o: Order, last: Decimal) -> Decimal | None:
    """The price `o` takes at now (None when it would rest): MARKET at the last price, a
    crossing LIMIT at the better of its limit and the last price."""
    if o.type == "MARKET":
        return last
    if o.side * (o.price - last) >= 0:
        return min(o.price, last) if o.side > 0 else max(o.price, last)
    return None


def check_capacity(acct: Account, symbol: str, algo: bool) -> None:
    """-2025 when one more open order would pass MAX_NUM_ORDERS or the algo-order limit."""
    if len(acct.open_orders(symbol)) + len(acct.open_algos(symbol)) >= MAX_OPEN_ORDERS:
        raise api_error(-2025)
    if algo and len(acct.open_algos()) >= MAX_OPEN_ALGOS:
        raise api_error(-2025)


def trigger_direction(order_type: str, side: int) -> int:
    """+1 when the order fires on price ≥ trigger, −1 on price ≤ trigger (§6.1: STOP BUY and
    TAKE_PROFIT SELL fire on a rise; STOP SELL and TAKE_PROFIT BUY on a fall)."""
    stop = order_type in ("STOP", "STOP_MARKET")
    return side if stop else -side
