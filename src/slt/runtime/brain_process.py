"""The Brain process: ring → strategy → engine → orders, fills from the user-data stream.

Start-up, in this order, so that nothing is missed: load the exchange's rules, read the
saved engine state, connect the user-data stream, then reconcile with the exchange (events
after the stream is up are queued, so a fill between the REST snapshot and the first event
is not lost), then take candles from the ring. Every input runs through one lock into the
`Trader`, one at a time.

SIGTERM: stop taking account events, read what is left in the ring (the Feed has stopped by
then), save the state durably, exit 0. SIGINT is ignored: the Orchestrator turns Ctrl-C into
an orderly SIGTERM, Feed first.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msgspec

from slt.domain import Candle, Event
from slt.domain.candle import interval_ms
from slt.engine.engine import Engine
from slt.ipc import RingBuffer
from slt.ipc.records import CANDLE_RECORD, candles_of, received_ns
from slt.live import snapshot
from slt.live.closing import ClosePolicy, Closer
from slt.live.execution import Executor
from slt.live.routing import OrderRouter
from slt.live.snapshot import SnapshotError
from slt.live.trader import Trader, fetch_view, usdt_wallet
from slt.live.translate import StreamTranslator
from slt.rules import ExchangeRules, load_exchange_rules
from slt.rules.parsing import brackets_from_binance_reply
from slt.runtime.brain_cache import first_marks, remember_candles
from slt.runtime.brain_ledger import migrate_or_warn, reconcile_at_start, start_ledger
from slt.runtime.brain_shutdown import flatten
from slt.runtime.heartbeat import HeartbeatBoard, Phase, wall_ms
from slt.runtime.latency import LATENCY_WINDOW, latency_percentiles, write_latencies
from slt.runtime.market_clock import MarketClock
from slt.runtime.shm import attach_ring, attach_shm
from slt.runtime.spec import RunSpec
from slt.runtime.strategy import NoChampionError, build_strategy, live_learner
from slt.runtime.supervisor import EXIT_CONFIG, EXIT_OK
from slt.runtime.tasks import cancel_all, loop_task
from slt.storage import CandleStore, ResilientStore, create_engine, is_unavailable
from slt.storage.cache_market import MarketCache, open_market_cache
from slt.strategy.base import Strategy
from slt.venues.binance.errors import VenueConfigError
from slt.venues.binance.governor_stores import shared_governor
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.userstream import UserStreamClient

log = logging.getLogger("slt.brain")
TIMER_MS = 60_000


def state_path(spec: RunSpec) -> Path:
    """Where this venue's engine state lives (one per venue kind and run)."""
    name = spec.venue.kind + (f"-{spec.run_id}" if spec.run_id else "")
    return spec.data_dir / "live" / name / "brain-state.json"


