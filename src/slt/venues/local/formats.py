"""The JSON shapes the trading endpoints answer with, field for field as Binance sends them.

Binance sends prices, quantities and balances as strings: prices with the symbol's
`pricePrecision` decimals, quantities with `quantityPrecision`, `cumQuote` with 5, balances,
PnL and margins with 8 (observed formatting, binance-usdm-protocol.md §6.1, §7). Every number
here is formatted from the account's Decimals with ROUND_HALF_UP; no float is ever printed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from slt.rules import SymbolRules
from slt.venues.local.orders import SIDE_NAMES, ZERO, AlgoOrder, Order

if TYPE_CHECKING:
    from slt.venues.local.account import Account

ASSET = "USDT"


def fixed(value: Decimal, places: int) -> str:
    """`value` with exactly `places` decimals (half up), never '-0.00'."""
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)
    return f"{q:.{places}f}"


def money(value: Decimal) -> str:
    return fixed(value, 8)


def plain(value: Decimal) -> str:
    """A number without padding or exponent, as Binance prints entry prices ('22185.2')."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def price(rules: SymbolRules, value: Decimal) -> str:
    return fixed(value, rules.price_precision)


def qty(rules: SymbolRules, value: Decimal) -> str:
    return fixed(value, rules.quantity_precision)


def order_json(acct: Account, o: Order, *, with_time: bool = False) -> dict[str, Any]:
    """The order object of POST/GET/DELETE /fapi/v1/order (§6.1); `time` on GET/openOrders."""
    r = acct.symbol_rules(o.symbol)
    out: dict[str, Any] = {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_id,
        "price": price(r, o.price),
        "avgPrice": price(r, o.avg_price),
        "origQty": qty(r, o.qty),
        "executedQty": qty(r, o.executed),
        "cumQty": qty(r, o.executed),
        "cumQuote": fixed(o.cum_quote, 5),
        "timeInForce": o.tif,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": SIDE_NAMES[o.side],
        "positionSide": "BOTH",
        "stopPrice": price(r, o.stop_price),
        "workingType": o.working_type,
        "priceProtect": o.price_protect,
        "origType": o.orig_type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": o.stp,
        "goodTillDate": o.gtd,
    }
    if with_time:
        out["time"] = o.time
    out["updateTime"] = o.update_time
    return out


def ack_json(acct: Account, o: Order) -> dict[str, Any]:
    """`newOrderRespType=ACK`: the order as accepted, before any execution (§6.1)."""
    out = order_json(acct, o)
    r = acct.symbol_rules(o.symbol)
    out.update(
        status="NEW",
        avgPrice=price(r, ZERO),
        executedQty=qty(r, ZERO),
        cumQty=qty(r, ZERO),
        cumQuote=fixed(ZERO, 5),
        updateTime=o.time,
    )
    return out


