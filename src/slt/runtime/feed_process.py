"""The Feed process: the Orchestrator's spawned child that runs `slt.feed.service.FeedService`.

`run_feed(spec)` is the entry point (picklable, module level). It adds to the service only
what a process needs: logging (`slt.logs.setup_logging`, which keeps the role and format the
Orchestrator's child wrapper chose), SIGINT ignored (Ctrl-C reaches the whole process group;
the Orchestrator turns it into an orderly SIGTERM, Feed first), SIGTERM as a graceful stop
(close the streams, publish the candles already assembled, flush the store buffer, stamp the
heartbeat slot STOPPED, exit 0), and the shared-memory blocks the Orchestrator created: the
candle ring and the heartbeat board, attached without taking ownership (`runtime.shm`).

The store is the one `settings.effective_database_url` names (SQLite under the data directory
by default, PostgreSQL with `SLT_DATABASE_URL`), migrated idempotently as the Brain does; if
it cannot be opened the Feed runs without it (no store fills, nothing persisted) rather than
not at all. REST klines are only set up when `DISABLE_REST_FALLBACK=false`, paced by the
weight governor every process of this system shares.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from urllib.parse import urlparse

from sqlalchemy.ext.asyncio import AsyncEngine

from slt.feed.backfill import KlineSource, RestKlines
from slt.feed.service import ROLE, FeedConfig, FeedService
from slt.ipc.records import CANDLE_RECORD
from slt.logs import setup_logging
from slt.runtime.heartbeat import HeartbeatBoard
from slt.runtime.shm import attach_ring
from slt.runtime.spec import RunSpec
from slt.storage import CandleStore, create_engine, migrate
from slt.venues.binance.governor_stores import shared_governor
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.ws import WsClientConfig

log = logging.getLogger("slt.feed")


def feed_config(spec: RunSpec) -> FeedConfig:
    """The Feed's settings for a run: the venue's market-stream base, close lag measured in
    market time on the local exchange (its candles are replayed, not real time)."""
    ws = WsClientConfig(
        base_url=spec.venue.urls.ws_market,
        close_lag_from="event" if spec.venue.kind == "local" else "receipt",
    )
    return FeedConfig(
        symbols=tuple(spec.symbols),
        interval=spec.interval,
        ws=ws,
        rest_fallback=not spec.settings.disable_rest_fallback,
        beat_interval_s=spec.beat_interval_s,
    )


def run_feed(spec: RunSpec) -> None:
    """Process entry point (module docstring). Returns normally, exit code 0, after SIGTERM."""
    setup_logging(spec.log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    early: list[int] = []  # a SIGTERM before the event loop runs still means "stop"
    signal.signal(signal.SIGTERM, lambda signum, _frame: early.append(signum))
    asyncio.run(_main(spec, early))


async def _main(spec: RunSpec, early: list[int]) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if early:
        stop.set()
    board = HeartbeatBoard.attach(spec.heartbeat_name)
    board.start(ROLE, os.getpid())
    ring = attach_ring(spec.ring_name, CANDLE_RECORD)
    settings = spec.settings
    db = create_engine(settings.effective_database_url)
    rest: BinanceRest | None = None
    try:
        store = await _open_store(db)
        source: KlineSource | None = None
        config = feed_config(spec)
        if config.rest_fallback:
            host = urlparse(spec.venue.urls.rest).netloc
            governor = shared_governor(settings, host)
            rest = BinanceRest(
                spec.venue.urls, spec.venue.api_key, spec.venue.secret, governor,
                timeout_s=settings.venue.timeout_s, retries=settings.venue.retries,
            )  # fmt: skip
            source = RestKlines(rest)
        log.info(
            "feed starting: %d symbols, %s candles, REST fallback %s",
            len(config.symbols),
            config.interval,
            "on" if source is not None else "off",
        )
        service = FeedService(config, ring, store=store, rest=source, board=board)
        await service.run(stop)
        log.info("feed stopped: %d candles published", service.published)
    finally:
        if rest is not None:
            await rest.close()
        await db.dispose()
        ring.close()
        board.close()


async def _open_store(db: AsyncEngine) -> CandleStore | None:
    """The candle store, migrated; None (logged) when the database cannot be used. Another
    attempt covers the Brain migrating the same SQLite file at the same moment."""
    for attempt in range(3):
        try:
            await migrate(db)
            return CandleStore(db)
        except Exception as exc:
            if attempt == 2:
                log.warning("candle store unavailable (%s): no store fills, nothing saved", exc)
            else:
                await asyncio.sleep(0.5)
    return None


__all__ = ["feed_config", "run_feed"]
