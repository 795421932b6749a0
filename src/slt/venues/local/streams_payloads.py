"""Market-stream payloads in Binance's exact shape (binance-usdm-protocol.md §9.4-§9.6).

Binance sends prices and quantities as decimal strings with a fixed number of decimals per
symbol, so every number here is formatted with the symbol's `pricePrecision` /
`quantityPrecision` from the exchange rules (the local exchange's own, else the bundled
capture). A stored candle's closing update therefore reads back exactly as stored.

A kline is the replay's `Kline` (`market.MarketReplay.kline`) written by
`market_text.kline_text`, exactly as the REST klines write it: the fields the replay does not
have (quote volume, trade count and ids, taker-buy volumes) are defined once in `market`, so a
closed candle's closing update and its `GET /fapi/v1/klines` row carry the same strings. `f` /
`L` are the candle's first and last synthetic trade ids (−1 without trades); `B` = "0"
(Binance's "ignore").

Book ticker: the replay has no order book, so the best bid is the last price rounded down to the
tick and the best ask one tick above it (a synthetic spread of exactly one tick that always
brackets the last price); both quantities are a second's worth of the current candle's volume,
at least one lot step.

Mark price: the replay has no index prices, so mark = index = estimated settle = moving average =
the last price (as `MarketReplay.mark_price` says), with eight decimals as Binance sends them.
"""

from __future__ import annotations

import math
from typing import Any

from slt.venues.local.market import Kline
from slt.venues.local.market_text import Precision, kline_text

MARK_DECIMALS = 8


def fmt(value: float, decimals: int) -> str:
    """`value` with exactly `decimals` decimals, as Binance writes numbers ("-0.00" avoided)."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def kline_payload(k: Kline, event_ms: int, p: Precision) -> dict[str, Any]:
    """`{"e":"kline",...}` with every key of §9.4, in Binance's order."""
    text = kline_text(k, p)
    return {
        "e": "kline",
        "E": event_ms,
        "s": k.symbol,
        "k": {
            "t": k.open_time,
            "T": k.close_time,
            "s": k.symbol,
            "i": k.interval,
            "f": k.first_trade_id,
            "L": k.last_trade_id,
            "o": text.open,
            "c": text.close,
            "h": text.high,
            "l": text.low,
            "v": text.volume,
            "n": k.trades,
            "x": k.closed,
            "q": text.quote_volume,
            "V": text.taker_buy_volume,
            "Q": text.taker_buy_quote_volume,
            "B": "0",
        },
    }


def mark_price_payload(
    symbol: str, price: float, event_ms: int, funding_rate: str, next_funding_ms: int
) -> dict[str, Any]:
    """`{"e":"markPriceUpdate",...}` (§9.5) with mark = index = settle = average = `price`."""
    text = fmt(price, MARK_DECIMALS)
    return {
        "e": "markPriceUpdate",
        "E": event_ms,
        "s": symbol,
        "p": text,
        "ap": text,
        "i": text,
        "P": text,
        "r": funding_rate,
        "T": next_funding_ms,
    }


def book_ticker_payload(
    symbol: str, last: float, qty: float, update_id: int, event_ms: int, p: Precision
) -> dict[str, Any]:
    """`{"e":"bookTicker",...}` (§9.6): bid = last rounded down to the tick, ask one tick up."""
    ticks = math.floor(last / p.tick + 1e-9)
    bid = ticks * p.tick
    ask = (ticks + 1) * p.tick
    size = max(round(qty / p.step) * p.step, p.step)
    return {
        "e": "bookTicker",
        "u": update_id,
        "E": event_ms,
        "T": event_ms,
        "s": symbol,
        "b": fmt(bid, p.price),
        "B": fmt(size, p.qty),
        "a": fmt(ask, p.price),
        "A": fmt(size, p.qty),
    }