def algo_json(acct: Account, a: AlgoOrder, *, open_fields: bool = False) -> dict[str, Any]:
    """The algo order object of POST /fapi/v1/algoOrder (§6.6); `open_fields` adds the extra
    keys of GET /fapi/v1/openAlgoOrders."""
    r = acct.symbol_rules(a.symbol)
    out: dict[str, Any] = {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.order_type,
        "symbol": a.symbol,
        "side": SIDE_NAMES[a.side],
        "positionSide": "BOTH",
        "timeInForce": a.tif,
        "quantity": qty(r, a.qty),
        "algoStatus": a.status,
        "triggerPrice": price(r, a.trigger_price),
        "price": price(r, a.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": a.stp,
        "workingType": a.working_type,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": a.price_protect,
        "reduceOnly": a.reduce_only,
        "activatePrice": "",
        "callbackRate": "",
        "createTime": a.create_time,
        "updateTime": a.update_time,
        "triggerTime": a.trigger_time,
        "goodTillDate": 0,
    }
    if open_fields:
        out.update(
            actualOrderId=str(a.actual_order_id) if a.actual_order_id else "",
            actualPrice=price(r, a.actual_price),
            tpTriggerPrice=price(r, ZERO),
            tpPrice=price(r, ZERO),
            slTriggerPrice=price(r, ZERO),
            slPrice=price(r, ZERO),
            tpOrderType="",
        )
    return out


def _break_even(acct: Account, symbol: str) -> Decimal:
    """Entry moved by the taker fee of closing (matches the recorded live row, §7.2)."""
    pos = acct.position(symbol)
    if not pos.amount:
        return ZERO
    return pos.entry * (1 + pos.side * acct.taker_rate)


def _position_common(acct: Account, symbol: str) -> dict[str, str]:
    pos = acct.position(symbol)
    liq = acct.liquidation_price(symbol)
    return {
        "positionAmt": qty(acct.symbol_rules(symbol), pos.amount),
        "entryPrice": plain(pos.entry),
        "breakEvenPrice": plain(_break_even(acct, symbol)),
        "markPrice": money(acct.mark_price(symbol)),
        "unRealizedProfit": money(acct.unrealized(symbol)),
        "liquidationPrice": money(liq) if liq is not None and liq > 0 else "0",
    }


def _isolated_margin(acct: Account, symbol: str) -> Decimal:
    if not acct.isolated(symbol):
        return ZERO
    return acct.position(symbol).isolated_wallet + acct.unrealized(symbol)


def position_risk_v2(acct: Account, symbol: str) -> dict[str, Any]:
    """One row of GET /fapi/v2/positionRisk (§7.1): lower-case marginType, string leverage."""
    cfg = acct.config(symbol)
    pos = acct.position(symbol)
    return {
        "symbol": symbol,
        **_position_common(acct, symbol),
        "leverage": str(cfg.leverage),
        "maxNotionalValue": plain(acct.max_notional(symbol)),
        "marginType": "isolated" if cfg.margin_type == "ISOLATED" else "cross",
        "isolatedMargin": money(_isolated_margin(acct, symbol)),
        "isAutoAddMargin": "false",
        "positionSide": "BOTH",
        "notional": money(acct.notional(symbol)),
        "isolatedWallet": money(pos.isolated_wallet),
        "updateTime": pos.update_time,
    }


def _open_order_margin(acct: Account, symbol: str) -> Decimal:
    return acct.order_margin(symbol)


def position_risk_v3(acct: Account, symbol: str) -> dict[str, Any]:
    """One row of GET /fapi/v3/positionRisk (§7.2)."""
    pos = acct.position(symbol)
    pim = acct.position_margin(symbol)
    oim = _open_order_margin(acct, symbol)
    return {
        "symbol": symbol,
        "positionSide": "BOTH",
        **_position_common(acct, symbol),
        "isolatedMargin": money(_isolated_margin(acct, symbol)),
        "notional": money(acct.notional(symbol)),
        "marginAsset": ASSET,
        "isolatedWallet": money(pos.isolated_wallet),
        "initialMargin": money(pim + oim),
        "maintMargin": money(acct.maint_margin(symbol)),
        "positionInitialMargin": money(pim),
        "openOrderInitialMargin": money(oim),
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": pos.update_time,
    }


def _totals(acct: Account) -> dict[str, Decimal]:
    held = acct.held()
    upnl = sum((acct.unrealized(s) for s in held), ZERO)
    pim = sum((acct.position_margin(s) for s in held), ZERO)
    oim = acct.order_margin()
    mm = sum((acct.maint_margin(s) for s in held), ZERO)
    avail = acct.available()
    return {
        "totalInitialMargin": pim + oim,
        "totalMaintMargin": mm,
        "totalWalletBalance": acct.wallet,
        "totalUnrealizedProfit": upnl,
        "totalMarginBalance": acct.wallet + upnl,
        "totalPositionInitialMargin": pim,
        "totalOpenOrderInitialMargin": oim,
        "totalCrossWalletBalance": acct.cross_wallet(),
        "totalCrossUnPnl": acct.cross_unrealized(),
        "availableBalance": avail,
        "maxWithdrawAmount": max(avail, ZERO),
    }


def _asset(acct: Account) -> dict[str, Any]:
    t = _totals(acct)
    return {
        "asset": ASSET,
        "walletBalance": money(t["totalWalletBalance"]),
        "unrealizedProfit": money(t["totalUnrealizedProfit"]),
        "marginBalance": money(t["totalMarginBalance"]),
        "maintMargin": money(t["totalMaintMargin"]),
        "initialMargin": money(t["totalInitialMargin"]),
        "positionInitialMargin": money(t["totalPositionInitialMargin"]),
        "openOrderInitialMargin": money(t["totalOpenOrderInitialMargin"]),
        "crossWalletBalance": money(t["totalCrossWalletBalance"]),
        "crossUnPnl": money(t["totalCrossUnPnl"]),
        "availableBalance": money(t["availableBalance"]),
        "maxWithdrawAmount": money(t["maxWithdrawAmount"]),
        "marginAvailable": True,
        "updateTime": acct.update_time,
    }


def account_json(acct: Account, version: int) -> dict[str, Any]:
    """GET /fapi/v2/account (every symbol's position) or /fapi/v3/account (non-empty only)."""
    head: dict[str, Any] = {k: money(v) for k, v in _totals(acct).items()}
    if version == 2:
        head = {
            "feeTier": 0,
            "feeBurn": False,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            **head,
        }
        symbols = sorted(acct.market.symbols)
        positions = [_v2_position(acct, s) for s in symbols if s in acct.rules]
    else:
        positions = [_v3_position(acct, s) for s in sorted(acct.held())]
    return {**head, "assets": [_asset(acct)], "positions": positions}


def _v2_position(acct: Account, symbol: str) -> dict[str, Any]:
    pos = acct.position(symbol)
    cfg = acct.config(symbol)
    pim = acct.position_margin(symbol)
    oim = _open_order_margin(acct, symbol)
    return {
        "symbol": symbol,
        "initialMargin": money(pim + oim),
        "maintMargin": money(acct.maint_margin(symbol)),
        "unrealizedProfit": money(acct.unrealized(symbol)),
        "positionInitialMargin": money(pim),
        "openOrderInitialMargin": money(oim),
        "leverage": str(cfg.leverage),
        "isolated": cfg.margin_type == "ISOLATED",
        "entryPrice": plain(pos.entry),
        "breakEvenPrice": plain(_break_even(acct, symbol)),
        "maxNotional": plain(acct.max_notional(symbol)),
        "bidNotional": "0",
        "askNotional": "0",
        "positionSide": "BOTH",
        "positionAmt": qty(acct.symbol_rules(symbol), pos.amount),
        "updateTime": pos.update_time,
    }


def _v3_position(acct: Account, symbol: str) -> dict[str, Any]:
    pos = acct.position(symbol)
    return {
        "symbol": symbol,
        "positionSide": "BOTH",
        "positionAmt": qty(acct.symbol_rules(symbol), pos.amount),
        "unrealizedProfit": money(acct.unrealized(symbol)),
        "isolatedMargin": money(_isolated_margin(acct, symbol)),
        "notional": money(acct.notional(symbol)),
        "isolatedWallet": money(pos.isolated_wallet),
        "initialMargin": money(acct.position_margin(symbol)),
        "maintMargin": money(acct.maint_margin(symbol)),
        "updateTime": pos.update_time,
    }


def balance_json(acct: Account) -> list[dict[str, Any]]:
    """GET /fapi/v2/balance and /fapi/v3/balance (§7.4): one USDT row."""
    t = _totals(acct)
    return [
        {
            "accountAlias": "SLTlocal",
            "asset": ASSET,
            "balance": money(acct.wallet),
            "crossWalletBalance": money(t["totalCrossWalletBalance"]),
            "crossUnPnl": money(t["totalCrossUnPnl"]),
            "availableBalance": money(t["availableBalance"]),
            "maxWithdrawAmount": money(t["maxWithdrawAmount"]),
            "marginAvailable": True,
            "updateTime": acct.update_time,
        }
    ]


def leverage_json(acct: Account, symbol: str) -> dict[str, Any]:
    """POST /fapi/v1/leverage answer (§7.5)."""
    return {
        "leverage": acct.config(symbol).leverage,
        "maxNotionalValue": plain(acct.max_notional(symbol)),
        "symbol": symbol,
    }


def symbol_config_json(acct: Account, symbol: str) -> dict[str, Any]:
    """One row of GET /fapi/v1/symbolConfig (§7.2): upper-case marginType, int leverage."""
    cfg = acct.config(symbol)
    return {
        "symbol": symbol,
        "marginType": cfg.margin_type,
        "isAutoAddMargin": False,
        "leverage": cfg.leverage,
        "maxNotionalValue": plain(acct.max_notional(symbol)),
    }


SUCCESS = {"code": 200, "msg": "success"}
"""The marginType / positionSide answer (§7.6)."""
