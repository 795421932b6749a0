"""The Brain's market time: on Binance the wall clock; on a replay, faster by its speed."""

from __future__ import annotations

import time

from slt.runtime.heartbeat import wall_ms


class MarketClock:
    """Market time: the last candle close, moved on by wall time × the venue's speed."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.base_ms = 0
        self.base_wall = time.monotonic()

    def seen(self, close_ms: int) -> None:
        if close_ms > self.now_ms():
            self.base_ms, self.base_wall = close_ms, time.monotonic()

    def now_ms(self) -> int:
        if self.base_ms == 0:
            return wall_ms() if self.speed == 1 else 0
        return self.base_ms + int((time.monotonic() - self.base_wall) * 1000 * self.speed)
