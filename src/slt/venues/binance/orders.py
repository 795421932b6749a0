"""From the engine's `OrderRequest` to the exact Binance request, checked by `slt.rules` first.

No order leaves the process unless it passes the symbol's filters and the leverage bracket
(DESIGN.md, principle 4). The engine already rounded its numbers on the grid, so the check here
runs with `repair=False`: anything off-grid or out of bounds is refused locally with the Binance
code the exchange would have answered (`OrderRejected`), and nothing is sent. Numbers go out as
plain decimal strings (`format(d, "f")`: never a float, never an exponent).

Conditional orders (STOP_MARKET, TAKE_PROFIT_MARKET) are algo orders since December 2025: they
carry `algoType=CONDITIONAL`, `triggerPrice` and `clientAlgoId`; the others `newClientOrderId`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from slt.domain import OrderRequest, OrderType
from slt.rules import SymbolRules, check_order
from slt.venues.binance.errors import OrderRejected

CONDITIONAL = frozenset({OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET})


def plain(value: Decimal) -> str:
    """`value` as Binance wants it: positional notation, no exponent, no float rounding."""
    return format(value, "f")


def order_params(
    order: OrderRequest,
    rules: SymbolRules,
    mark_price: Decimal,
    *,
    working_type: str = "CONTRACT_PRICE",
) -> dict[str, str]:
    """The request for `order`; `OrderRejected` (with Binance's code) when `slt.rules` says
    the exchange would refuse it. `mark_price` is the price MIN_NOTIONAL and immediate
    triggers are judged at (the last price for CONTRACT_PRICE triggers)."""
    check = check_order(
        rules,
        side=int(order.side),
        order_type=order.type,
        quantity=order.quantity,
        price=order.stop_price,
        mark_price=mark_price,
        reduce_only=order.reduce_only,
        close_position=order.close_position,
        repair=False,
    )
    if not check.ok:
        raise OrderRejected(
            f"{order.symbol} {order.type.value} {order.client_id} refused before sending "
            f"({check.code}): {check.reason}",
            check.code,
        )
    params = {"symbol": order.symbol, "side": order.binance_side, "type": order.type.value}
    if order.type in CONDITIONAL:
        assert check.price is not None, "a conditional order passed the check with a trigger"
        params["algoType"] = "CONDITIONAL"
        params["clientAlgoId"] = order.client_id
        params["triggerPrice"] = plain(check.price)
        params["workingType"] = working_type
    else:
        params["newClientOrderId"] = order.client_id
    if order.close_position:
        params["closePosition"] = "true"
    else:
        assert check.quantity is not None, "an order without closePosition has a quantity"
        params["quantity"] = plain(check.quantity)
        if order.reduce_only:
            params["reduceOnly"] = "true"
    if order.type is OrderType.MARKET:
        params["newOrderRespType"] = "RESULT"
    return params


class LeverageCache:
    """The leverage last set per symbol, so an entry only calls `/fapi/v1/leverage` when it
    changes (a restart starts empty and sets it once again)."""

    def __init__(self) -> None:
        self.by_symbol: dict[str, int] = {}

    async def ensure(self, rest: Any, symbol: str, leverage: int) -> None:
        if self.by_symbol.get(symbol) == leverage:
            return
        await rest.set_leverage(symbol, leverage)
        self.by_symbol[symbol] = leverage
