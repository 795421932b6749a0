"""Public endpoints of the local exchange: time, exchange info, klines, tickers, mark price,
brackets and commission, with Binance's paths, weights (binance-usdm-protocol.md §4) and shapes.

Market data is read at market time (the replay clock); `serverTime` is wall time, the clock
signed requests are checked against (`server_time_ms`).

Choices where the replay has less than Binance:

- exchangeInfo is the whole shipped production capture (slt/resources/exchange), symbols and
  statuses unchanged: it is what clients parse and expect. Only `serverTime` is current and
  `rateLimits` state the limits this exchange enforces. Market-data calls for a symbol without
  replayed candles answer -1121.
- Kline rows: the replay's candles (`MarketReplay.klines`) written by `market_text.kline_text`,
  as the kline streams write them: prices with the symbol's price decimals (interpolated prices
  of a forming candle rounded to the nearest tick first), volumes with its quantity decimals.
  The stored candles have no trades: quote volume, trade count and taker-buy volumes are the
  ones `market` defines (volume × typical price, one synthetic trade per market second, half),
  so a row equals the stream's update for the same candle string for string.
- 24 h ticker: the 1m candles of the window combined the same way (`market.combine`):
  `quoteVolume` and `count` are their sums, `firstId`/`lastId` the synthetic trade ids the
  streams' `f`/`L` use, `weightedAvgPrice` = quote volume / volume.
- Mark and index price are the last price (the replay has no index), 8 decimals as fapi prints
  them; the funding rate is a constant 0.0001 every 8 h (`FUNDING_RATE`), like the backtest's
  default `fees.funding_rate`.
- leverageBracket answers an array also with `symbol` (§7.8 [Sim]), from the shipped brackets.
"""

from __future__ import annotations

import functools
import gzip
import json
from decimal import Decimal
from importlib import resources
from typing import Any

from slt.rules import DEFAULT_MAKER_RATE, DEFAULT_TAKER_RATE, SymbolRules, next_funding_time
from slt.rules.bundled import EXCHANGE_INFO_FILE
from slt.venues.local.clock import wall_ms
from slt.venues.local.endpoints import Endpoint, Params, Security, fixed, with_symbol
from slt.venues.local.errors import api_error
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.market import Kline, combine
from slt.venues.local.market_text import (
    Precision,
    fixed_str,
    kline_text,
    precision_of,
    price_text,
    qty_text,
    quote_text,
)

FUNDING_RATE = Decimal("0.0001")
INTEREST_RATE = Decimal("0.0001")
DAY_MS = 86_400_000
KLINES_DEFAULT_LIMIT = 500
KLINES_MAX_LIMIT = 1500
MARK_DECIMALS = 8
_INT_RANGE = "^[0-9]{1,20}$"


def server_time_ms(ex: LocalExchange) -> int:
    """Wall time as the exchange states and checks it: the limiters' injectable wall clock
    plus any injected clock skew (`faults.clock_skew_ms`)."""
    wall = ex.limits.wall() if ex.limits is not None else wall_ms()
    skew = ex.faults.clock_skew_ms if ex.faults is not None else 0
    return int(wall) + int(skew)


# parameters -------------------------------------------------------------------------------------
def _int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        raise api_error(-1100, name, _INT_RANGE)
    return int(value)


def _rules(ex: LocalExchange, symbol: str) -> SymbolRules:
    sr = ex.rules.symbols.get(symbol)
    if sr is None:
        raise api_error(-1121)
    return sr


def _replayed(ex: LocalExchange, params: Params) -> list[str]:
    """The `symbol` asked for (must have replayed candles), or every replayed symbol."""
    symbol = params.get("symbol")
    if symbol is None:
        return [s for s in ex.market.symbols if s in ex.rules.symbols]
    if symbol not in ex.market.series:
        raise api_error(-1121)
    _rules(ex, symbol)
    return [symbol]


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if not value:
        raise api_error(-1102, name)
    return value


# handlers ---------------------------------------------------------------------------------------
async def ping(ex: LocalExchange, params: Params) -> dict[str, Any]:
    return {}


async def server_time(ex: LocalExchange, params: Params) -> dict[str, Any]:
    return {"serverTime": server_time_ms(ex)}


@functools.cache
def _exchange_info_raw() -> dict[str, Any]:
    resource = resources.files("slt") / "resources" / "exchange" / EXCHANGE_INFO_FILE
    info: dict[str, Any] = json.loads(gzip.decompress(resource.read_bytes()))
    return info


