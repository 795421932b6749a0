"""L2 of the cache tiers: Redis, used only while it answers quickly.

Redis is an accelerator here, never a dependency: the store or the exchange (L3) can always
answer. So every Redis call is wrapped: any Redis error or timeout marks the tier *down*,
the call reports `UNAVAILABLE` instead of raising, and for `retry_every_ms` no call is even
attempted (a dead server would otherwise cost a socket timeout on every read). After that one
call at a time probes it; the first success marks it up again (a call that was already
under way before the failure proves nothing and does not). A warning is logged at most once
per `warn_every_ms`, even across a flapping server's short recoveries; each recovery is
logged once, at info level.

Timeouts are short (socket and connect 0.3 s by default) and redis-py's own retries are
off: a read that waits seconds for Redis is worse than a read from the store.

`epoch` counts recoveries, so a cache layered on this tier can tell that writes it skipped
while Redis was away must be re-synced before L2 is trusted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from slt.storage.cache_l1 import Clock, wall_ms

log = logging.getLogger("slt.storage.cache")


class L2State(Enum):
    """Answer of an L2 call that did not reach Redis (down, or failed just now)."""

    UNAVAILABLE = "unavailable"


UNAVAILABLE = L2State.UNAVAILABLE

_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


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


class RedisTier:
    """Byte values in Redis with a TTL, behind a health state that absorbs every failure."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        timeout_s: float = 0.3,
        retry_every_ms: int = 5_000,
        warn_every_ms: int = 60_000,
        clock: Clock = wall_ms,
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.retry_every_ms = retry_every_ms
        self.warn_every_ms = warn_every_ms
        self.clock = clock
        self.epoch = 0
        """How many times Redis came back after being down."""
        self.errors = 0
        """Failed Redis calls since this tier was made."""
        self.warnings = 0
        """Warnings logged about Redis being down (at most one per `warn_every_ms`)."""
        self._down_since: int | None = None
        self._next_probe_ms = 0
        self._last_warning_ms: int | None = None
        self._probing = False
        self._cause = ""

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 0.3, clock: Clock = wall_ms) -> RedisTier:
        return cls(redis_client(url, timeout_s=timeout_s), timeout_s=timeout_s, clock=clock)

    @property
    def up(self) -> bool:
        """False from the first failure until a later call succeeds."""
        return self._down_since is None

    def usable(self) -> bool:
        """True when a call may be attempted now (up, or down and this call may probe)."""
        if self._down_since is None:
            return True
        return not self._probing and self.clock() >= self._next_probe_ms

    async def get(self, key: str) -> bytes | L2State | None:
        """The bytes under *key*, None when absent, `UNAVAILABLE` when Redis cannot say."""
        ok, value = await self._call(lambda: self.client.get(key))
        if not ok:
            return UNAVAILABLE
        return value if isinstance(value, bytes) or value is None else bytes(value)

    async def probe(self) -> bool:
        """While down and due for a retry, PING Redis (marks it up when it answers)."""
        if self._down_since is None:
            return True
        ok, _ = await self._call(lambda: self.client.ping())
        return ok

    async def set(self, key: str, value: bytes, ttl_s: int) -> bool:
        """Store *value* for *ttl_s* seconds; False when it did not reach Redis."""
        ok, _ = await self._call(lambda: self.client.set(key, value, ex=ttl_s))
        return ok

    async def delete(self, *keys: str) -> bool:
        """Remove *keys* (UNLINK: freed in the background); False when Redis was not reached."""
        if not keys:
            return True
        ok, _ = await self._call(lambda: self.client.unlink(*keys))
        return ok

    async def delete_matching(self, pattern: str) -> bool:
        """Remove every key matching *pattern* (SCAN, so Redis is never blocked for long)."""

        async def sweep() -> None:
            batch: list[bytes] = []
            async for key in self.client.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    await self.client.unlink(*batch)
                    batch.clear()
            if batch:
                await self.client.unlink(*batch)

        ok, _ = await self._call(sweep, timeout_s=max(self.timeout_s, 5.0))
        return ok

    async def aclose(self) -> None:
        """Close the client's connections (errors ignored: closing a dead link is fine)."""
        with contextlib.suppress(*_FAILURES):
            await self.client.aclose()

    async def _call(
        self, call: Callable[[], Awaitable[Any]], *, timeout_s: float | None = None
    ) -> tuple[bool, Any]:
        """Run the Redis call *call* unless the tier is resting; never raises its errors."""
        if not self.usable():
            return False, None
        probing = self._down_since is not None
        if probing:
            self._probing = True
        try:
            async with asyncio.timeout(2 * (timeout_s or self.timeout_s)):
                value = await call()
        except _FAILURES as exc:
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
            log.warning(
                "Redis cache (L2) unreachable for %d s (%s): serving from memory and the "
                "source, retrying every %d s",
                (now - self._down_since) // 1000,
                self._cause,
                self.retry_every_ms // 1000,
            )

    def _recovered(self) -> None:
        assert self._down_since is not None
        down_ms = self.clock() - self._down_since
        self._down_since = None
        self.epoch += 1
        log.info("Redis cache (L2) reachable again after %d s down", down_ms // 1000)
