"""Reconnect pacing shared by the WebSocket clients: exponential, capped, jittered.

Jitter spreads the reconnects of many connections (and many bots) that lost the venue at the
same instant, so they do not all knock again in the same millisecond.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    """Each wait is the step times a uniform factor in [1 − jitter, 1]."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt `attempt` (0-based)."""
        step = min(self.max_s, self.initial_s * self.factor ** max(attempt, 0))
        return step * (1 - self.jitter * rng.random())
