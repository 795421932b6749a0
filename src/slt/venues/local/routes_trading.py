"""The trading and account endpoints of the local exchange, and the account they act on.

`TRADING` lists them with Binance's weights (binance-usdm-protocol.md §4); the order-placing
ones count against the ORDERS limiters. Every handler first replays the market up to the clock
(`Account.advance`), so what it answers includes every fill, trigger, liquidation and funding
settlement the replay has reached.

Position mode is one-way only: `POST /fapi/v1/positionSide/dual` with `true` is refused with
-1130 (`dualSidePosition`) and a message saying hedge mode is not offered; `false` answers
-4059, as Binance does when nothing changes. `DELETE /fapi/v1/allOpenOrders` cancels regular
orders only (whether Binance also cancels algo orders is unconfirmed, §6.6); algo orders are
cancelled with `DELETE /fapi/v1/algoOpenOrders`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from slt.rules import ExchangeRules
from slt.venues.local import formats as fm
from slt.venues.local.account import Account
from slt.venues.local.account_book import DEFAULT_BALANCE, DEFAULT_FUNDING_RATE, DEFAULT_LEVERAGE
from slt.venues.local.endpoints import Endpoint, Params, Security, fixed, with_symbol
from slt.venues.local.errors import ApiError, api_error
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.market import MarketReplay
from slt.venues.local.orders import AlgoOrder, Order

CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}


def build_account(
    market: MarketReplay,
    rules: ExchangeRules,
    *,
    balance: Decimal | int | str = DEFAULT_BALANCE,
    funding_rate: Decimal | str = DEFAULT_FUNDING_RATE,
    legacy_conditional: bool = False,
    margin_type: str = "CROSSED",
    leverage: int = DEFAULT_LEVERAGE,
) -> Account:
    """A fresh account at the market's current time with `balance` USDT.

    `legacy_conditional` accepts STOP_MARKET / TAKE_PROFIT_MARKET / STOP / TAKE_PROFIT on
    `POST /fapi/v1/order` as Binance did before 2025-12-09 (default: -4120, as now)."""
    if margin_type not in ("CROSSED", "ISOLATED"):
        raise ValueError(f"margin_type must be CROSSED or ISOLATED, got {margin_type!r}")
    return Account(
        market,
        rules,
        balance=Decimal(balance),
        funding_rate=Decimal(funding_rate),
        legacy_conditional=legacy_conditional,
        margin_type=margin_type,
        leverage=leverage,
    )


def account_now(ex: LocalExchange) -> Account:
    """The exchange's account, replayed up to the market clock (every handler starts here)."""
    acct = ex.account
    assert isinstance(acct, Account), "the exchange has no trading account"
    acct.advance(ex.market.now_ms())
    return acct


def required_symbol(acct: Account, params: Params) -> str:
    """The `symbol` parameter, which must be sent (-1102) and traded here (-1121)."""
    symbol = params.get("symbol") or ""
    if not symbol:
        raise api_error(-1102, "symbol")
    return acct.symbol_rules(symbol).symbol


def _symbols(acct: Account, params: Params) -> list[str]:
    """The given symbol, or every symbol the exchange trades."""
    if params.get("symbol"):
        return [required_symbol(acct, params)]
    return [s for s in acct.market.symbols if s in acct.rules]


def find_order(acct: Account, symbol: str, params: Params) -> Order:
    """The order named by `orderId` or `origClientOrderId` (-1102 when neither, -2013 when
    unknown); a client id names its open order, else its latest."""
    book = acct.orders.get(acct.symbol_rules(symbol).symbol, {})
    order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
    found: Order | None
    if order_id:
        try:
            found = book.get(int(order_id))
        except ValueError:
            raise api_error(-1102, "orderId") from None
    elif client_id:
        hits = [o for o in book.values() if o.client_id == client_id]
        open_hits = [o for o in hits if o.is_open]
        found = (open_hits or hits)[-1] if hits else None
    else:
        raise api_error(-1102, "orderId")
    if found is None:
        raise api_error(-2013)
    return found


def find_algo(acct: Account, params: Params) -> AlgoOrder:
    """The algo order named by `algoId` or `clientAlgoId` (-1102 / -2013 as above)."""
    algo_id, client_algo_id = params.get("algoId"), params.get("clientAlgoId")
    found: AlgoOrder | None
    if algo_id:
        try:
            found = acct.algos.get(int(algo_id))
        except ValueError:
            raise api_error(-1102, "algoId") from None
    elif client_algo_id:
        hits = [a for a in acct.algos.values() if a.client_algo_id == client_algo_id]
        found = hits[-1] if hits else None
    else:
        raise api_error(-1102, "algoId")
    if found is None:
        raise api_error(-2013)
    return found


def _unknown_to_cancel(err: ApiError) -> ApiError:
    """Cancelling an order that does not exist is -2011, not -2013 (§6.3)."""
    return api_error(-2011) if err.code == -2013 else err


