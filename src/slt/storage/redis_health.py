"""Redis as an accelerator, never a dependency: one health state for every Redis user.

Whatever Redis holds for us (the cache's L2, the weight budget shared by bots on one IP) has a
local stand-in that can always answer. So every Redis call goes through `RedisHealth.call`:
any Redis error or timeout marks Redis *down*, the call reports failure instead of raising,
and for `retry_every_ms` no call is even attempted (a dead server would otherwise cost a
socket timeout on every call). After that one call at a time probes it; the first success
marks it up again (a call that was already under way before the failure proves nothing and
does not). A warning is logged at most once per `warn_every_ms`, even across a flapping
server's short recoveries; each recovery is logged once, at info level.

`epoch` counts recoveries, so a user can tell that writes it skipped while Redis was away
must be re-synced before Redis is trusted again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

Clock = Callable[[], int]

FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
"""What a Redis call raises when the server or the link fails."""


def redis_client(url: str, *, timeout_s: float = 0.3) -> aioredis.Redis:
    """A redis-py asyncio client that fails fast: short timeouts, no built-in retries."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )
    return client


class RedisHealth:
    """Up/down state of one Redis user, with rate-limited warnings (module docstring).

    `what` names the user in log lines ("Redis cache (L2)"), `meanwhile` says what serves
    while Redis is down ("serving from memory and the source")."""

    def __init__(
        self,
        what: str,
        meanwhile: str,
        *,
        log: logging.Logger,
        clock: Clock,
        timeout_s: float = 0.3,
        retry_every_ms: int = 5_000,
        warn_every_ms: int = 60_000,
    ) -> None:
        self.what = what
        self.meanwhile = meanwhile
        self.log = log
        self.clock = clock
        self.timeout_s = timeout_s
        self.retry_every_ms = retry_every_ms
        self.warn_every_ms = warn_every_ms
        self.epoch = 0
        """How many times Redis came back after being down."""
        self.errors = 0
        """Failed Redis calls since this state was made."""
        self.warnings = 0
        """Warnings logged about Redis being down (at most one per `warn_every_ms`)."""
        self._down_since: int | None = None
        self._next_probe_ms = 0
        self._last_warning_ms: int | None = None
        self._probing = False
        self._cause = ""

    @property
    def up(self) -> bool:
        """False from the first failure until a later call succeeds."""
        return self._down_since is None

    def usable(self) -> bool:
        """True when a call may be attempted now (up, or down and this call may probe)."""
        if self._down_since is None:
            return True
        return not self._probing and self.clock() >= self._next_probe_ms

    async def call(
        self, call: Callable[[], Awaitable[Any]], *, timeout_s: float | None = None
    ) -> tuple[bool, Any]:
        """`(True, result)` of the Redis call *call*, or `(False, None)` when Redis is resting
        or the call failed; never raises Redis's errors."""
        if not self.usable():
            return False, None
        probing = self._down_since is not None
        if probing:
            self._probing = True
        try:
            async with asyncio.timeout(2 * (timeout_s or self.timeout_s)):
                value = await call()
        except FAILURES as exc:
            self._failed(exc)
            return False, None
        finally:
            if probing:
                self._probing = False
        if probing and self._down_since is not None:
            self._recovered()  # only a call made while down is evidence that it is back
        return True, value

    def _failed(self, exc: BaseException) -> None:
        now = self.clock()
        self.errors += 1
        self._cause = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        self._next_probe_ms = now + self.retry_every_ms
        if self._down_since is None:
            self._down_since = now
        if self._last_warning_ms is None or now - self._last_warning_ms >= self.warn_every_ms:
            self._last_warning_ms = now
            self.warnings += 1
            self.log.warning(
                "%s unreachable for %d s (%s): %s, retrying every %d s",
                self.what,
                (now - self._down_since) // 1000,
                self._cause,
                self.meanwhile,
                self.retry_every_ms // 1000,
            )

    def _recovered(self) -> None:
        assert self._down_since is not None
        down_ms = self.clock() - self._down_since
        self._down_since = None
        self.epoch += 1
        self.log.info("%s reachable again after %d s down", self.what, down_ms // 1000)
