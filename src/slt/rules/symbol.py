"""SymbolRules: everything Binance enforces about one symbol's orders, in exact numbers.

One frozen value per symbol, built from the symbol's `exchangeInfo` entry and its leverage
brackets. The methods are the only sanctioned way to turn a computed price or quantity into
something the exchange accepts: onto the grid in an explicit direction, then into a plain string.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from slt.rules.brackets import Bracket, find_bracket, validate_brackets
from slt.rules.rounding import Rounding, format_on_step, round_to_step


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """Filters, precisions and brackets of one symbol.

    A zero `min_price` or `max_price` means that bound is disabled, as in Binance's PRICE_FILTER.
    `percent_up`/`percent_down` are the PERCENT_PRICE multipliers (e.g. 1.05 / 0.95), not percents.
    `liquidation_fee` is a fraction of notional (0.0125 = 1.25 %).
    """

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    percent_up: Decimal
    percent_down: Decimal
    price_precision: int
    quantity_precision: int
    liquidation_fee: Decimal
    brackets: tuple[Bracket, ...]

    def __post_init__(self) -> None:
        for name in ("tick_size", "step_size", "market_step_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{self.symbol}: {name} must be positive")
        validate_brackets(self.brackets, self.symbol)

    # -- grid -----------------------------------------------------------------------------------

    def qty_step(self, market: bool = False) -> Decimal:
        """MARKET_LOT_SIZE step for market orders, LOT_SIZE step for everything else."""
        return self.market_step_size if market else self.step_size

    def qty_bounds(self, market: bool = False) -> tuple[Decimal, Decimal]:
        """(minQty, maxQty) of the lot filter that applies to this order type."""
        if market:
            return self.market_min_qty, self.market_max_qty
        return self.min_qty, self.max_qty

    def round_price(self, price: Decimal, rounding: Rounding) -> Decimal:
        """Price moved onto the tick grid in the given direction, exactly."""
        return round_to_step(price, self.tick_size, rounding)

    def round_qty(self, qty: Decimal, rounding: Rounding, market: bool = False) -> Decimal:
        """Quantity moved onto the step grid (MARKET_LOT_SIZE when `market`), exactly."""
        return round_to_step(qty, self.qty_step(market), rounding)

    def format_price(self, price: Decimal) -> str:
        """Request string for a price on the tick grid, e.g. '67445.9'; raises if off the grid."""
        return format_on_step(price, self.tick_size, f"{self.symbol} price")

    def format_qty(self, qty: Decimal, market: bool = False) -> str:
        """Request string for a quantity on the step grid, e.g. '0.012'; raises if off the grid."""
        return format_on_step(qty, self.qty_step(market), f"{self.symbol} quantity")

    # -- brackets -------------------------------------------------------------------------------

    def bracket_for(self, notional: Decimal) -> Bracket:
        """Bracket with floor <= |notional| < cap; above the last cap, the last bracket."""
        return find_bracket(self.brackets, notional)

    def max_leverage_for(self, notional: Decimal) -> int:
        """Highest leverage Binance allows for a position of this notional."""
        return self.bracket_for(notional).max_leverage

    @property
    def highest_leverage(self) -> int:
        """Bracket 1's initialLeverage: the most leverage this symbol ever allows."""
        return self.brackets[0].max_leverage

    @property
    def is_trading(self) -> bool:
        """False while the symbol is settling, delisting or not yet open."""
        return self.status == "TRADING"
