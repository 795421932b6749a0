"""Float views of the ledger's exact Decimals, for the decisions that are made in floats, and the
way back for prices and settings that arrive as floats.

`float(Decimal)` formats the number as text and parses it back (about 0.3 µs), and the engine
converts the same few values — an open position's quantity, entry price, margin and liquidation
price, the balance — at every candle it looks at. `as_float` remembers the conversions. A float
depends only on the number's value (the conversion is correctly rounded), so equal Decimals
written differently may share an entry; zero is never stored, because −0 equals 0 but converts
to −0.0.

`as_decimal` is the other direction, `Decimal(repr(x))`: the shortest decimal that reads back as
the float, so a price of 0.1 becomes Decimal('0.1'), not the binary expansion. The same settings
(stop distance, fee rate) and the same candle prices are converted again and again; the result
depends only on the float's repr, remembered except for zero (−0.0 equals 0.0 but is written
differently) and NaN (never equal to itself, so it would never be found again).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

_FLOATS: dict[Decimal, float] = {}
_DECIMALS: dict[float, Decimal] = {}
_LIMIT = 1 << 16


def as_float(value: Decimal) -> float:
    """`float(value)`, remembered."""
    cached = _FLOATS.get(value)
    if cached is not None:
        return cached
    converted = float(value)
    if converted:
        if len(_FLOATS) >= _LIMIT:
            _FLOATS.clear()
        _FLOATS[value] = converted
    return converted


remembered_float: Callable[[Decimal], float | None] = _FLOATS.get
"""The memo's own look-up: `remembered_float(v) or as_float(v)` is `as_float(v)` without a call
when `v` was converted before (zero, the only falsy float, is never stored). Hot sums use it."""


def as_decimal(value: float) -> Decimal:
    """`Decimal(repr(value))`, remembered for floats only: an int equals the float of the same
    value as a key, but 5 and 5.0 are written differently."""
    if type(value) is not float:
        return Decimal(repr(value))
    cached = _DECIMALS.get(value)
    if cached is not None:
        return cached
    converted = Decimal(repr(value))
    if value and value == value:
        if len(_DECIMALS) >= _LIMIT:
            _DECIMALS.clear()
        _DECIMALS[value] = converted
    return converted


remembered_decimal: Callable[[float], Decimal | None] = _DECIMALS.get
"""The memo's own look-up, for a value known to be a float (a candle price): then
`remembered_decimal(x) or as_decimal(x)` is `as_decimal(x)` without a call when `x` was
converted before (zero is never stored, and no stored Decimal is zero). Not for ints: 5 would
find 5.0's entry, Decimal('5.0'), where as_decimal(5) is Decimal('5')."""


def clear_memos() -> None:
    """Forget every remembered conversion (a benchmark run that must not profit from an
    earlier one calls this; results never depend on the memos)."""
    _FLOATS.clear()
    _DECIMALS.clear()