def _rate_limits(ex: LocalExchange) -> list[dict[str, Any]]:
    cfg = ex.limits.config if ex.limits is not None else None
    weight = cfg.weight_per_minute if cfg else 2400
    per_min = cfg.orders_per_minute if cfg else 1200
    per_10s = cfg.orders_per_10s if cfg else 300
    return [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": weight,
        },
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": per_min},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": per_10s},
    ]


async def exchange_info(ex: LocalExchange, params: Params) -> dict[str, Any]:
    info = dict(_exchange_info_raw())
    info["serverTime"] = server_time_ms(ex)
    info["rateLimits"] = _rate_limits(ex)
    return info


def klines_weight(params: Params) -> int:
    """§4: limit [1,100) → 1, [100,500) → 2, [500,1000] → 5, above → 10 (default 500)."""
    raw = params.get("limit", "")
    limit = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 500
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    return 5 if limit <= 1000 else 10


def kline_row(p: Precision, k: Kline) -> list[Any]:
    """One 12-field row of `GET /fapi/v1/klines` (§5.4; module docstring for fields 7-10)."""
    text = kline_text(k, p)
    return [
        k.open_time,
        text.open,
        text.high,
        text.low,
        text.close,
        text.volume,
        k.close_time,
        text.quote_volume,
        k.trades,
        text.taker_buy_volume,
        text.taker_buy_quote_volume,
        "0",
    ]


async def klines(ex: LocalExchange, params: Params) -> list[list[Any]]:
    symbol = _required(params, "symbol")
    interval = _required(params, "interval")
    start, end = _int(params, "startTime"), _int(params, "endTime")
    limit = _int(params, "limit")
    if limit is None:
        limit = KLINES_DEFAULT_LIMIT
    elif not 1 <= limit <= KLINES_MAX_LIMIT:
        raise api_error(-1130, "limit")
    if start is not None and end is not None and start > end:
        raise api_error(-1023, msg="Start time is greater than end time.")
    ex.market.get(symbol)
    sr = _rules(ex, symbol)
    now = ex.market.now_ms()
    rows = ex.market.klines(symbol, interval, start_ms=start, end_ms=end, limit=limit, now_ms=now)
    p = precision_of(sr)
    return [kline_row(p, k) for k in rows]


def _ticker(ex: LocalExchange, symbol: str, now: int) -> dict[str, Any]:
    sr = _rules(ex, symbol)
    p = precision_of(sr)
    window = ex.market.window(symbol, DAY_MS, now)
    zero = Decimal(0)
    if window:
        day = combine(window, "1m", window[0].open_time, window[-1].close_time, False)
        open_, last = Decimal(price_text(p, day.open)), Decimal(price_text(p, day.close))
        change = last - open_
        pct = change / open_ * 100 if open_ else zero
        avg = day.quote_volume / day.volume if day.volume else float(last)
        out = {
            "priceChange": fixed_str(change, p.price),
            "priceChangePercent": fixed_str(pct, 3),
            "weightedAvgPrice": price_text(p, avg),
            "lastPrice": fixed_str(last, p.price),
            "lastQty": fixed_str(sr.min_qty, p.qty),
            "openPrice": fixed_str(open_, p.price),
            "highPrice": price_text(p, day.high),
            "lowPrice": price_text(p, day.low),
            "volume": qty_text(p, day.volume),
            "quoteVolume": quote_text(p, day.quote_volume),
        }
        ids = (day.first_trade_id, day.last_trade_id, day.trades)
    else:
        z = fixed_str(zero, p.price)
        out = {
            "priceChange": z,
            "priceChangePercent": "0.000",
            "weightedAvgPrice": z,
            "lastPrice": z,
            "lastQty": fixed_str(zero, p.qty),
            "openPrice": z,
            "highPrice": z,
            "lowPrice": z,
            "volume": fixed_str(zero, p.qty),
            "quoteVolume": quote_text(p, 0.0),
        }
        ids = (-1, -1, 0)
    return {
        "symbol": symbol,
        **out,
        "openTime": now - DAY_MS,
        "closeTime": now,
        "firstId": ids[0],
        "lastId": ids[1],
        "count": ids[2],
    }


async def ticker_24hr(ex: LocalExchange, params: Params) -> Any:
    now = ex.market.now_ms()
    tickers = [_ticker(ex, s, now) for s in _replayed(ex, params)]
    return tickers[0] if params.get("symbol") else tickers


