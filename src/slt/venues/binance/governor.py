"""The request-weight governor: every REST call is paid for before it is made.

Binance counts request weight per IP in fixed one-minute windows (2400 by default) and answers
429 when a window is overspent, then 418 with a growing ban when the client keeps going
(binance-usdm-protocol.md §4). A bot that learns its limits from 429s risks a ban that stops it
trading for minutes to days, so the governor never lets the budget be crossed:

* `acquire(weight)` charges the weight to the current window before the call, and waits for
  the next window when it does not fit (a call heavier than the whole budget is refused);
* `observe(used)` corrects the window from the `X-MBX-USED-WEIGHT-1M` header of every answer:
  the server's count includes calls we never saw (another process, another bot on the IP, a
  restart's reconciliation burst), so the window's spend becomes the larger of the two;
* `block_until(ms)` after a 429/418 stops every caller until the time the server gave
  (`Retry-After`), whatever budget seems left.

The budget is a share of Binance's limit (`share`, default 0.8, keeping headroom for what the
governor cannot see). Its state lives in a `BudgetStore`: `MemoryStore` for one process,
`FileStore` for every process of one machine (an advisory-locked file; the Feed, the Brain and
the CLI share it), `RedisStore` for several bots behind one IP. Times are wall-clock int UTC ms.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

WINDOW_MS = 60_000
BINANCE_WEIGHT_LIMIT = 2400


class WeightTooLargeError(ValueError):
    """A single call weighs more than the whole budget: it can never be made."""


@dataclass(frozen=True, slots=True)
class Charge:
    """The outcome of one attempt to charge: `wait_ms` 0 when charged, else how long to wait
    before trying again; `used` is the window's spend after the attempt."""

    wait_ms: int
    used: int


class BudgetStore(Protocol):
    """Atomic operations on the shared window state (one per budget key)."""

    async def try_charge(self, weight: int, budget: int, now_ms: int) -> Charge: ...

    async def observe(self, used: int, now_ms: int) -> None: ...

    async def block_until(self, until_ms: int) -> None: ...

    async def used(self, now_ms: int) -> int: ...


def window_start(now_ms: int) -> int:
    return now_ms - now_ms % WINDOW_MS


def decide(
    window: int, used: int, blocked_until: int, weight: int, budget: int, now_ms: int
) -> tuple[int, int, int]:
    """The pure rule every store applies atomically: (new window, new used, wait ms).

    A new minute starts a fresh window; a block in force means waiting for it; otherwise the
    weight is charged when it fits, else the caller waits for the next window."""
    current = window_start(now_ms)
    if window != current:
        window, used = current, 0
    if blocked_until > now_ms:
        return window, used, blocked_until - now_ms
    if used + weight <= budget:
        return window, used + weight, 0
    return window, used, current + WINDOW_MS - now_ms


def observed(window: int, spent: int, used: int, now_ms: int) -> tuple[int, int]:
    """The window after the server reported `used`: the larger count wins (a new minute
    starts from the server's figure)."""
    current = window_start(now_ms)
    if window != current:
        window, spent = current, 0
    return window, max(spent, used)


class MemoryStore:
    """Window state of one process (an asyncio loop is single-threaded: no lock needed)."""

    def __init__(self) -> None:
        self.window = 0
        self.spent = 0
        self.blocked = 0

    async def try_charge(self, weight: int, budget: int, now_ms: int) -> Charge:
        self.window, self.spent, wait = decide(
            self.window, self.spent, self.blocked, weight, budget, now_ms
        )
        return Charge(wait, self.spent)

    async def observe(self, used: int, now_ms: int) -> None:
        self.window, self.spent = observed(self.window, self.spent, used, now_ms)

    async def block_until(self, until_ms: int) -> None:
        self.blocked = max(self.blocked, until_ms)

    async def used(self, now_ms: int) -> int:
        return self.spent if self.window == window_start(now_ms) else 0


class WeightGovernor:
    """Charges request weight against a shared budget before each REST call (module doc)."""

    def __init__(
        self,
        store: BudgetStore | None = None,
        *,
        limit: int = BINANCE_WEIGHT_LIMIT,
        share: float = 0.8,
        clock: Callable[[], int] | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}")
        self.store: BudgetStore = store or MemoryStore()
        self.budget = int(limit * share)
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self._sleep = sleep
        self.charged = 0
        """Total weight this governor charged (for the heartbeat log)."""
        self.waited_ms = 0
        """Total time callers waited for the budget."""

    async def acquire(self, weight: int) -> None:
        """Charge `weight` to the current window, waiting until it fits."""
        if weight > self.budget:
            raise WeightTooLargeError(
                f"a call of weight {weight} exceeds the whole budget of {self.budget} per "
                "minute; use a smaller `limit` or a symbol filter"
            )
        while True:
            charge = await self.store.try_charge(weight, self.budget, self._clock())
            if charge.wait_ms == 0:
                self.charged += weight
                return
            self.waited_ms += charge.wait_ms
            await self._sleep(charge.wait_ms / 1000)

    async def observe(self, used_weight_header: str | None) -> None:
        """Correct the window from an answer's `X-MBX-USED-WEIGHT-1M` (ignored when absent
        or not a number)."""
        if used_weight_header is None:
            return
        try:
            used = int(used_weight_header)
        except ValueError:
            return
        await self.store.observe(used, self._clock())

    async def back_off(self, retry_after_s: float | None, default_s: float = 60.0) -> None:
        """After a 429/418: stop every caller until the server's `Retry-After` has passed."""
        seconds = default_s if retry_after_s is None else max(retry_after_s, 0.0)
        await self.store.block_until(self._clock() + int(seconds * 1000))

    async def used(self) -> int:
        """Weight spent in the current window as far as the shared state knows."""
        return await self.store.used(self._clock())
