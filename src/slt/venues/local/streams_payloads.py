"""Market-stream payloads in Binance's exact shape (binance-usdm-protocol.md §9.4-§9.6).

Binance sends prices and quantities as decimal strings with a fixed number of decimals per
symbol, so every number here is formatted with the symbol's `pricePrecision` /
`quantityPrecision` from the exchange rules (the local exchange's own, else the bundled
capture). A stored candle's closing update therefore reads back exactly as stored.

The replay knows only OHLCV, so the other kline fields are derived, deterministically and the
same at any replay speed:

* `q` (quote volume) = Σ volume × (open + high + low + close) / 4 over the 1m candles, with
  pricePrecision + quantityPrecision decimals (a price × quantity product has that many);
* `V` / `Q` (taker-buy volumes) = half of `v` / `q`: the replay has no trade sides;
* trades: one per market second of a 1m candle with volume (`n` = 60 for a closed 1m candle);
  ids count seconds since the epoch, so `f` = the candle's first second, `L` = `f + n − 1`,
  increasing from candle to candle; `f` = `L` = −1 when `n` is 0;
* `B` = "0" (Binance's "ignore").

Book ticker: the replay has no order book, so the best bid is the last price rounded down to the
tick and the best ask one tick above it (a synthetic spread of exactly one tick that always
brackets the last price); both quantities are a second's worth of the current candle's volume,
at least one lot step.

Mark price: the replay has no index prices, so mark = index = estimated settle = moving average =
the last price (as `MarketReplay.mark_price` says), with eight decimals as Binance sends them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from slt.rules import ExchangeRules, bundled_rules
from slt.venues.local.market import BASE_MS, MarketReplay

FALLBACK_PRICE_DECIMALS = 8
FALLBACK_QTY_DECIMALS = 3
MARK_DECIMALS = 8


@dataclass(frozen=True, slots=True)
class Precision:
    """How one symbol's numbers are written: decimals of prices and quantities, and grids."""

    price: int
    qty: int
    tick: float
    step: float

    @property
    def quote(self) -> int:
        return self.price + self.qty


def precision_for(rules: ExchangeRules | None, symbol: str) -> Precision:
    """The symbol's precisions from the exchange's rules, else the bundled capture, else a
    generous fallback (8 price decimals) so an unknown symbol still streams."""
    for source in (rules, bundled_rules()):
        if source is not None and symbol in source:
            r = source.get(symbol)
            return Precision(
                r.price_precision, r.quantity_precision, float(r.tick_size), float(r.step_size)
            )
    return Precision(
        FALLBACK_PRICE_DECIMALS,
        FALLBACK_QTY_DECIMALS,
        10.0**-FALLBACK_PRICE_DECIMALS,
        10.0**-FALLBACK_QTY_DECIMALS,
    )


def fmt(value: float, decimals: int) -> str:
    """`value` with exactly `decimals` decimals, as Binance writes numbers ("-0.00" avoided)."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def on_tick(price: float, tick: float) -> float:
    """`price` rounded to the nearest tick: interpolated intrabar prices are not on the grid."""
    return round(price / tick) * tick if tick > 0 else price


class KlineSpec(Protocol):
    """What `kline_at` needs of a kline stream."""

    @property
    def symbol(self) -> str: ...
    @property
    def interval(self) -> str: ...
    @property
    def period_ms(self) -> int: ...


@dataclass(frozen=True, slots=True)
class KlineValues:
    """One kline as a stream reports it at some market time (see the module docstring)."""

    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    trades: int
    closed: bool


def kline_payload(k: KlineValues, event_ms: int, p: Precision) -> dict[str, Any]:
    """`{"e":"kline",...}` with every key of §9.4, in Binance's order."""
    first = k.open_time // 1000 if k.trades else -1
    last = first + k.trades - 1 if k.trades else -1
    return {
        "e": "kline",
        "E": event_ms,
        "s": k.symbol,
        "k": {
            "t": k.open_time,
            "T": k.close_time,
            "s": k.symbol,
            "i": k.interval,
            "f": first,
            "L": last,
            "o": fmt(k.open, p.price),
            "c": fmt(k.close, p.price),
            "h": fmt(k.high, p.price),
            "l": fmt(k.low, p.price),
            "v": fmt(k.volume, p.qty),
            "n": k.trades,
            "x": k.closed,
            "q": fmt(k.quote_volume, p.quote),
            "V": fmt(k.volume / 2, p.qty),
            "Q": fmt(k.quote_volume / 2, p.quote),
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


def kline_at(
    market: MarketReplay, spec: KlineSpec, start: int, now: int, tick: float
) -> KlineValues | None:
    """The `spec.interval` candle opened at `start` as revealed at market time `now` (closed
    when `now` ≥ its end; prices of a forming one rounded to `tick`); None when the data has no
    1m candle in it yet."""
    series = market.series[spec.symbol]
    ot = series.open_time
    end = start + spec.period_ms
    a = int(np.searchsorted(ot, start, "left"))
    b = int(np.searchsorted(ot, min(end, now + 1) - 1, "right"))
    if b <= a:
        return None
    full = int(np.searchsorted(ot, now - BASE_MS, "right"))  # rows closed by `now`
    full = min(max(full, a), b)
    highs: list[float] = []
    lows: list[float] = []
    closes: list[float] = []
    vols: list[float] = []
    quote = 0.0
    trades = 0
    if full > a:
        o_, h_, l_, c_ = (x[a:full] for x in (series.open, series.high, series.low, series.close))
        v_ = series.volume[a:full]
        highs.append(float(h_.max()))
        lows.append(float(l_.min()))
        closes.append(float(c_[-1]))
        vols.append(float(v_.sum()))
        quote += float((v_ * (o_ + h_ + l_ + c_)).sum() / 4)
        trades += 60 * int(np.count_nonzero(v_ > 0))
    if full < b:
        k = market.forming(spec.symbol, now)
        if k is not None:
            highs.append(k.high)
            lows.append(k.low)
            closes.append(k.close)
            vols.append(k.volume)
            quote += k.volume * (k.open + k.high + k.low + k.close) / 4
            trades += (now - k.open_time) // 1000 if k.volume > 0 else 0
    if not closes:
        return None
    closed = now >= end
    tick = 0.0 if closed else tick
    return KlineValues(
        spec.symbol,
        spec.interval,
        start,
        end - 1,
        float(series.open[a]),
        _tick(max(highs), tick),
        _tick(min(lows), tick),
        _tick(closes[-1], tick),
        sum(vols),
        quote,
        int(trades),
        closed,
    )


def _tick(price: float, tick: float) -> float:
    return round(price / tick) * tick if tick > 0 else price
