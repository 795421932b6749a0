"""Reading raw Binance replies (and the ccxt cache of brackets) into SymbolRules.

Kept apart from the data types so the shapes of foreign JSON stay in one place: when Binance adds,
renames or drops a filter (MAX_NUM_ALGO_ORDERS disappeared on 2025-12-29), only this file changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from slt.rules.brackets import Bracket
from slt.rules.numbers import to_decimal, to_int
from slt.rules.symbol import SymbolRules

_ZERO = Decimal(0)


def _filters_by_type(raw_symbol: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f["filterType"]: f for f in raw_symbol.get("filters", ()) if "filterType" in f}


def parse_symbol_rules(raw_symbol: Mapping[str, Any], brackets: tuple[Bracket, ...]) -> SymbolRules:
    """SymbolRules from one `exchangeInfo.symbols[]` entry plus that symbol's parsed brackets.

    PRICE_FILTER and LOT_SIZE are required; without them no order can be validated. The other
    filters are optional, as Binance does drop filters: a missing MARKET_LOT_SIZE falls back to
    LOT_SIZE, a missing MIN_NOTIONAL or PERCENT_PRICE becomes 0 (= check disabled).
    """
    symbol = str(raw_symbol["symbol"])
    filters = _filters_by_type(raw_symbol)
    for required in ("PRICE_FILTER", "LOT_SIZE"):
        if required not in filters:
            raise ValueError(f"{symbol}: exchangeInfo entry has no {required} filter")
    price = filters["PRICE_FILTER"]
    lot = filters["LOT_SIZE"]
    market_lot = filters.get("MARKET_LOT_SIZE", lot)
    min_notional = filters.get("MIN_NOTIONAL", {})
    percent = filters.get("PERCENT_PRICE", {})

    def number(source: Mapping[str, Any], key: str, label: str) -> Decimal:
        return to_decimal(source.get(key, "0"), f"{symbol} {label}.{key}")

    return SymbolRules(
        symbol=symbol,
        status=str(raw_symbol.get("status", "")),
        base_asset=str(raw_symbol.get("baseAsset", "")),
        quote_asset=str(raw_symbol.get("quoteAsset", "")),
        tick_size=number(price, "tickSize", "PRICE_FILTER"),
        min_price=number(price, "minPrice", "PRICE_FILTER"),
        max_price=number(price, "maxPrice", "PRICE_FILTER"),
        step_size=number(lot, "stepSize", "LOT_SIZE"),
        min_qty=number(lot, "minQty", "LOT_SIZE"),
        max_qty=number(lot, "maxQty", "LOT_SIZE"),
        market_step_size=number(market_lot, "stepSize", "MARKET_LOT_SIZE"),
        market_min_qty=number(market_lot, "minQty", "MARKET_LOT_SIZE"),
        market_max_qty=number(market_lot, "maxQty", "MARKET_LOT_SIZE"),
        min_notional=number(min_notional, "notional", "MIN_NOTIONAL"),
        percent_up=number(percent, "multiplierUp", "PERCENT_PRICE"),
        percent_down=number(percent, "multiplierDown", "PERCENT_PRICE"),
        price_precision=to_int(raw_symbol.get("pricePrecision", 0), f"{symbol} pricePrecision"),
        quantity_precision=to_int(
            raw_symbol.get("quantityPrecision", 0), f"{symbol} quantityPrecision"
        ),
        liquidation_fee=to_decimal(raw_symbol.get("liquidationFee", "0"), f"{symbol} liqFee"),
        brackets=brackets,
    )


def ccxt_to_binance_symbol(ccxt_symbol: str) -> str:
    """'BTC/USDT:USDT' -> 'BTCUSDT'; dated futures 'BTC/USDT:USDT-241227' -> 'BTCUSDT_241227'."""
    base, _, rest = ccxt_symbol.partition("/")
    quote, _, settle = rest.partition(":")
    if not base or not quote or not settle:
        raise ValueError(f"not a ccxt contract symbol: {ccxt_symbol!r}")
    _, _, expiry = settle.partition("-")
    return f"{base}{quote}_{expiry}" if expiry else f"{base}{quote}"


def brackets_from_ccxt_tiers(
    tiers: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, list[Mapping[str, Any]]]:
    """Raw Binance brackets keyed by Binance symbol, from a ccxt `fetch_leverage_tiers` result.

    ccxt converts the numbers to floats in its own fields but keeps Binance's bracket untouched in
    each tier's `info`, so only `info` is used.
    """
    return {
        ccxt_to_binance_symbol(name): [tier["info"] for tier in symbol_tiers]
        for name, symbol_tiers in tiers.items()
    }


def brackets_from_binance_reply(reply: object) -> dict[str, list[Mapping[str, Any]]]:
    """Raw brackets keyed by symbol from `GET /fapi/v1/leverageBracket`.

    Accepts both documented shapes: an array of {"symbol", "brackets"} (no symbol parameter) and
    a single such object (with the parameter; in practice it is often an array of one as well).
    """
    items: list[object]
    if isinstance(reply, Mapping):
        items = [reply]
    elif isinstance(reply, Sequence) and not isinstance(reply, str | bytes):
        items = list(reply)
    else:
        raise ValueError("leverageBracket reply must be an object or an array of objects")
    result: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        if not isinstance(item, Mapping) or "symbol" not in item or "brackets" not in item:
            raise ValueError("leverageBracket entries need 'symbol' and 'brackets'")
        result[str(item["symbol"])] = list(item["brackets"])
    return result
