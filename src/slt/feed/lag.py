"""Close lag: how long after a candle ended the Feed had it, as p50 / p99 / max.

Binance sends a futures kline's closing update up to a couple of seconds after the minute
ends; the Feed closes the candle on that update or on the first update of the next candle
(`assembler`). The lag (receipt time − the instant the candle ended, i.e. close_time + 1, in
int ms) is the delay every decision inherits, so the heartbeat reports it. A bounded window
of recent samples keeps the percentiles about now rather than about the whole run; the
maximum is over the whole run, as the worst case is what an operator asks about.
Pure: the caller passes the times.
"""

from __future__ import annotations

import math
from collections import deque

WINDOW = 4096
"""Recent samples the percentiles are computed over (about 14 minutes of 300 symbols)."""


class LagTracker:
    """Close-lag samples (ms) and their summary (module docstring)."""

    __slots__ = ("_samples", "count", "max_ms")

    def __init__(self, window: int = WINDOW) -> None:
        if window < 1:
            raise ValueError(f"window must be ≥ 1, got {window}")
        self._samples: deque[int] = deque(maxlen=window)
        self.count = 0
        self.max_ms = 0

    def record(self, received_ms: int, close_time: int) -> int:
        """Add one sample: `received_ms` − (`close_time` + 1). Returns it."""
        lag = received_ms - (close_time + 1)
        self._samples.append(lag)
        self.count += 1
        if self.count == 1 or lag > self.max_ms:
            self.max_ms = lag
        return lag

    def percentile(self, q: float) -> int:
        """The `q`-quantile (0..1, nearest rank) of the recent window; 0 with no samples."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be within [0, 1], got {q}")
        if not self._samples:
            return 0
        ordered = sorted(self._samples)
        rank = min(max(1, math.ceil(q * len(ordered))), len(ordered))
        return ordered[rank - 1]

    @property
    def p50_ms(self) -> int:
        return self.percentile(0.5)

    @property
    def p99_ms(self) -> int:
        return self.percentile(0.99)

    def summary(self) -> dict[str, int]:
        return {"p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms}
