"""What a strategy says about a symbol at a candle close."""

from __future__ import annotations

import msgspec


class Signal(msgspec.Struct, frozen=True, gc=False):
    """A forecast, not an order: the risk layer decides whether and how much to trade.

    `direction` is +1 (long), −1 (short) or 0 (no view). `expected_return` is the expected
    fractional return of a trade in that direction (0.004 = 0.4 %), before fees. `confidence` is
    in [0, 1]. `atr_pct` is the current ATR as a fraction of price, used for volatility sizing.
    `time_ms` is the close time of the candle the signal was decided on. `source` names the
    strategy or model version that produced it, so every trade traces back to it.
    """

    symbol: str
    time_ms: int
    direction: int
    expected_return: float
    confidence: float
    atr_pct: float
    source: str = ""
