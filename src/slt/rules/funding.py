"""Funding settlements: when they happen and what a position receives or pays.

A backtest that ignores funding overstates a long's return in a bullish market by several
percent a month, so the simulator books it at the same UTC instants as the exchange. Only a
position open at the settlement instant takes part.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from slt.rules.fees import quantize_amount
from slt.rules.rounding import CALC

HOUR_MS = 3_600_000
DEFAULT_FUNDING_INTERVAL_HOURS = 8


def funding_times(start_ms: int, end_ms: int, interval_hours: int = 8) -> list[int]:
    """Settlement timestamps t (UTC ms) with start_ms < t <= end_ms.

    Settlements are aligned to 00:00 UTC: 00:00/08:00/16:00 for the default 8 hours. The interval
    must divide 24 so every day has the same schedule (Binance uses 1, 2, 4 and 8 hours).
    """
    if end_ms <= start_ms:
        _check_interval(interval_hours)
        return []
    first = next_funding_time(start_ms, interval_hours)
    return list(range(first, end_ms + 1, interval_hours * HOUR_MS))


def next_funding_time(time_ms: int, interval_hours: int = 8) -> int:
    """The first settlement strictly after `time_ms` (UTC ms), on `funding_times`' schedule.
    One division: it is asked at every position opened and every mark-price update."""
    _check_interval(interval_hours)
    interval_ms = interval_hours * HOUR_MS
    return (time_ms // interval_ms + 1) * interval_ms


def _check_interval(interval_hours: int) -> None:
    if interval_hours < 1 or 24 % interval_hours != 0:
        raise ValueError(
            f"interval_hours must divide 24 (1, 2, 3, 4, 6, 8, 12, 24), got {interval_hours}"
        )


def funding_payment(*, side: int, quantity: Decimal, mark_price: Decimal, rate: Decimal) -> Decimal:
    """What the account receives at one settlement (negative = it pays), 8 decimals.

    −side × |quantity| × mark × rate: with a positive rate longs pay and shorts receive.
    The side carries the direction, so a signed quantity is taken by magnitude.
    """
    if side not in (1, -1):
        raise ValueError(f"side must be +1 (long) or -1 (short), got {side}")
    with localcontext(CALC):
        return quantize_amount(-side * abs(quantity) * mark_price * rate)