class BrainService:
    def __init__(self, spec: RunSpec, strategy: Strategy | None = None) -> None:
        self.spec = spec
        self.strategy = strategy
        self.stop = asyncio.Event()
        self.lock = asyncio.Lock()
        self.clock = MarketClock(spec.venue.speed)
        self.trader: Trader | None = None
        self.fatal: BaseException | None = None
        self.warmed = False
        self.cache: MarketCache = open_market_cache(spec.settings, spec.venue.kind)
        self.swap_model: Callable[[], None] | None = None
        """Puts a newly promoted champion to work (an ml run that retrains live)."""

    async def run(self) -> int:
        spec = self.spec
        board = HeartbeatBoard(attach_shm(spec.heartbeat_name), owner=False)
        board.start("brain", os.getpid())
        ring = attach_ring(spec.ring_name, CANDLE_RECORD)
        settings = spec.settings
        host = urlparse(spec.venue.urls.rest).netloc
        rest = BinanceRest(
            spec.venue.urls,
            spec.venue.api_key,
            spec.venue.secret,
            shared_governor(settings, host),
            timeout_s=settings.venue.timeout_s,
            retries=settings.venue.retries,
        )
        db = create_engine(settings.effective_database_url)
        store: ResilientStore | None = None
        try:
            await migrate_or_warn(db)
            rules = await load_rules(rest)
            strategy = self.strategy or await build_strategy(settings, settings.live.strategy)
            trader = await self._trader(rest, rules, strategy)
            self.trader = trader
            market_now = await rest.market_time_ms(spec.symbols[0])  # a replay's, not the wall's
            marks = await first_marks(
                self.cache, CandleStore(db), spec.symbols, spec.interval, market_now
            )
            for symbol, mark in marks.items():
                trader.marks.setdefault(symbol, mark)
            ledger, store, recalled = await start_ledger(spec, db, trader, state_path(spec))
            learner = live_learner(settings, spec.symbols, spec.interval, settings.live.strategy)
            if learner is not None:
                trader.on_trade = lambda t: learner.on_trade_closed(t, self.clock.now_ms())
                self.swap_model = lambda: _swap_model(strategy, learner.poll(self.clock.now_ms()))
            async with UserStreamClient(rest) as stream:
                await stream.wait_connected(30)
                await reconcile_at_start(rest, trader, ledger, recalled)
                log.info(
                    "brain ready: %s on %s, %d symbols, equity %.2f USDT, %d open positions",
                    strategy.name,
                    spec.venue.kind,
                    len(spec.symbols),
                    trader.state.equity(),
                    len(trader.state.positions),
                )
                inbox: asyncio.Queue[Event] = asyncio.Queue()
                router = OrderRouter(
                    trader.executor, trader.order_of, _put_all(inbox), trader.sent_after
                )
                trader.router = router
                inputs = [
                    self._loop(self._candles(ring, CandleStore(db)), "candle"),
                    self._loop(self._timer(), "timer"),
                    self._loop(self._beat(board, ring, rest, router), "heartbeat"),
                ]
                answers = [
                    self._loop(self._account(stream), "user-stream"),
                    self._loop(self._answers(inbox), "order-answer"),
                ]
                await self.stop.wait()
                board.set_phase("brain", Phase.STOPPING)
                await cancel_all(inputs, self.lock)
                # The Feed has stopped: what is left in the ring is decided on, the orders that
                # causes go out, and their answers are heard while the stream is still open.
                async with self.lock:
                    await self._drain(ring, CandleStore(db))
                if not await router.drain(SEND_GRACE_S):
                    log.warning("%d orders still unsent at shutdown", router.pending())
                if spec.flatten:
                    now = self.clock.now_ms() or wall_ms()
                    await flatten(trader, self.lock, now, settings.live.flatten_timeout_s)
                await asyncio.sleep(0)  # let the last answers reach the inbox
                await cancel_all(answers, self.lock)
                async with self.lock:
                    while not inbox.empty():
                        await trader.apply(inbox.get_nowait())
                    trader.save(durable=True)
                    await ledger.account(trader.state, self.clock.now_ms() or wall_ms())
                await router.close()
            if learner is not None:
                await learner.aclose()
            if not await store.recover():
                log.warning(
                    "database still unreachable at shutdown: %d ledger writes stay in %s and "
                    "are replayed by the next start",
                    store.journal.pending,
                    store.journal.path,
                )
            write_latencies(state_path(spec).with_name("latency.json"), trader.all_latencies_ms)
            log.info("brain stopped: state saved (%d open positions)", len(trader.state.positions))
            board.beat("brain", phase=Phase.STOPPED)
            if self.fatal is None:
                return EXIT_OK
            return EXIT_CONFIG if isinstance(self.fatal, VenueConfigError) else 1
        finally:
            await self.cache.aclose()
            if store is not None:
                await store.aclose()
            await rest.close()
            await db.dispose()
            ring.close()
            board.close()

    async def _trader(self, rest: BinanceRest, rules: ExchangeRules, strategy: Strategy) -> Trader:
        spec = self.spec
        settings = spec.settings
        engine = Engine(rules, settings.risk, settings.fees)
        path = state_path(spec)
        saved = snapshot.load(path)
        translator = StreamTranslator()
        if saved is not None:
            state = saved.state
            translator.algo_of_order.update(saved.algo_of_order)
            log.info("brain state loaded from %s (saved at %d)", path, saved.saved_ms)
        else:
            state = engine.initial_state(usdt_wallet(await rest.account()) or Decimal(0))
            # Client ids come from the sequence: start a fresh state past any id an earlier
            # run on this account could have used.
            state = msgspec.structs.replace(state, seq=wall_ms() * 1000)
        closer = Closer(rest, ClosePolicy.from_live(settings.live))
        executor = Executor(rest, rules, {}, self.clock.now_ms, closer=closer)
        return Trader(
            engine,
            strategy,
            executor,
            state,
            state_path=path,
            venue=spec.venue.kind,
            translator=translator,
            speed=spec.venue.speed,
            stale_after_ms=interval_ms(spec.interval),
        )

    # inputs ------------------------------------------------------------------------------------
    async def _candles(self, ring: RingBuffer, store: CandleStore) -> None:
        while True:
            # Woken by the Feed's first record (the ring's doorbell), never later than 2 ms.
            batch = await ring.wait_batch_async(1.0, max_records=4096)
            if len(batch) == 0:
                continue
            async with self.lock:
                await self._feed(candles_of(batch), store, received_ns(batch))
                ledger = self.trader.ledger if self.trader is not None else None
                if ledger is not None and ring.depth() == 0:
                    await ledger.flush_signals()  # in a lull, not between a candle and its order

    async def _feed(self, candles: list[Candle], store: CandleStore, received: list[int]) -> None:
        assert self.trader is not None
        if not self.warmed:
            await self._warm(candles, store)
            # What start-up built (rules, models, every symbol's indicators) lives as long as
            # the process: frozen out of the collector's sight, a full collection no longer
            # walks it (one took 130-155 ms, the event loop stopped, with 300 symbols). No
            # collection first: it would cost as much, here, in front of the first orders.
            gc.freeze()
        for c in candles:
            self.clock.seen(c.close_time + 1)
        if self.swap_model is not None:
            self.swap_model()
        await self.trader.on_candles(candles, received)
        await remember_candles(self.cache, self.spec.interval, candles)  # after the orders

    async def _warm(self, first: list[Candle], store: CandleStore) -> None:
        """Each symbol's strategy state starts from stored history before the first candle."""
        assert self.trader is not None
        self.warmed = True
        bars = self.spec.settings.live.warmup_bars
        if bars == 0:
            return
        first_open = {c.symbol: c.open_time for c in reversed(first)}
        end = min(first_open.values())
        used = 0
        for symbol in self.spec.symbols:
            before = first_open.get(symbol, end)
            try:
                series = await store.load(symbol, self.spec.interval, None, before)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                log.warning("database unreachable: indicators start without history (%s)", exc)
                return
            if len(series) > bars:
                series = series.slice(len(series) - bars, len(series))
            used += self.trader.warm(series)
        log.info("warmed up %d symbols from %d stored candles", len(self.spec.symbols), used)

    async def _drain(self, ring: RingBuffer, store: CandleStore) -> None:
        while len(batch := ring.read_batch(4096)):
            await self._feed(candles_of(batch), store, received_ns(batch))

    async def _answers(self, inbox: asyncio.Queue[Event]) -> None:
        """Events the venue's answers carry (refusals), applied like any other input."""
        assert self.trader is not None
        while True:
            event = await inbox.get()
            async with self.lock:
                await self.trader.apply(event)

    async def _account(self, stream: UserStreamClient) -> None:
        assert self.trader is not None
        async for event in stream:
            async with self.lock:
                await self.trader.on_user_event(event)

    async def _timer(self) -> None:
        assert self.trader is not None
        wall_s = TIMER_MS / 1000 / max(self.spec.venue.speed, 1e-9)
        while True:
            await asyncio.sleep(wall_s)
            now = self.clock.now_ms()
            if now:
                async with self.lock:
                    await self.trader.on_timer(now)

    def _loop(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A Brain loop whose failure stops the Brain for a restart (`slt.runtime.tasks`)."""

        def failed(exc: BaseException) -> None:
            self.fatal = self.fatal or exc

        return loop_task(coro, name, self.stop, failed)

    async def _beat(
        self, board: HeartbeatBoard, ring: RingBuffer, rest: BinanceRest, router: OrderRouter
    ) -> None:
        trader = self.trader
        assert trader is not None
        beats = 0
        while True:
            failure = router.failed()
            if failure is not None and self.fatal is None:
                log.critical("the venue refuses this configuration, stopping: %s", failure)
                self.fatal = failure
                self.stop.set()
            st = trader.state
            p50, p99 = latency_percentiles(trader.latencies_ms)
            rates = self.cache.hit_rates()
            board.beat(
                "brain",
                equity=st.equity(),
                open_positions=len(st.positions),
                rest_weight_used=await rest.governor.used(),
                ring_depth=ring.depth(),
                candles_processed=trader.candles,
                orders_sent=trader.executor.sent,
                fills=trader.fills,
                last_candle_ms=trader.last_candle_ms,
                orders_rejected=sum(trader.executor.rejected.values()),
                latency_p50_ms=p50,
                latency_p99_ms=p99,
                cache_l1_hit_rate=rates["l1"],
                cache_l2_hit_rate=rates["l2"],
                cache_hit_rate=rates["overall"],
                close_retries=trader.executor.close_retries,
                close_alerts=trader.executor.close_alerts,
            )
            del trader.latencies_ms[:-LATENCY_WINDOW]
            beats += 1
            ledger = trader.ledger
            if ledger is not None and beats >= ACCOUNT_EVERY_BEATS and not self.lock.locked():
                # Under the lock (free: taken without waiting, so beats never wait for a step),
                # from the state of now: `st` may predate a step that closed a position, and
                # its snapshot, written after that step's rows, would show the position again.
                beats = 0
                async with self.lock:
                    await ledger.account(trader.state, self.clock.now_ms() or wall_ms())
            await asyncio.sleep(self.spec.beat_interval_s)


ACCOUNT_EVERY_BEATS = 10
"""An account snapshot goes to the ledger every this many heartbeats (10 s by default)."""
SEND_GRACE_S = 2.0
"""At shutdown, how long the orders decided on the ring's last candles may take to go out."""


def _swap_model(strategy: Strategy, promoted: object | None) -> None:
    """A promoted champion replaces the model in place: each symbol's feature state stays
    warm, and the next candle is scored by the new model (its signals name it)."""
    if promoted is not None and hasattr(strategy, "model"):
        strategy.model = promoted
        log.info("now trading with the promoted model %s", getattr(promoted, "model_id", "?"))


def _put_all(inbox: asyncio.Queue[Event]) -> Callable[[list[Event]], None]:
    def put(events: list[Event]) -> None:
        for e in events:
            inbox.put_nowait(e)

    return put


async def load_rules(rest: BinanceRest) -> ExchangeRules:
    """The venue's own filters and brackets (never the bundled capture: they change)."""
    info = await rest.exchange_info()
    brackets = brackets_from_binance_reply(await rest.leverage_brackets())
    return load_exchange_rules(info, brackets, source=f"{rest.urls.rest} exchangeInfo")


def run_brain(spec: RunSpec) -> None:
    """Process entry point, run by the Orchestrator's `child_main` (which has set up logging
    and SIGINT already) in a spawned process; the exit code is the service's."""
    sys.exit(asyncio.run(_main(spec)))


async def _main(spec: RunSpec) -> int:
    service = BrainService(spec)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, service.stop.set)
    try:
        return await service.run()
    except (VenueConfigError, NoChampionError, SnapshotError) as exc:
        # Restarting cannot fix these: exit with the code the Orchestrator does not restart.
        log.critical("brain cannot start: %s", exc)
        return EXIT_CONFIG


__all__ = ["BrainService", "MarketClock", "fetch_view", "run_brain", "state_path"]
