"""Closing a position persists: a close that fails for a passing reason is sent again.

An exit that the venue fails to take (network, 5xx, rate limit, an answer lost on the way) is
not a decision to keep the position: the engine decided to be out, and the only thing that
can overrule it is the exchange saying the order cannot be (`-2022`: nothing left to reduce).
Before this module such a failure was reported to the engine as a refusal, which gave the
position its stop back and left it open until the next 60 s timer tried again under a new
client id. Now the close is retried where it was sent (its symbol's lane, so other symbols
are not held up and the symbol's later commands stay behind it):

* with exponential backoff and jitter (`ClosePolicy`, `backoff_delay`), so a venue in
  trouble is not hammered and many closes failing together do not retry in lockstep;
* under the SAME client order id, and after the first try only once a lookup by that id says
  the exchange does not have it: a close whose answer was lost is found, never doubled
  (Binance keeps client ids unique only among *open* orders, and a market exit is filled at
  once, so a blind re-send could place a second order). A `-4116` "duplicated" answer means
  a copy is open: it landed;
* until the exchange has the order, or refuses it definitively (that refusal reaches the
  engine as before), or the task is cancelled at shutdown;
* with an `ALERT:` log line once it has failed for `alert_after_s`, repeated at most every
  `alert_every_s` while it keeps failing. `Closer.retries` / `Closer.alerts` / `pending()`
  count it for the heartbeat.

Time is injected (`sleep`, `monotonic`, `rng`) so tests need no wall-clock races.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from slt.config import LiveConfig
from slt.domain import OrderPurpose, OrderRequest, OrderType
from slt.venues.binance.errors import OrderRejected as VenueRejected
from slt.venues.binance.errors import (
    OrderStateUnknown,
    RateLimited,
    VenueError,
    VenueTemporaryError,
)

log = logging.getLogger("slt.brain")

DUPLICATED_CLIENT_ID = -4116
"""Binance's 'clientOrderId is duplicated': an open order has this id already — ours landed."""

Jitter = Literal["full", "equal"]


@dataclass(frozen=True, slots=True)
class ClosePolicy:
    """How a failing close is retried and when it is shouted about.

    The n-th wait (n = 1, 2, …) is drawn under the ceiling `min(cap_s, base_s * 2**(n-1))`:
    uniformly in [0, ceiling] with `full` jitter, in [ceiling/2, ceiling] with `equal` jitter
    (the default: a floor on the wait, so a flapping venue is never polled in a tight loop).
    """

    base_s: float = 0.5
    cap_s: float = 30.0
    jitter: Jitter = "equal"
    alert_after_s: float = 60.0
    alert_every_s: float = 60.0

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s <= 0:
            raise ValueError(f"backoff base and cap must be positive ({self.base_s}, {self.cap_s})")
        if self.alert_after_s < 0 or self.alert_every_s <= 0:
            raise ValueError("alert_after_s must be >= 0 and alert_every_s > 0")

    @classmethod
    def from_live(cls, live: LiveConfig) -> ClosePolicy:
        """The policy the `[live]` settings describe."""
        return cls(
            base_s=live.close_retry_base_s,
            cap_s=live.close_retry_cap_s,
            alert_after_s=live.close_alert_after_s,
            alert_every_s=live.close_alert_every_s,
        )


def backoff_ceiling(policy: ClosePolicy, attempt: int) -> float:
    """The largest wait after the `attempt`-th failure (1-based): doubling from `base_s`, held
    at `cap_s`. The exponent is bounded so a close failing for days cannot overflow."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1 ({attempt})")
    return min(policy.cap_s, policy.base_s * 2.0 ** min(attempt - 1, 60))


def backoff_delay(policy: ClosePolicy, attempt: int, u: float) -> float:
    """The wait after the `attempt`-th failure for a uniform draw `u` in [0, 1]: pure, so the
    schedule is tested without randomness; for a fixed `u` it never shrinks as attempts grow."""
    ceiling = backoff_ceiling(policy, attempt)
    if policy.jitter == "full":
        return u * ceiling
    return ceiling / 2 + u * ceiling / 2


def expected_delay(policy: ClosePolicy, attempt: int) -> float:
    """The mean of `backoff_delay` over u ~ U[0, 1]."""
    ceiling = backoff_ceiling(policy, attempt)
    return ceiling / 2 if policy.jitter == "full" else 0.75 * ceiling


def is_closing(order: OrderRequest) -> bool:
    """Whether `order` closes a position now: the engine's exits, and any reduce-only or
    close-position market order. Resting stops and targets are not: they are protection placed
    ahead of time, and a failure to place one is the engine's to answer (it exits instead)."""
    if order.purpose is OrderPurpose.EXIT:
        return True
    return order.type is OrderType.MARKET and (order.reduce_only or order.close_position)


