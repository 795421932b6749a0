"""`run_feed` in a real spawned process, as the Orchestrator starts it: against the local
exchange on 127.0.0.1 (served by this test's event loop), it stamps the heartbeat board,
publishes closed candles into the shared ring, and on SIGTERM stops with exit code 0 and its
slot marked STOPPED."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from pathlib import Path

from slt.config import Settings
from slt.ipc import candles_of
from slt.runtime.feed_process import run_feed
from slt.runtime.heartbeat import HeartbeatBoard, Phase
from slt.runtime.spec import RunSpec, VenueSpec
from slt.venues.binance.urls import local
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET

from ..unit.feed.feed_helpers import SYMBOLS, expected, rig, wait_for

START_TIMEOUT = 60.0
"""A spawned interpreter imports the whole stack first: generous on a loaded machine."""


async def test_run_feed_publishes_and_stops_on_sigterm(tmp_path: Path) -> None:
    board = HeartbeatBoard.create()
    async with rig(tmp_path) as r:
        settings = Settings(data_dir=tmp_path, database_url=None)
        venue = VenueSpec("local", local(r.served.port), DEFAULT_API_KEY, DEFAULT_API_SECRET, 0)
        spec = RunSpec(
            settings, venue, SYMBOLS, "1m", r.ring.name, r.ring.capacity, board.name,
            beat_interval_s=0.05,
        )  # fmt: skip
        proc = multiprocessing.get_context("spawn").Process(target=run_feed, args=(spec,))
        proc.start()
        try:
            await wait_for(lambda: board.read("feed").phase is Phase.RUNNING, START_TIMEOUT)
            await wait_for(lambda: len(r.hub.subs) == len(SYMBOLS), START_TIMEOUT)
            await r.step(1)
            await r.collect(len(SYMBOLS))
            assert proc.pid is not None
            os.kill(proc.pid, signal.SIGTERM)
            await asyncio.to_thread(proc.join, START_TIMEOUT)
        finally:
            if proc.is_alive():
                proc.kill()
                proc.join()
        assert proc.exitcode == 0
        beat = board.read("feed")
        assert beat.phase is Phase.STOPPED and beat.pid == proc.pid
        assert beat.stats["candles_published"] == len(SYMBOLS)
        assert beat.stats["symbols_live"] == 0 and beat.stats["malformed"] == 0
        assert sorted(r.got, key=lambda c: c.symbol) == [expected(s, 0) for s in SYMBOLS]
        assert candles_of(r.ring.read_batch()) == []
    board.close()
