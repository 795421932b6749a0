"""The Brain's use of the cache tiers: every closed candle goes in; a (re)started Brain takes
its first marks from there.

A Brain restarted in the middle of a run knows no prices until each symbol's next candle
closes, yet reconciliation, a stop placed at once and the risk layer need a mark now. The
latest closed candle of each symbol is in L1 (same process, so only for later lookups), in
Redis (L2, one hour: it outlives the Brain's process) or, failing both, in the candle store
(L3). Redis being down only costs hit rate: the tiers log it once a minute and the store
answers (`slt.storage.cache`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from slt.domain import Candle
from slt.domain.candle import interval_ms
from slt.storage import CandleStore, is_unavailable
from slt.storage.cache import Loader
from slt.storage.cache_market import MarketCache
from slt.storage.candles import SeriesInfo

log = logging.getLogger("slt.brain")


async def remember_candles(cache: MarketCache, interval: str, candles: Iterable[Candle]) -> None:
    """Each symbol's newest closed candle, for the next Brain (L1 now, Redis for later)."""
    newest: dict[str, Candle] = {}
    for c in candles:
        if c.symbol not in newest or c.open_time > newest[c.symbol].open_time:
            newest[c.symbol] = c
    for c in newest.values():
        await cache.put_candle(interval, c)


FRESH_MS = 3_600_000
"""A cached close older than this (market time) is no mark: the price has moved on."""


async def first_marks(
    cache: MarketCache,
    store: CandleStore,
    symbols: Sequence[str],
    interval: str,
    now_ms: int,
) -> dict[str, float]:
    """Each symbol's last close at `now_ms` (the venue's clock): from the cache tiers, else the
    store. Only a candle closed within the last hour counts — not an older one, and not one
    from after `now_ms` (a replay restarted from an earlier day finds later days stored, and
    the cache may hold them too: those are dropped from it); a symbol without one is left out
    (its first candle sets its mark)."""
    infos: dict[tuple[str, str], SeriesInfo] | None = None

    def loader(symbol: str) -> Loader[Candle]:
        async def load() -> Candle | None:
            nonlocal infos
            if infos is None:
                infos = {(i.symbol, i.interval): i for i in await store.list_series()}
            info = infos.get((symbol, interval))
            if info is None:
                return None
            # closed by now_ms: close_time = open_time + step - 1 < now_ms
            closed_before = now_ms - interval_ms(interval) + 1
            series = await store.load(symbol, interval, now_ms - FRESH_MS, closed_before)
            return series.candle(len(series) - 1) if len(series) else None

        return load

    marks: dict[str, float] = {}
    for symbol in symbols:
        try:
            candle = await cache.latest_candle(symbol, interval, loader(symbol))
            if candle is not None and candle.close_time >= now_ms:
                # Left by a replay that ran further (Redis outlives runs): kept, it would make
                # every candle of this run look older than "latest" and never be replaced.
                log.info(
                    "cache: %s's latest candle closes after the venue's clock: dropped", symbol
                )
                await cache.forget(symbol, (interval,))
                candle = await cache.latest_candle(symbol, interval, loader(symbol))
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("database unreachable: first marks from the cache only (%s)", exc)
            infos = {}
            continue
        if candle is not None and now_ms - FRESH_MS <= candle.close_time < now_ms:
            marks[symbol] = candle.close
    return marks


__all__ = ["first_marks", "remember_candles"]