class OrderLookup(Protocol):
    """The one venue call the closer needs besides sending (`BinanceRest` has it)."""

    async def query_order(
        self, symbol: str, client_id: str, *, conditional: bool = False
    ) -> dict[str, Any] | None: ...


@dataclass(slots=True)
class CloseAttempt:
    """One close being retried (what the alert line and the heartbeat report)."""

    order: OrderRequest
    started: float
    attempts: int = 0
    last_error: str = ""
    alerted_at: float | None = None


class Closer:
    """Sends one close until the exchange has it (module docstring)."""

    def __init__(
        self,
        venue: OrderLookup,
        policy: ClosePolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.venue = venue
        self.policy = policy or ClosePolicy()
        self.sleep = sleep
        self.monotonic = monotonic
        self.rng = rng or random.Random()
        self.retries = 0
        """Tries after a failed one, over every close since start."""
        self.alerts = 0
        """ALERT lines logged, over every close since start."""
        self.active: dict[str, CloseAttempt] = {}
        """Closes still being retried, by client id."""

    def pending(self) -> int:
        """Closes still being retried now."""
        return len(self.active)

    async def run(self, order: OrderRequest, send: Callable[[], Awaitable[object]]) -> int:
        """Call `send` (which places `order`) until the exchange has the order; returns how
        many tries it took. Raises the venue's `OrderRejected` on a definitive refusal and lets
        a `VenueConfigError` or a cancellation through; never returns before success."""
        attempt = CloseAttempt(order, self.monotonic())
        self.active[order.client_id] = attempt
        try:
            while True:
                attempt.attempts += 1
                try:
                    await self._try(order, send, first=attempt.attempts == 1)
                except (VenueTemporaryError, OrderStateUnknown) as exc:
                    error: VenueError = exc
                else:
                    self._done(attempt)
                    return attempt.attempts
                attempt.last_error = f"{type(error).__name__}: {error}"
                self._alert_if_due(attempt)
                self.retries += 1
                await self.sleep(self._wait(attempt.attempts, error))
        finally:
            self.active.pop(order.client_id, None)

    async def _try(
        self, order: OrderRequest, send: Callable[[], Awaitable[object]], *, first: bool
    ) -> None:
        """One try: returns once the exchange has the order. After a failed one the order is
        looked up first: the failure may have hidden a copy that landed (a lost answer), and a
        second market exit must never go."""
        if not first and await self._landed(order):
            return
        try:
            await send()
        except VenueRejected as exc:
            if exc.code != DUPLICATED_CLIENT_ID:
                raise
            if not await self._landed(order):
                raise VenueTemporaryError(
                    f"duplicate client id {order.client_id} but no such order: {exc}", exc.code
                ) from exc

    async def _landed(self, order: OrderRequest) -> bool:
        found = await self.venue.query_order(
            order.symbol,
            order.client_id,
            conditional=order.type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET),
        )
        return found is not None

    def _wait(self, attempts: int, error: VenueError) -> float:
        delay = backoff_delay(self.policy, attempts, self.rng.random())
        if isinstance(error, RateLimited) and error.retry_after_s is not None:
            delay = max(delay, error.retry_after_s)
        return delay

    def _alert_if_due(self, attempt: CloseAttempt) -> None:
        now = self.monotonic()
        if now - attempt.started < self.policy.alert_after_s:
            return
        if attempt.alerted_at is not None and now - attempt.alerted_at < self.policy.alert_every_s:
            return
        attempt.alerted_at = now
        self.alerts += 1
        log.error(
            "ALERT: could not close %s position for %d s (%d attempts, last error %s): "
            "still retrying",
            attempt.order.symbol,
            int(now - attempt.started),
            attempt.attempts,
            attempt.last_error,
        )

    def _done(self, attempt: CloseAttempt) -> None:
        if attempt.attempts == 1:
            return
        level = logging.WARNING if attempt.alerted_at is not None else logging.INFO
        log.log(
            level,
            "close %s %s went through after %d attempts (%.1f s)",
            attempt.order.client_id,
            attempt.order.symbol,
            attempt.attempts,
            self.monotonic() - attempt.started,
        )
