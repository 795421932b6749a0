"""Float views of the ledger's exact Decimals, for the decisions that are made in floats.

`float(Decimal)` formats the number as text and parses it back (about 0.3 µs), and the engine
converts the same few values — an open position's quantity, entry price, margin and liquidation
price, the balance — at every candle it looks at. `as_float` remembers the conversions. A float
depends only on the number's value (the conversion is correctly rounded), so equal Decimals
written differently may share an entry; zero is never stored, because −0 equals 0 but converts
to −0.0.
"""

from __future__ import annotations

from decimal import Decimal

_FLOATS: dict[Decimal, float] = {}
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