# orders -----------------------------------------------------------------------------------------
async def new_order(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    order = acct.place_order(params)
    if order.resp_type == "RESULT":
        return fm.order_json(acct, order)
    return fm.ack_json(acct, order)


async def query_order(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    o = find_order(acct, required_symbol(acct, params), params)
    return fm.order_json(acct, o, with_time=True)


async def cancel_order(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    try:
        o = find_order(acct, required_symbol(acct, params), params)
    except ApiError as err:
        raise _unknown_to_cancel(err) from None
    return fm.order_json(acct, acct.cancel_order(o))


async def open_order(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    o = find_order(acct, required_symbol(acct, params), params)
    if not o.is_open:
        raise api_error(-2013)
    return fm.order_json(acct, o, with_time=True)


async def open_orders(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    symbol = required_symbol(acct, params) if params.get("symbol") else None
    return [fm.order_json(acct, o, with_time=True) for o in acct.open_orders(symbol)]


async def cancel_all(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    for o in acct.open_orders(required_symbol(acct, params)):
        acct.cancel_order(o)
    return CANCEL_ALL_DONE


# algo orders --------------------------------------------------------------------------------------
async def new_algo(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    return fm.algo_json(acct, acct.place_algo(params))


async def cancel_algo(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    try:
        a = find_algo(acct, params)
    except ApiError as err:
        raise _unknown_to_cancel(err) from None
    acct.cancel_algo(a)
    return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}


async def query_algo(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    a = find_algo(acct, params)
    return fm.algo_json(acct, a, open_fields=True)


async def open_algos(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    symbol = required_symbol(acct, params) if params.get("symbol") else None
    algos = acct.open_algos(symbol)
    if params.get("algoId"):
        algos = [a for a in algos if str(a.algo_id) == params["algoId"]]
    return [fm.algo_json(acct, a, open_fields=True) for a in algos]


async def cancel_all_algos(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    for a in acct.open_algos(required_symbol(acct, params)):
        acct.cancel_algo(a)
    return CANCEL_ALL_DONE


# account and positions ----------------------------------------------------------------------------
async def position_risk_v2(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    return [fm.position_risk_v2(acct, s) for s in _symbols(acct, params)]


async def position_risk_v3(ex: LocalExchange, params: Params) -> Any:
    """Only symbols with a position or open orders (§7.2)."""
    acct = account_now(ex)
    wanted = set(_symbols(acct, params))
    busy = set(acct.held()) | {o.symbol for o in acct.open_orders()}
    return [fm.position_risk_v3(acct, s) for s in sorted(wanted & busy)]


async def account_v2(ex: LocalExchange, params: Params) -> Any:
    return fm.account_json(account_now(ex), 2)


async def account_v3(ex: LocalExchange, params: Params) -> Any:
    return fm.account_json(account_now(ex), 3)


async def balance(ex: LocalExchange, params: Params) -> Any:
    return fm.balance_json(account_now(ex))


async def leverage(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    symbol = required_symbol(acct, params)
    raw = params.get("leverage") or ""
    if not raw:
        raise api_error(-1102, "leverage")
    try:
        value = int(raw)
    except ValueError:
        raise api_error(-1102, "leverage") from None
    acct.set_leverage(symbol, value)
    return fm.leverage_json(acct, symbol)


async def margin_type(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    symbol = required_symbol(acct, params)
    raw = params.get("marginType") or ""
    if not raw:
        raise api_error(-1102, "marginType")
    acct.set_margin_type(symbol, raw.upper())
    return fm.SUCCESS


async def get_position_mode(ex: LocalExchange, params: Params) -> Any:
    account_now(ex)
    return {"dualSidePosition": False}


async def set_position_mode(ex: LocalExchange, params: Params) -> Any:
    account_now(ex)
    raw = (params.get("dualSidePosition") or "").lower()
    if raw not in ("true", "false"):
        raise api_error(-1102, "dualSidePosition")
    if raw == "false":
        raise api_error(-4059, msg="No need to change position side.")
    raise api_error(
        -1130,
        msg="Hedge mode (dualSidePosition=true) is not offered by the local exchange; "
        "it trades one-way (BOTH) positions only.",
    )


async def symbol_config(ex: LocalExchange, params: Params) -> Any:
    acct = account_now(ex)
    return [fm.symbol_config_json(acct, s) for s in _symbols(acct, params)]


S = Security.SIGNED
TRADING: list[Endpoint] = [
    Endpoint("POST", "/fapi/v1/order", S, fixed(0), new_order, orders=True),
    Endpoint("GET", "/fapi/v1/order", S, fixed(1), query_order),
    Endpoint("DELETE", "/fapi/v1/order", S, fixed(1), cancel_order),
    Endpoint("GET", "/fapi/v1/openOrder", S, fixed(1), open_order),
    Endpoint("GET", "/fapi/v1/openOrders", S, with_symbol(1, 40), open_orders),
    Endpoint("DELETE", "/fapi/v1/allOpenOrders", S, fixed(1), cancel_all),
    Endpoint("POST", "/fapi/v1/algoOrder", S, fixed(0), new_algo, orders=True),
    Endpoint("DELETE", "/fapi/v1/algoOrder", S, fixed(1), cancel_algo),
    Endpoint("GET", "/fapi/v1/algoOrder", S, fixed(1), query_algo),
    Endpoint("GET", "/fapi/v1/openAlgoOrders", S, with_symbol(1, 40), open_algos),
    Endpoint("DELETE", "/fapi/v1/algoOpenOrders", S, fixed(1), cancel_all_algos),
    Endpoint("GET", "/fapi/v2/positionRisk", S, fixed(5), position_risk_v2),
    Endpoint("GET", "/fapi/v3/positionRisk", S, fixed(5), position_risk_v3),
    Endpoint("GET", "/fapi/v2/account", S, fixed(5), account_v2),
    Endpoint("GET", "/fapi/v3/account", S, fixed(5), account_v3),
    Endpoint("GET", "/fapi/v2/balance", S, fixed(5), balance),
    Endpoint("GET", "/fapi/v3/balance", S, fixed(5), balance),
    Endpoint("POST", "/fapi/v1/leverage", S, fixed(1), leverage),
    Endpoint("POST", "/fapi/v1/marginType", S, fixed(1), margin_type),
    Endpoint("GET", "/fapi/v1/positionSide/dual", S, fixed(30), get_position_mode),
    Endpoint("POST", "/fapi/v1/positionSide/dual", S, fixed(1), set_position_mode),
    Endpoint("GET", "/fapi/v1/symbolConfig", S, fixed(5), symbol_config),
]
