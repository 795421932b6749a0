"""How the local exchange writes market numbers: one symbol's precisions and the kline fields as
strings, shared by the REST klines and ticker (`routes_public`) and the kline streams
(`streams_payloads`).

Both sides write a candle through `kline_text`, so a closed candle's REST row and its closing
stream update carry the very same strings, not merely equal numbers: the formatting is part of
what a client compares when it backfills over REST and then follows the stream.

Numbers are written from the decimal a stored float was read from (its shortest repr), rounded
half-even, never in exponent notation: prices on the symbol's tick grid (nearest tick, which an
interpolated intrabar price needs) with its price decimals, quantities with its quantity
decimals, quote amounts with both added (the decimals an exact price × quantity has).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from slt.rules import ExchangeRules, Rounding, SymbolRules, bundled_rules, round_to_step
from slt.venues.local.market import Kline

FALLBACK_PRICE_DECIMALS = 8
FALLBACK_QTY_DECIMALS = 3


@dataclass(frozen=True, slots=True)
class Precision:
    """How one symbol's numbers are written: decimals of prices and quantities, and grids."""

    price: int
    qty: int
    tick_size: Decimal
    step_size: Decimal

    @property
    def quote(self) -> int:
        return self.price + self.qty

    @property
    def tick(self) -> float:
        return float(self.tick_size)

    @property
    def step(self) -> float:
        return float(self.step_size)


def precision_of(sr: SymbolRules) -> Precision:
    """A symbol's precisions from its rules. Price decimals are at least the tick's, so a price
    on the grid is never cut (equal to `pricePrecision` for every symbol of the capture)."""
    tick_places = -int(sr.tick_size.normalize().as_tuple().exponent)
    return Precision(
        max(sr.price_precision, tick_places), sr.quantity_precision, sr.tick_size, sr.step_size
    )


def precision_for(rules: ExchangeRules | None, symbol: str) -> Precision:
    """The symbol's precisions from the exchange's rules, else the bundled capture, else a
    generous fallback (8 price decimals) so an unknown symbol still streams."""
    for source in (rules, bundled_rules()):
        if source is not None and symbol in source:
            return precision_of(source.get(symbol))
    return Precision(
        FALLBACK_PRICE_DECIMALS,
        FALLBACK_QTY_DECIMALS,
        Decimal(1).scaleb(-FALLBACK_PRICE_DECIMALS),
        Decimal(1).scaleb(-FALLBACK_QTY_DECIMALS),
    )


def fixed_str(value: Decimal, places: int) -> str:
    """`value` with exactly `places` decimals (half-even), never in exponent notation."""
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):f}"


def dec(x: float) -> Decimal:
    """A stored float as the decimal it was read from (its shortest repr)."""
    return Decimal(repr(float(x)))


def price_text(p: Precision, x: float, places: int | None = None) -> str:
    """A price on the symbol's tick grid (nearest tick) with its price decimals (or `places`)."""
    on_tick = round_to_step(dec(x), p.tick_size, Rounding.NEAREST)
    return fixed_str(on_tick, p.price if places is None else places)


def qty_text(p: Precision, x: float) -> str:
    return fixed_str(dec(x), p.qty)


def quote_text(p: Precision, x: float) -> str:
    return fixed_str(dec(x), p.quote)


@dataclass(frozen=True, slots=True)
class KlineText:
    """The string fields of a kline, as both the REST row and the stream payload write them."""

    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str
    taker_buy_volume: str
    taker_buy_quote_volume: str


def kline_text(k: Kline, p: Precision) -> KlineText:
    """`k`'s numbers written with the symbol's precisions (module docstring)."""
    return KlineText(
        price_text(p, k.open),
        price_text(p, k.high),
        price_text(p, k.low),
        price_text(p, k.close),
        qty_text(p, k.volume),
        quote_text(p, k.quote_volume),
        qty_text(p, k.taker_buy_volume),
        quote_text(p, k.taker_buy_quote_volume),
    )
