"""L2 of the cache tiers: Redis, used only while it answers quickly.

Redis is an accelerator here, never a dependency: the store or the exchange (L3) can always
answer. Every Redis call goes through the shared health state (`slt.storage.redis_health`):
a failure marks the tier down, the call reports `UNAVAILABLE` instead of raising, Redis is
probed again every `retry_every_ms`, and the warning comes at most once per `warn_every_ms`.

Timeouts are short (socket and connect 0.3 s by default) and redis-py's own retries are
off: a read that waits seconds for Redis is worse than a read from the store.

`epoch` counts recoveries, so a cache layered on this tier can tell that writes it skipped
while Redis was away must be re-synced before L2 is trusted again.
"""

from __future__ import annotations

import contextlib
import logging
from enum import Enum

import redis.asyncio as aioredis

from slt.storage.cache_l1 import Clock, wall_ms
from slt.storage.redis_health import FAILURES, RedisHealth, redis_client

log = logging.getLogger("slt.storage.cache")


class L2State(Enum):
    """Answer of an L2 call that did not reach Redis (down, or failed just now)."""

    UNAVAILABLE = "unavailable"


UNAVAILABLE = L2State.UNAVAILABLE


class RedisTier(RedisHealth):
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
        super().__init__(
            "Redis cache (L2)",
            "serving from memory and the source",
            log=log,
            clock=clock,
            timeout_s=timeout_s,
            retry_every_ms=retry_every_ms,
            warn_every_ms=warn_every_ms,
        )
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 0.3, clock: Clock = wall_ms) -> RedisTier:
        return cls(redis_client(url, timeout_s=timeout_s), timeout_s=timeout_s, clock=clock)

    async def get(self, key: str) -> bytes | L2State | None:
        """The bytes under *key*, None when absent, `UNAVAILABLE` when Redis cannot say."""
        ok, value = await self.call(lambda: self.client.get(key))
        if not ok:
            return UNAVAILABLE
        return value if isinstance(value, bytes) or value is None else bytes(value)

    async def probe(self) -> bool:
        """While down and due for a retry, PING Redis (marks it up when it answers)."""
        if self.up:
            return True
        ok, _ = await self.call(lambda: self.client.ping())
        return ok

    async def set(self, key: str, value: bytes, ttl_s: int) -> bool:
        """Store *value* for *ttl_s* seconds; False when it did not reach Redis."""
        ok, _ = await self.call(lambda: self.client.set(key, value, ex=ttl_s))
        return ok

    async def delete(self, *keys: str) -> bool:
        """Remove *keys* (UNLINK: freed in the background); False when Redis was not reached."""
        if not keys:
            return True
        ok, _ = await self.call(lambda: self.client.unlink(*keys))
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

        ok, _ = await self.call(sweep, timeout_s=max(self.timeout_s, 5.0))
        return ok

    async def aclose(self) -> None:
        """Close the client's connections (errors ignored: closing a dead link is fine)."""
        with contextlib.suppress(*FAILURES):
            await self.client.aclose()
