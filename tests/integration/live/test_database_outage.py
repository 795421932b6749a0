"""PostgreSQL unreachable in the middle of a run: the Brain trades on, journals its ledger, replays
it when the database is back, and the database ends up with exactly the rows of an identical
run that never lost it.

The Brain reaches PostgreSQL through a TCP proxy the test stops and starts (the shared server
itself keeps running). Both runs replay the same candles, one at a time, against a fresh local
exchange whose clock follows them, with a strategy that signals on fixed candles and a short
holding limit, and wait for the Brain to settle after each candle, so the two runs make the same
decisions and the row counts must agree exactly. Account snapshots are written by the clock,
not by events, and are left out of the comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from slt.config import load_settings
from slt.data.sample import SAMPLE_FIRST_OPEN_MS
from slt.domain import Candle, CandleSeries, Signal
from slt.ipc import RingBuffer
from slt.ipc.records import CANDLE_RECORD, candle_bytes
from slt.runtime.brain_process import BrainService
from slt.runtime.heartbeat import HeartbeatBoard
from slt.runtime.spec import RunSpec, VenueSpec
from slt.storage import create_engine
from slt.storage.trading_schema import experience, fills, live_trades, orders, positions, signals
from slt.strategy.base import SignalColumns
from slt.venues.binance.urls import local
from slt.venues.local.assemble import build_local_exchange, start_local_exchange
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET

from ...conftest import TcpProxy

START = SAMPLE_FIRST_OPEN_MS + 86_400_000
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CANDLES = 36
DOWN, UP = 8, 24  # the database is away from the 8th candle to the 24th
TABLES = {
    "orders": orders,
    "fills": fills,
    "positions": positions,
    "trades": live_trades,
    "signals": signals,
    "experience": experience,
}


class EverySixth:
    """Long BTCUSDT on every sixth candle it sees (the same candles in every run)."""

    name = "test-every-sixth"

    def batch(self, series: CandleSeries) -> SignalColumns:
        raise NotImplementedError

    def incremental(self, symbol: str) -> EverySixth._State:
        return EverySixth._State(symbol)

    class _State:
        def __init__(self, symbol: str) -> None:
            self.symbol, self.seen = symbol, 0

        def update(self, candle: Candle) -> Signal | None:
            self.seen += 1
            if self.seen % 6 != 1:
                return None
            return Signal(self.symbol, candle.close_time + 1, 1, 0.01, 1.0, 0.004, "test")


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        admin = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}: {exc}")
    name = f"slt_outage_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _settled(brain: BrainService, close_ms: int) -> None:
    """Until the Brain has taken the candle and nothing moves for a moment (orders sent, fills
    heard, the book) — the next candle then meets the same state in every run."""
    async with asyncio.timeout(20):
        while brain.trader is None or brain.trader.last_candle_ms < close_ms:
            await asyncio.sleep(0.01)
        trader = brain.trader
        last, quiet_since = None, time.monotonic()
        while time.monotonic() - quiet_since < 0.4:
            st = trader.state
            now = (trader.executor.sent, trader.fills, st.orders, st.positions, st.pending)
            if now != last:
                last, quiet_since = now, time.monotonic()
            await asyncio.sleep(0.02)


async def _run(tmp_path: Path, db_url: str, btc: CandleSeries, proxy: TcpProxy | None) -> int:
    """One scripted run; returns how many trades closed while the database was away."""
    ex = build_local_exchange({"BTCUSDT": btc}, speed=0, start_ms=START)
    running = await start_local_exchange(ex)
    ring = RingBuffer.create(None, 1024, CANDLE_RECORD)
    board = HeartbeatBoard.create()
    settings = load_settings(
        data_dir=tmp_path,
        database_url=db_url,
        live={"warmup_bars": 0},
        risk={"max_hold_ms": 180_000, "signal_reversal_exit": False, "cooldown_ms": 0},
    )
    venue = VenueSpec("local", local(running.port), DEFAULT_API_KEY, DEFAULT_API_SECRET)
    spec = RunSpec(
        settings, venue, ("BTCUSDT",), "1m", ring.name, ring.capacity, board.name, run_id="o"
    )
    brain = BrainService(spec, strategy=EverySixth())
    task = asyncio.create_task(brain.run())
    closed_while_down = 0
    try:
        async with asyncio.timeout(20):
            while brain.trader is None or board.read("brain").beats == 0:
                await asyncio.sleep(0.02)
        first = int((START - btc.open_time[0]) // 60_000)
        for k in range(CANDLES):
            if proxy is not None and k == DOWN:
                await proxy.stop()
                trades_at_down = len(brain.trader.executor.trades)  # type: ignore[union-attr]
            if proxy is not None and k == UP:
                closed_while_down = len(brain.trader.executor.trades) - trades_at_down  # type: ignore[union-attr]
                await proxy.start()
            candle = btc.candle(first + k)
            ex.clock.advance_to(candle.close_time + 1)
            assert ring.write(candle_bytes(candle))
            await _settled(brain, candle.close_time + 1)
        brain.stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    finally:
        if not task.done():
            task.cancel()
        await asyncio.wait_for(running.close(), 10)
        ring.close()
        board.close()
    return closed_while_down


async def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                name: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
                for name, t in TABLES.items()
            }
    finally:
        await engine.dispose()


async def test_an_outage_mid_run_is_journaled_replayed_and_matches_a_run_without_it(
    tmp_path: Path, btc: CandleSeries
) -> None:
    server = make_url(PG_URL)
    async with fresh_database() as reference_db, fresh_database() as outage_db:
        reference_url = str(server.set(database=reference_db))
        await _run(tmp_path / "reference", reference_url, btc, None)

        proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
        await proxy.start()
        try:
            proxied = str(server.set(host="127.0.0.1", port=proxy.port, database=outage_db))
            closed_while_down = await _run(tmp_path / "outage", proxied, btc, proxy)
        finally:
            with contextlib.suppress(AssertionError):
                await proxy.stop()
        expected = await _counts(reference_url)
        got = await _counts(str(server.set(database=outage_db)))

    assert closed_while_down >= 1, "no trade closed while the database was away"
    assert expected["trades"] >= 4 and expected["orders"] > 10, expected
    assert got == expected
    journal = tmp_path / "outage" / "live" / "local-o" / "ledger-journal.jsonl"
    assert journal.exists() and journal.read_bytes() == b"", "the journal was not drained"
