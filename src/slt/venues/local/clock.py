"""Market time for the local exchange: replayed candles run on this clock, not the wall's.

`speed` > 0 runs market time at `speed` × wall time from `start_ms` (1 = real time, 60 = one
candle of 1m per second). `speed` 0 freezes it: time moves only through `advance_to`, which is
how tests and an as-fast-as-possible driver step the market. Signed requests are still checked
against the wall clock, as Binance checks them against its own (`auth.py`): a client signs with
its real time whatever candles are being replayed.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ReplayClock:
    """Market time in int UTC ms; see the module docstring."""

    def __init__(
        self,
        start_ms: int,
        speed: float = 1.0,
        *,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be ≥ 0 (0 = stepped), got {speed}")
        self._wall = wall
        self._origin_ms = start_ms
        self._origin_wall = wall()
        self.speed = speed

    def now_ms(self) -> int:
        if self.speed == 0:
            return self._origin_ms
        return self._origin_ms + int((self._wall() - self._origin_wall) * 1000 * self.speed)

    def advance_to(self, ms: int) -> None:
        """Move market time forward to `ms` (never backwards: a replay has no undo)."""
        now = self.now_ms()
        if ms < now:
            raise ValueError(f"cannot move the replay clock back from {now} to {ms}")
        self._origin_ms = ms
        self._origin_wall = self._wall()

    def set_speed(self, speed: float) -> None:
        """Change the pace from now on, keeping the current market time."""
        if speed < 0:
            raise ValueError(f"speed must be ≥ 0 (0 = stepped), got {speed}")
        self._origin_ms = self.now_ms()
        self._origin_wall = self._wall()
        self.speed = speed


def wall_ms() -> int:
    """Wall-clock UTC ms: the reference for `timestamp`/`recvWindow` checks and serverTime."""
    return time.time_ns() // 1_000_000
