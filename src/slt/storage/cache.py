"""Cache tiers: L1 in-process memory, L2 Redis, L3 the source (the store or the exchange).

`TieredCache.get(key, loader)` asks L1, then L2, then calls `loader()`; a value found in a
lower tier is written back to the tiers above it, so the next read is cheaper. `set` writes
through L1 and L2; `invalidate` removes from both. Redis keys are namespaced
`slt:cache:<namespace>:<key>` and expire after `l2_ttl_s` (one hour by default).

Redis is optional and may vanish at any time (see `cache_l2.RedisTier`): then reads go from
L1 straight to the source and writes skip L2, and no Redis error ever reaches the caller.
Writes that could not reach Redis leave its copy of those keys stale, so they are
remembered ("dirty"): a dirty key is never read from L2, and when Redis answers again the
dirty keys are re-written from L1 (or deleted) before L2 is trusted for them. If too many
keys went dirty to remember, the whole namespace is swept from Redis instead.

Concurrent gets of the same missing key share one loader call: a burst of reads after a
restart must not turn into a burst of REST requests against the exchange's weight budget.

The live system's own uses (latest candle, indicator state) are in `cache_market`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import msgspec

from slt.storage.cache_l1 import Clock, MemoryTier, wall_ms
from slt.storage.cache_l2 import UNAVAILABLE, RedisTier
from slt.storage.cache_stats import CacheCounts, CacheStats

log = logging.getLogger("slt.storage.cache")

T = TypeVar("T")

Loader = Callable[[], Awaitable[T | None]]
"""L3: fetch the value from its source; None when the source has nothing for the key."""

KEY_PREFIX = "slt:cache:"
L2_TTL_S = 3600


class Codec(Protocol[T]):
    """How a value becomes the bytes stored in Redis and back."""

    def encode(self, value: T) -> bytes: ...

    def decode(self, data: bytes) -> T: ...


class MsgpackCodec(Generic[T]):
    """msgspec MessagePack for a typed value (a Struct, a dict of floats...): compact and fast,
    and decoding validates the type, so a stale layout in Redis is a miss, not a bad value."""

    def __init__(self, type_: type[T]) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(type_)

    def encode(self, value: T) -> bytes:
        return self._encoder.encode(value)

    def decode(self, data: bytes) -> T:
        return self._decoder.decode(data)


class BytesCodec:
    """Opaque blobs stored as they are."""

    def encode(self, value: bytes) -> bytes:
        return value

    def decode(self, data: bytes) -> bytes:
        return data


class TieredCache(Generic[T]):
    """One namespace of cached values of type `T` over L1 (always), L2 (when given) and L3."""

    def __init__(
        self,
        namespace: str,
        codec: Codec[T],
        *,
        l2: RedisTier | None = None,
        l1_max_entries: int = 4096,
        l1_ttl_ms: int = 60_000,
        l2_ttl_s: int = L2_TTL_S,
        max_dirty: int = 10_000,
        clock: Clock = wall_ms,
        stats: CacheStats | None = None,
    ) -> None:
        if not namespace or ":" in namespace:
            raise ValueError(f"namespace must be non-empty and without ':', not {namespace!r}")
        self.namespace = namespace
        self.prefix = f"{KEY_PREFIX}{namespace}:"
        self.codec = codec
        self.l1: MemoryTier[T] = MemoryTier(l1_max_entries, l1_ttl_ms, clock)
        self.l2 = l2
        self.l2_ttl_s = l2_ttl_s
        self.max_dirty = max_dirty
        self.counters = stats if stats is not None else CacheStats()
        self._dirty: set[str] = set()
        self._swept_needed = False
        self._epoch = l2.epoch if l2 is not None else 0
        self._inflight: dict[str, asyncio.Future[T | None]] = {}

    def redis_key(self, key: str) -> str:
        return self.prefix + key

    @property
    def l2_up(self) -> bool:
        """False while Redis is down (and when there is no Redis at all)."""
        return self.l2 is not None and self.l2.up

    @property
    def dirty(self) -> frozenset[str]:
        """Keys whose Redis copy may be stale because a write or delete did not reach it."""
        return frozenset(self._dirty)

    async def get(self, key: str, loader: Loader[T]) -> T | None:
        """The value of *key* from the first tier that has it; None if the source has none."""
        c = self.counters
        c.gets += 1
        value = self.l1.get(key)
        if value is not None:
            c.l1_hits += 1
            return value
        if self.l2 is not None:
            await self._resync()
            value = await self._l2_read(self.l2, key)
            if value is not None:
                self._fill_l1(key, value)
                return value
        return await self._load(key, loader)

    async def set(self, key: str, value: T) -> None:
        """Write *value* through L1 and L2 (L2 silently skipped when Redis is down)."""
        self.l1.put(key, value)
        if self.l2 is not None:
            await self._resync()
            await self._l2_write(self.l2, key, value)

    async def invalidate(self, key: str) -> None:
        """Forget *key* in L1 and L2 (the next get goes to the source)."""
        self.l1.pop(key)
        if self.l2 is not None:
            await self._resync()
            await self._l2_write(self.l2, key, None)

    def stats(self) -> CacheCounts:
        """A snapshot of the counters (shared with other caches when `stats` was shared)."""
        return self.counters.snapshot()

    def hit_rates(self) -> dict[str, float]:
        """`l1`, `l2` and `overall` hit rates as fractions (see `CacheCounts.rates`)."""
        return self.stats().rates()

    async def _l2_read(self, l2: RedisTier, key: str) -> T | None:
        c = self.counters
        if self._swept_needed or key in self._dirty or not l2.usable():
            c.l2_skipped += 1
            return None
        raw = await l2.get(self.redis_key(key))
        if raw is UNAVAILABLE:
            c.l2_skipped += 1
            return None
        if raw is None:
            c.l2_misses += 1
            return None
        try:
            value = self.codec.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.debug("cache %s: undecodable L2 value for %r (%s)", self.prefix, key, exc)
            c.l2_misses += 1
            return None
        c.l2_hits += 1
        return value

    async def _l2_write(self, l2: RedisTier, key: str, value: T | None) -> None:
        """Put (or delete, when *value* is None) *key* in Redis; if that fails, mark it dirty."""
        rkey = self.redis_key(key)
        if value is None:
            ok = await l2.delete(rkey)
        else:
            ok = await l2.set(rkey, self.codec.encode(value), self.l2_ttl_s)
        if ok:
            self._dirty.discard(key)
            return
        self.counters.l2_write_failures += 1
        if self._swept_needed:
            return
        self._dirty.add(key)
        if len(self._dirty) > self.max_dirty:
            self._dirty.clear()
            self._swept_needed = True

    async def _load(self, key: str, loader: Loader[T]) -> T | None:
        """Call *loader* once per key at a time; write what it finds back to L1 and L2."""
        c = self.counters
        running = self._inflight.get(key)
        if running is not None:
            c.l3_shared += 1
            return await asyncio.shield(running)
        future: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            c.l3_loads += 1
            try:
                value = await loader()
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:
                future.set_exception(exc)
                future.exception()  # marked retrieved: nobody else may be waiting
                raise
            future.set_result(value)
        finally:
            del self._inflight[key]
        if value is None:
            c.l3_empty += 1
            return None
        if self._fill_l1(key, value) and self.l2 is not None:
            await self._l2_write(self.l2, key, value)
        return value

    def _fill_l1(self, key: str, value: T) -> bool:
        """Write back a value read from a lower tier, unless a `set` got there first while
        it was being read (that value is newer). True when L1 now holds *value*."""
        if self.l1.peek(key) is None:
            self.l1.put(key, value)
        return self.l1.peek(key) is value

    async def _resync(self) -> None:
        """After Redis came back, bring its stale keys in line with L1 before trusting it.

        While Redis is down, the retry is a PING made here, before the caller's own read or
        write, so a recovery is always followed by the re-sync before any other use of L2
        (a write that probed would otherwise be undone by the sweep that follows it).
        """
        l2 = self.l2
        if l2 is None:
            return
        if not l2.up and l2.usable():
            await l2.probe()
        if l2.epoch == self._epoch or not l2.up:
            return
        self._epoch = l2.epoch  # claimed now, so a concurrent call does not start a second pass
        if self._swept_needed:
            if await l2.delete_matching(self.prefix + "*"):
                self._swept_needed = False
            return
        for key in list(self._dirty):
            value = self.l1.peek(key)
            await self._l2_write(l2, key, value)
            if not l2.up:
                return
            if value is not None and self.l1.peek(key) is not value:
                self._dirty.add(key)  # rewritten meanwhile: the newer value goes next time
        if self._dirty:
            log.debug("cache %s: %d keys still dirty after resync", self.prefix, len(self._dirty))
