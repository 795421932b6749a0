"""The Feed's imperative shell: kline streams in, checked closed candles out to the ring.

`FeedService.run(stop)` is the whole Feed process minus the process plumbing
(`slt.runtime.feed_process.run_feed` adds logging, signals and the shared-memory blocks), so
tests run it in-process against the local exchange and a real ring. Per closed candle, in the
order the stream client yields them (open-time order per symbol):

1. on a symbol's first candle, seed the firewall from the last stored candle before it, so
   the monotonic and jump checks hold across a restart;
2. if candles are missing since the last accepted one, fill them: the store first, REST
   klines only when allowed (`backfill`); each fill candle goes through step 3 too, oldest
   first, so the Brain sees the symbol's candles in order;
3. the data firewall (`firewall.Firewall`): a rejected candle is counted by reason, logged in
   aggregate, and dropped; the Feed goes on;
4. publish to the ring (a full ring is an overrun: counted and logged, never a crash) and
   buffer the candle for the store, written in batches by a background task. The batch is
   written in a lull, once no candle was published for `flush_quiet_s`: right after a burst
   of closes the Brain is committing the orders they caused, and on SQLite a candle write
   holding the database's one write lock would make that commit wait.

Every `beat_interval_s` the heartbeat board gets the stats named in
`slt.runtime.heartbeat.STATS["feed"]`; every `report_interval_s` one INFO line sums up what
went wrong meanwhile (never one line per bad frame). On stop, the streams are closed, the
candles already assembled are still published, and the store buffer is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from slt.domain import Candle
from slt.domain.candle import interval_ms
from slt.feed.backfill import CandleWriter, KlineSource, load_stored
from slt.feed.firewall import Firewall
from slt.feed.gaps import Gap, GapCounts, fill_plan, gap_between
from slt.ipc import RingBuffer
from slt.ipc.records import candle_bytes
from slt.runtime.heartbeat import HeartbeatBoard, Phase
from slt.runtime.tasks import loop_task
from slt.storage import CandleStore
from slt.venues.binance.ws import MarketStreamClient, WsClientConfig

log = logging.getLogger(__name__)
FILLED_NS = 1
"""The receipt stamp of a gap-filled candle (see `_accept`)."""
ROLE = "feed"


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """What the Feed subscribes to and how it paces its side work (seconds, counts)."""

    symbols: tuple[str, ...]
    interval: str
    ws: WsClientConfig = field(default_factory=WsClientConfig)
    rest_fallback: bool = False
    """Fill gaps the store cannot from REST klines (`DISABLE_REST_FALLBACK=false`)."""
    max_fill_candles: int = 1500
    """Largest gap filled (and how far back a restart looks for a stored candle)."""
    store_timeout_s: float = 10.0
    flush_interval_s: float = 5.0
    flush_quiet_s: float = 0.25
    """A flush waits until no candle was published for this long (module docstring), at most
    `flush_interval_s` more."""
    beat_interval_s: float = 1.0
    report_interval_s: float = 60.0
    max_jump: float = 0.2


class FeedService:
    """The Feed (module docstring). `run(stop)` returns once `stop` is set and the last
    candles are published; it raises only on a configuration error."""

    def __init__(
        self,
        config: FeedConfig,
        ring: RingBuffer,
        *,
        store: CandleStore | None = None,
        rest: KlineSource | None = None,
        board: HeartbeatBoard | None = None,
        client: MarketStreamClient | None = None,
    ) -> None:
        self.config = config
        self.ring = ring
        self.store = store
        self.rest = rest if config.rest_fallback else None
        self.board = board
        self.step_ms = interval_ms(config.interval)
        self.client = client or MarketStreamClient(config.symbols, [config.interval], config.ws)
        self.firewall = Firewall(config.symbols, self.step_ms, max_jump=config.max_jump)
        self.writer = CandleWriter(store, config.interval) if store is not None else None
        self.gaps = GapCounts()
        self.published = 0
        self.overruns = 0
        self.last_published: dict[str, int] = {}
        self._seeded: set[str] = set()
        self._announced = False
        self._reported: Counter[str] = Counter()
        self._gap_lines = 0
        self._published_at = 0.0

    # the stats of the heartbeat --------------------------------------------------------------
    def stats(self) -> dict[str, float]:
        c = self.client.counters
        return {
            "symbols_live": float(self.client.live_streams()),
            "candles_published": float(self.published),
            "rejected": float(sum(self.firewall.rejected.values())),
            "malformed": float(c.malformed_total),
            "gaps_filled": float(self.gaps.filled),
            "close_lag_p99_ms": float(c.close_lag.p99_ms),
            "reconnects": float(c.reconnects),
            "ring_overruns": float(self.overruns),
            "rest_weight_used": float(self.rest.weight_used if self.rest is not None else 0),
        }

    # the run ---------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        await self.client.start()
        failed: list[BaseException] = []  # a side loop's error: stop, then raise it

        def every(seconds: float, action: Callable[[], object], name: str) -> asyncio.Task[None]:
            return loop_task(self._every(seconds, action), name, stop, failed.append)

        side = [every(self.config.beat_interval_s, self._beat, "heartbeat")]
        side.append(every(self.config.report_interval_s, self._report, "report"))
        if self.writer is not None:
            side.append(loop_task(self._flush_in_lulls(), "candle-flush", stop, failed.append))
        stopping = asyncio.create_task(stop.wait())
        getter: asyncio.Task[Candle] | None = None
        try:
            while not stop.is_set():
                if getter is None:
                    getter = asyncio.create_task(self.client.next_candle())
                await asyncio.wait(
                    [getter, stopping],
                    timeout=self.config.beat_interval_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                failure = self.client.failure()
                if failure is not None:  # a configuration error (a bad URL): stop, say why
                    raise failure
                if getter.done():
                    candle, getter = getter.result(), None
                    await self.handle(candle)
                    # The rest of a burst is already queued: take it without a task and a
                    # wait per candle (that bookkeeping cost more than handling the candle).
                    for candle in self.client.pending():
                        await self.handle(candle)
        finally:
            stopping.cancel()
            if getter is not None and not getter.done():
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
            elif getter is not None and not getter.cancelled():
                await self.handle(getter.result())
            if self.board is not None:
                self.board.set_phase(ROLE, Phase.STOPPING)
            await self.client.stop()
            for candle in self.client.pending():
                await self.handle(candle)
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)
            await self._flush()
            self._report()
            self._beat(Phase.STOPPED)
        if failed:
            raise failed[0]

    async def _every(self, seconds: float, action: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(seconds)
            result = action()
            if asyncio.iscoroutine(result):
                await result

    def _beat(self, phase: Phase = Phase.RUNNING) -> None:
        if not self._announced and self.client.connected and all(self.client.connected):
            self._announced = True
            n = len(self.client.connected)
            log.info(
                "feed connected: %d symbols over %d connection%s",
                len(self.config.symbols),
                n,
                "" if n == 1 else "s",
            )
        if self.board is not None:
            self.board.beat(ROLE, None, phase, **self.stats())

    async def _flush_in_lulls(self) -> None:
        """Every `flush_interval_s`, flush once the stream is quiet (module docstring)."""
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.flush_interval_s)
            give_up = time.monotonic() + cfg.flush_interval_s
            while (quiet := time.monotonic() - self._published_at) < cfg.flush_quiet_s:
                if time.monotonic() >= give_up:
                    break  # never quiet (a catch-up): flush all the same
                await asyncio.sleep(cfg.flush_quiet_s - quiet)
            await self._flush()

    async def _flush(self) -> None:
        if self.writer is not None:
            await self.writer.flush()

    def _report(self) -> None:
        """One line for everything that went wrong since the last report (if anything)."""
        c = self.client.counters
        now: Counter[str] = Counter()
        for reason, n in self.firewall.rejected.items():
            now[f"rejected:{reason}"] = n
        for reason, n in c.malformed.items():
            now[f"malformed:{reason}"] = n
        now["duplicates"] = c.duplicates
        now["out_of_order"] = c.out_of_order
        now["late_finals"] = c.late_finals
        now["ring_overruns"] = self.overruns
        now["unfilled_candles"] = self.gaps.unfilled
        now["filled_from_store"] = self.gaps.from_store
        now["filled_from_rest"] = self.gaps.from_rest
        delta = {k: v - self._reported[k] for k, v in now.items() if v > self._reported[k]}
        self._reported = now
        self._gap_lines = 0
        if delta:
            parts = ", ".join(f"{k}={v}" for k, v in sorted(delta.items()))
            log.info("feed since last report: %s", parts)

    # one candle ------------------------------------------------------------------------------
    async def handle(self, candle: Candle) -> None:
        """Seed, fill, check, publish one closed candle (module docstring). Never raises on
        bad data."""
        recv_ns = time.time_ns()
        symbol = candle.symbol
        if symbol not in self._seeded and symbol in self.firewall.symbols:
            self._seeded.add(symbol)
            await self._seed(candle)
        prev = self.firewall.last(symbol)
        gap = gap_between(symbol, prev[0] if prev else None, candle.open_time, self.step_ms)
        if gap is not None:
            await self._fill(gap)
        self._accept(candle, recv_ns=recv_ns)

    def _accept(self, candle: Candle, persist: bool = True, recv_ns: int = FILLED_NS) -> bool:
        """Check and publish; `recv_ns` is when the closing frame was handled (the Brain's
        latency and staleness clock). Gap fills carry `FILLED_NS`, the distant past: they
        update the Brain's indicators but are never fresh enough to open a position on."""
        if not self.firewall.check(candle).ok:
            return False
        if self.ring.write(candle_bytes(candle, recv_ns)):
            self._published_at = time.monotonic()
            self.published += 1
            self.last_published[candle.symbol] = candle.open_time
        else:
            self.overruns += 1
            if self.overruns == 1 or self.overruns % 1000 == 0:
                log.warning("ring full: %d candles not published so far", self.overruns)
        if persist and self.writer is not None:
            self.writer.add(candle)
        return True

    async def _seed(self, candle: Candle) -> None:
        """The firewall's reference for a symbol seen first: its last stored candle before
        this one, within `max_fill_candles` (older data says nothing about the price now)."""
        if self.store is None:
            return
        start = candle.open_time - self.config.max_fill_candles * self.step_ms
        stored = await load_stored(
            self.store, candle.symbol, self.config.interval, start, candle.open_time,
            self.config.store_timeout_s,
        )  # fmt: skip
        if stored:
            self.firewall.check(stored[-1])

    async def _fill(self, gap: Gap) -> None:
        """Publish what the store (then REST, if allowed) has of `gap`, oldest first."""
        limit = self.config.max_fill_candles
        self.gaps.gaps += 1
        self.gaps.missing += gap.count
        if gap.count > limit:  # only the newest part: the Brain needs recent history most
            self.gaps.unfilled += gap.count - limit
            gap = Gap(gap.symbol, gap.last - (limit - 1) * gap.step_ms, gap.last, gap.step_ms)
        found: list[Candle] = []
        still = [gap]
        if self.store is not None:
            stored = await load_stored(
                self.store, gap.symbol, self.config.interval, gap.first, gap.end_ms,
                self.config.store_timeout_s,
            )  # fmt: skip
            found, still = fill_plan(gap, stored)
        from_store = {c.open_time for c in found}
        if still and self.rest is not None:
            fetched: list[Candle] = []
            for part in still:
                try:
                    fetched += await self.rest.klines(
                        gap.symbol, self.config.interval, part.first, part.end_ms
                    )
                except Exception as exc:  # REST trouble leaves the gap open, never stops us
                    log.warning("REST klines for %s failed (%s); gap left open", gap.symbol, exc)
                    break
            more, still = fill_plan(gap, [*found, *fetched])
            found = more
        accepted = {"store": 0, "rest": 0}
        for c in found:
            stored_already = c.open_time in from_store
            if self._accept(c, persist=not stored_already):
                accepted["store" if stored_already else "rest"] += 1
        self.gaps.from_store += accepted["store"]
        self.gaps.from_rest += accepted["rest"]
        self.gaps.unfilled += gap.count - accepted["store"] - accepted["rest"]
        self._log_gap(gap, accepted)

    def _log_gap(self, gap: Gap, accepted: dict[str, int]) -> None:
        self._gap_lines += 1
        if self._gap_lines > 5:  # a reconnect gaps every symbol at once: the report sums up
            if self._gap_lines == 6:
                log.info("more gaps being filled; the next report sums them up")
            return
        log.info(
            "gap of %d %s candles of %s filled: %d from store, %d from REST, %d missing",
            gap.count,
            self.config.interval,
            gap.symbol,
            accepted["store"],
            accepted["rest"],
            gap.count - accepted["store"] - accepted["rest"],
        )
