"""`slt run`: choose the venue, the symbols and the strategy, then hand over to the Orchestrator.

Offline (the default) the local exchange is started on loopback in this process, replaying the
stored candles (the bundled sample on a fresh install) at `live.replay_speed` × real time from
`live.replay_warmup_days` after their start, so the Brain has history to warm up on. The
Feed and the Brain then talk to it exactly as they would to Binance: same REST client, same
WebSocket streams, same user-data stream. `--venue binance` points the same processes at the
testnet or production, with the API key and secret taken from the environment only.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from slt.config import Settings
from slt.data.sample import ensure_sample_loaded
from slt.domain import CandleSeries
from slt.rules import bundled_rules
from slt.runtime.brain_process import load_rules
from slt.runtime.children import default_plans
from slt.runtime.orchestrator import supervise
from slt.runtime.spec import RunSpec, VenueKind, VenueSpec
from slt.runtime.supervisor import SupervisorPolicy
from slt.runtime.symbols import checked_symbols, top_symbols
from slt.storage import CandleStore, create_engine, migrate
from slt.venues.binance.governor_stores import shared_governor
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.urls import PRODUCTION, TESTNET, VenueUrls, local
from slt.venues.local.assemble import RunningExchange, build_local_exchange, start_local_exchange
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET

log = logging.getLogger("slt.orchestrator")
KEY_ENV, SECRET_ENV = "SLT_API_KEY", "SLT_API_SECRET"
DAY_MS = 86_400_000


class LaunchError(Exception):
    """`slt run` cannot start as asked; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class LaunchOptions:
    venue: VenueKind = "local"
    log_json: bool = False
    log_level: str = "INFO"
    port: int = 0
    """Offline: the local exchange's port (0 = any free one)."""
    exchange_url: str | None = None
    """Offline: use the local exchange already serving here (`slt exchange serve`) instead of
    starting one; its replay speed must be given as `live.replay_speed`."""
    flatten: bool = False
    """Close every open position on shutdown (the Brain's stop grace grows to allow it)."""


def credentials(env: Mapping[str, str]) -> tuple[str, str]:
    key, secret = env.get(KEY_ENV, ""), env.get(SECRET_ENV, "")
    if not key or not secret:
        raise LaunchError(
            f"trading on Binance needs {KEY_ENV} and {SECRET_ENV} in the environment "
            "(never in a config file); create a key with futures trading enabled"
        )
    return key, secret


async def _stored_series(settings: Settings, *, load: bool = True) -> dict[str, CandleSeries]:
    """The stored candles an offline run replays (the bundled sample is imported first on a
    fresh install: the Brain warms up and the Feed fills gaps from the same store)."""
    db = create_engine(settings.effective_database_url)
    try:
        await migrate(db)
        store = CandleStore(db)
        await ensure_sample_loaded(store)
        if not load:
            return {}
        interval = settings.live.interval
        infos = [i for i in await store.list_series() if i.interval == interval]
        wanted = settings.live.symbols or tuple(i.symbol for i in infos)
        have = {i.symbol for i in infos}
        missing = [s for s in wanted if s not in have]
        if missing:
            raise LaunchError(
                f"offline runs replay stored candles and there are no {interval} candles for "
                f"{', '.join(missing)}; import them with `slt data import FILE...`"
            )
        return {s: await store.load(s, interval) for s in wanted}
    finally:
        await db.dispose()


async def start_offline(settings: Settings, port: int = 0) -> RunningExchange:
    """The local exchange replaying stored candles at the configured speed."""
    series = await _stored_series(settings)
    first = min(int(s.open_time[0]) for s in series.values() if len(s))
    start = first + int(settings.live.replay_warmup_days * DAY_MS)
    ex = build_local_exchange(
        series, bundled_rules(), speed=settings.live.replay_speed, start_ms=start
    )
    running = await start_local_exchange(ex, port=port)
    log.info(
        "local exchange on %s replaying %d symbols at %g× from %d",
        running.base_url,
        len(series),
        settings.live.replay_speed,
        start,
    )
    return running


async def choose_symbols(settings: Settings, rest: BinanceRest) -> tuple[str, ...]:
    info = await rest.exchange_info()
    rules = await load_rules(rest)
    if settings.live.symbols:
        return checked_symbols(settings.live.symbols, info, rules)
    return top_symbols(info, await rest.tickers_24h(), rules, settings.live.max_symbols)


async def launch(settings: Settings, options: LaunchOptions) -> int:
    """Start everything and supervise until shutdown; the process exit code."""
    exchange: RunningExchange | None = None
    run_id = ""
    urls: VenueUrls
    if options.venue == "local" and options.exchange_url:
        await _stored_series(settings, load=False)
        where = urlparse(options.exchange_url)
        if not where.hostname or not where.port:
            raise LaunchError(
                f"--exchange-url {options.exchange_url!r} needs a host and a port, "
                "e.g. http://127.0.0.1:8765"
            )
        urls, key, secret = local(where.port, where.hostname), DEFAULT_API_KEY, DEFAULT_API_SECRET
        speed = settings.live.replay_speed
        run_id = uuid.uuid4().hex[:12]
    elif options.venue == "local":
        exchange = await start_offline(settings, options.port)
        urls, key, secret = local(exchange.port), DEFAULT_API_KEY, DEFAULT_API_SECRET
        speed = settings.live.replay_speed
        run_id = uuid.uuid4().hex[:12]
    else:
        key, secret = credentials(os.environ)
        urls = TESTNET if options.venue == "testnet" else PRODUCTION
        speed = 1.0
    try:
        governor = shared_governor(settings, urlparse(urls.rest).netloc)
        async with BinanceRest(urls, key, secret, governor) as rest:
            symbols = await choose_symbols(settings, rest)
        if not symbols:
            raise LaunchError("no symbol to trade: the venue lists no trading USDT perpetual")
        log.info("trading %d symbols on %s: %s", len(symbols), options.venue, _few(symbols))
        tag = uuid.uuid4().hex[:10]
        spec = RunSpec(
            settings=settings,
            venue=VenueSpec(options.venue, urls, key, secret, speed=speed),
            symbols=symbols,
            interval=settings.live.interval,
            ring_name=f"slt-ring-{tag}",
            ring_capacity=settings.live.ring_capacity,
            heartbeat_name=f"slt-beat-{tag}",
            log_level=options.log_level,
            log_json=options.log_json,
            run_id=run_id,
            session_id=run_id or f"{options.venue}-{uuid.uuid4().hex[:12]}",
            flatten=options.flatten,
        )
        policy = SupervisorPolicy(
            stuck_after_s=settings.live.stuck_after_s,
            status_every_s=settings.live.status_every_s,
        )
        if options.flatten:
            policy = dataclasses.replace(
                policy, brain_stop_s=policy.brain_stop_s + settings.live.flatten_timeout_s
            )
        return await supervise(spec, default_plans(), policy)
    finally:
        if exchange is not None:
            await exchange.close()


def _few(symbols: tuple[str, ...], n: int = 8) -> str:
    shown = ", ".join(symbols[:n])
    return shown + (f" and {len(symbols) - n} more" if len(symbols) > n else "")
