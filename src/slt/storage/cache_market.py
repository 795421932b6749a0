"""What the live system caches: each symbol's latest closed candle and its indicator state.

Both live in one `MarketCache` that shares one Redis connection and one set of counters, so
the Brain's heartbeat shows a single hit-rate line. `open_market_cache(settings)` builds it
from `settings.redis_url`; with no Redis configured it is L1 + source only, silently (the
in-process cache then serves, as the design says).

Keys: `slt:cache:candle:<venue>:<interval>:<SYMBOL>` (a msgspec-MessagePack `Candle`) and
`slt:cache:indicators:<venue>:<SYMBOL>` (opaque bytes: the incremental feature state, whose
layout is the features package's business). Both expire from Redis one hour after their last
write. The venue part (`local`, `testnet`, `live`) keeps bots on different venues that share
one Redis apart: a replay's BTCUSDT is not the exchange's BTCUSDT, and a testnet price must
never become a live bot's mark.
"""

from __future__ import annotations

from slt.config import Settings
from slt.domain.candle import Candle
from slt.storage.cache import L2_TTL_S, BytesCodec, Loader, MsgpackCodec, TieredCache
from slt.storage.cache_l1 import Clock, wall_ms
from slt.storage.cache_l2 import RedisTier
from slt.storage.cache_stats import CacheCounts, CacheStats


class MarketCache:
    """Latest candle per (interval, symbol) and indicator state per symbol, over the tiers."""

    def __init__(
        self,
        l2: RedisTier | None = None,
        *,
        venue: str = "live",
        l1_max_entries: int = 4096,
        l1_ttl_ms: int = 60_000,
        l2_ttl_s: int = L2_TTL_S,
        clock: Clock = wall_ms,
    ) -> None:
        if not venue or ":" in venue:
            raise ValueError(f"venue must be non-empty and without ':', not {venue!r}")
        self.l2 = l2
        self.venue = venue
        self.counters = CacheStats()
        self.candles: TieredCache[Candle] = TieredCache(
            "candle",
            MsgpackCodec(Candle),
            l2=l2,
            l1_max_entries=l1_max_entries,
            l1_ttl_ms=l1_ttl_ms,
            l2_ttl_s=l2_ttl_s,
            clock=clock,
            stats=self.counters,
        )
        self.indicators: TieredCache[bytes] = TieredCache(
            "indicators",
            BytesCodec(),
            l2=l2,
            l1_max_entries=l1_max_entries,
            l1_ttl_ms=l1_ttl_ms,
            l2_ttl_s=l2_ttl_s,
            clock=clock,
            stats=self.counters,
        )

    async def latest_candle(
        self, symbol: str, interval: str, loader: Loader[Candle]
    ) -> Candle | None:
        """The latest closed candle of *symbol* on *interval*; *loader* asks the store/exchange."""
        return await self.candles.get(self._candle_key(symbol, interval), loader)

    async def put_candle(self, interval: str, candle: Candle) -> None:
        """Record *candle* as its symbol's latest closed candle on *interval*.

        Ignored when memory already holds a later candle for that symbol, so a late or
        replayed message never moves "latest" backwards.
        """
        key = self._candle_key(candle.symbol, interval)
        current = self.candles.l1.peek(key)
        if current is not None and current.open_time > candle.open_time:
            return
        await self.candles.set(key, candle)

    async def indicator_state(self, symbol: str, loader: Loader[bytes]) -> bytes | None:
        """The saved indicator state of *symbol* (opaque bytes); *loader* rebuilds it."""
        return await self.indicators.get(self._symbol_key(symbol), loader)

    async def put_indicator_state(self, symbol: str, state: bytes) -> None:
        await self.indicators.set(self._symbol_key(symbol), state)

    async def forget(self, symbol: str, intervals: tuple[str, ...] = ()) -> None:
        """Drop *symbol*'s indicator state and its latest candle on *intervals*."""
        await self.indicators.invalidate(self._symbol_key(symbol))
        for interval in intervals:
            await self.candles.invalidate(self._candle_key(symbol, interval))

    def _symbol_key(self, symbol: str) -> str:
        return f"{self.venue}:{symbol.upper()}"

    def _candle_key(self, symbol: str, interval: str) -> str:
        return f"{self.venue}:{interval}:{symbol.upper()}"

    @property
    def l2_up(self) -> bool:
        return self.l2 is not None and self.l2.up

    def stats(self) -> CacheCounts:
        """Counters of both namespaces together."""
        return self.counters.snapshot()

    def hit_rates(self) -> dict[str, float]:
        """`l1`, `l2`, `overall` hit rates as fractions, for the heartbeat."""
        return self.stats().rates()

    async def aclose(self) -> None:
        if self.l2 is not None:
            await self.l2.aclose()


def open_market_cache(settings: Settings, venue: str, *, clock: Clock = wall_ms) -> MarketCache:
    """The market cache the settings ask for, for `venue`: Redis as L2 when `redis_url` is set.

    Nothing is contacted here: a Redis that is down at start is found on first use and
    handled like any outage.
    """
    l2 = RedisTier.from_url(settings.redis_url, clock=clock) if settings.redis_url else None
    return MarketCache(l2, venue=venue, clock=clock)
