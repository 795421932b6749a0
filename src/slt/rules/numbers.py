"""Turning raw JSON values into exact numbers.

Binance sends prices and quantities as strings and bracket fields as JSON numbers; caches of the
same data stringify some of them. A float that reaches us is converted through its shortest repr,
which reproduces the literal from the JSON text (0.0065 -> Decimal('0.0065'), not the binary
expansion 0.006500000000000000298...).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def to_decimal(value: object, what: str) -> Decimal:
    """Exact Decimal from a JSON string, int or float; anything else is a malformed response."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what}: not a number: {value!r}") from None
    else:
        raise ValueError(f"{what}: expected a number, got {type(value).__name__} {value!r}")
    if not result.is_finite():
        raise ValueError(f"{what}: not a finite number: {value!r}")
    return result


def to_int(value: object, what: str) -> int:
    """Integer from a JSON int, an integral float (1.0) or a string ("125")."""
    number = to_decimal(value, what)
    if number != number.to_integral_value():
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    return int(number)
