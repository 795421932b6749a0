"""Exact rounding onto a price or quantity grid, and exact formatting for requests.

Binance rejects a price that is not a whole number of ticks (-4014) and a quantity that is not a
whole number of steps (-4023), and it rejects more decimals than the symbol allows (-1111). Floats
cannot represent most ticks (0.1 is not a binary fraction), so everything here is `Decimal`, and the
rounding direction is always explicit: which way a number rounds decides whether a stop is a tick
safer or a tick worse, and whether an order fits the risk budget or exceeds it by one step.
"""

from __future__ import annotations

from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import Enum

# Arithmetic context for the rules package. Wide enough that products and grid quotients of any
# real exchange number are exact, and independent of whatever the host program set globally.
# Hot paths call its methods (CALC.multiply(a, b)) instead of entering `localcontext(CALC)`:
# the same operation under the same context, without copying the context for every call.
CALC = Context(prec=50, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])
_ZERO = Decimal(0)
_ONE = Decimal(1)
_MINUS_ONE = Decimal(-1)


class Rounding(Enum):
    """Direction onto the grid, by magnitude: DOWN toward zero (less), UP away from zero (more).

    NEAREST goes to the closer grid point; an exact half goes away from zero (a tie is rare on real
    prices and this choice makes the result independent of the parity of the tick count).
    """

    DOWN = "down"
    UP = "up"
    NEAREST = "nearest"


# Members read from module globals: a member read from its class costs several times as much,
# and every stop, target, fill price and quantity a backtest rounds asks.
_UP = Rounding.UP
_NEAREST = Rounding.NEAREST


def _require_decimal(value: object, what: str) -> Decimal:
    """Refuse floats and other types: a float here means precision is already lost."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be a Decimal built from a string, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{what} must be finite, got {value}")
    return value


def round_to_step(value: Decimal, step: Decimal, rounding: Rounding) -> Decimal:
    """Return `value` moved onto the grid {k × step} in the given direction, exactly.

    The grid is anchored at zero. Binance defines it from minPrice/minQty, but every symbol's
    minimum lies on the zero-anchored grid (checked for all symbols in the bundled capture), so
    the two grids coincide. The result carries the step's exponent (e.g. '67445.90' for a tick of
    '0.10'); use `format_on_step` for the request string.
    """
    # The checks of _require_decimal, with the common case (two finite Decimals) tested inline:
    # this runs for every stop, target, fill price and quantity a backtest rounds.
    if not (
        type(value) is Decimal and type(step) is Decimal and value.is_finite() and step.is_finite()
    ):
        _require_decimal(value, "value")
        _require_decimal(step, "step")
    if step <= _ZERO:
        raise ValueError(f"step must be positive, got {step}")
    # divmod is exact: an integral quotient truncated toward zero and the exact remainder
    # (a plain division would round at the context precision before we choose a direction).
    units, remainder = CALC.divmod(value, step)
    if remainder:  # not zero (comparisons with a Decimal or truth tests skip converting an int)
        away = _ONE if value > _ZERO else _MINUS_ONE
        if rounding is _UP or (
            rounding is _NEAREST and CALC.multiply(2, CALC.abs(remainder)) >= step
        ):
            units = CALC.add(units, away)
    return CALC.multiply(units, step)


def is_on_step(value: Decimal, step: Decimal) -> bool:
    """True when `value` is a whole number of steps."""
    _require_decimal(value, "value")
    return not CALC.remainder(value, step)


def decimals_of(step: Decimal) -> int:
    """Number of decimals a value on this grid needs: '0.10' -> 1, '0.000010' -> 5, '1' -> 0."""
    exponent = step.normalize(CALC).as_tuple().exponent
    assert isinstance(exponent, int)  # finite Decimal: the exponent is an int, not 'n'/'N'/'F'
    return max(0, -exponent)


def format_on_step(value: Decimal, step: Decimal, what: str = "value") -> str:
    """Plain decimal string for a request: no exponent, no trailing zeros, exact.

    Refuses a value off the grid instead of rounding it silently, because a caller that formats an
    unrounded number has skipped the decision about rounding direction; better to fail here than to
    send -4014/-4023 bait to the exchange.
    """
    _require_decimal(value, what)
    if not is_on_step(value, step):
        raise ValueError(f"{what} {value} is not a multiple of the step {step}; round it first")
    with localcontext(CALC):
        text = format(value, f".{decimals_of(step)}f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def decimal_places(value: Decimal) -> int:
    """Decimals actually written in a value, ignoring trailing zeros: '0.0100' -> 2, '5E+1' -> 0."""
    exponent = value.normalize(CALC).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)