async def ticker_price(ex: LocalExchange, params: Params) -> Any:
    """`GET /fapi/v1/ticker/price` (also served as /fapi/v2): the last price at market time."""
    now = ex.market.now_ms()
    items = []
    for symbol in _replayed(ex, params):
        p = precision_of(_rules(ex, symbol))
        last = ex.market.last_price(symbol, now)
        price = price_text(p, last) if last is not None else fixed_str(Decimal(0), p.price)
        items.append({"symbol": symbol, "price": price, "time": now})
    return items[0] if params.get("symbol") else items


def next_funding_ms(now_ms: int) -> int:
    """The next funding time (00:00, 08:00 or 16:00 UTC) strictly after `now_ms`."""
    return next_funding_time(now_ms)


def _premium(ex: LocalExchange, symbol: str, now: int) -> dict[str, Any]:
    p = precision_of(_rules(ex, symbol))
    mark = ex.market.mark_price(symbol, now)
    mark_s = price_text(p, mark, MARK_DECIMALS) if mark is not None else fixed_str(Decimal(0), 8)
    return {
        "symbol": symbol,
        "markPrice": mark_s,
        "indexPrice": mark_s,
        "estimatedSettlePrice": mark_s,
        "lastFundingRate": fixed_str(FUNDING_RATE, 8),
        "interestRate": fixed_str(INTEREST_RATE, 8),
        "nextFundingTime": next_funding_ms(now),
        "time": now,
    }


async def premium_index(ex: LocalExchange, params: Params) -> Any:
    now = ex.market.now_ms()
    items = [_premium(ex, s, now) for s in _replayed(ex, params)]
    return items[0] if params.get("symbol") else items


def _number(d: Decimal, as_float: bool = False) -> int | float:
    """A JSON number that prints as `d`'s decimal (a float's repr is its shortest decimal)."""
    if not as_float and d == d.to_integral_value():
        return int(d)
    return float(d)


def bracket_entry(sr: SymbolRules) -> dict[str, Any]:
    return {
        "symbol": sr.symbol,
        "brackets": [
            {
                "bracket": b.bracket,
                "initialLeverage": b.max_leverage,
                "notionalCap": _number(b.notional_cap),
                "notionalFloor": _number(b.notional_floor),
                "maintMarginRatio": _number(b.maint_margin_ratio, as_float=True),
                "cum": _number(b.cum, as_float=True),
            }
            for b in sr.brackets
        ],
    }


async def leverage_bracket(ex: LocalExchange, params: Params) -> list[dict[str, Any]]:
    symbol = params.get("symbol")
    if symbol:
        return [bracket_entry(_rules(ex, symbol))]
    return [bracket_entry(ex.rules.symbols[s]) for s in sorted(ex.rules.symbols)]


async def commission_rate(ex: LocalExchange, params: Params) -> dict[str, Any]:
    sr = _rules(ex, _required(params, "symbol"))
    return {
        "symbol": sr.symbol,
        "makerCommissionRate": f"{DEFAULT_MAKER_RATE:f}",
        "takerCommissionRate": f"{DEFAULT_TAKER_RATE:f}",
    }


PUBLIC_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/fapi/v1/ping", Security.NONE, fixed(1), ping),
    Endpoint("GET", "/fapi/v1/time", Security.NONE, fixed(1), server_time),
    Endpoint("GET", "/fapi/v1/exchangeInfo", Security.NONE, fixed(1), exchange_info),
    Endpoint("GET", "/fapi/v1/klines", Security.NONE, klines_weight, klines),
    Endpoint("GET", "/fapi/v1/ticker/24hr", Security.NONE, with_symbol(1, 40), ticker_24hr),
    Endpoint("GET", "/fapi/v1/ticker/price", Security.NONE, with_symbol(1, 2), ticker_price),
    Endpoint("GET", "/fapi/v2/ticker/price", Security.NONE, with_symbol(1, 2), ticker_price),
    Endpoint("GET", "/fapi/v1/premiumIndex", Security.NONE, with_symbol(1, 10), premium_index),
    Endpoint("GET", "/fapi/v1/leverageBracket", Security.SIGNED, fixed(1), leverage_bracket),
    Endpoint("GET", "/fapi/v1/commissionRate", Security.SIGNED, fixed(20), commission_rate),
)
"""Mounted by `server.build_app` on every local exchange."""
