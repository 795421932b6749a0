"""The degraded-mode journal and ResilientStore: nothing lost, nothing written twice.

The PostgreSQL outage is real: the store talks to the server through a small TCP proxy in
this file, and stopping the proxy cuts every connection and refuses new ones while the
shared server itself keeps running. The SQLite outage moves the database's folder away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import asyncpg
import msgspec
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.storage import (
    AccountSnapshot,
    ClosePosition,
    EndRun,
    ExperienceOp,
    FillOp,
    Journal,
    JournalError,
    OrderIntent,
    OrderUpdate,
    OutcomeOp,
    PositionOp,
    ResilientStore,
    SignalOp,
    StartRun,
    TradeOp,
    TradingStore,
    WriteOp,
    create_engine,
    migrate,
)

from ...conftest import TcpProxy

pytestmark = pytest.mark.integration

PG_URL = os.environ.get(
    "SLT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
T0 = 1_764_806_400_000
MIN = 60_000


def script(run_id: str, symbols: int = 12) -> list[WriteOp]:
    """A run's writes in write-ahead order: entries with their orders, fills and positions,
    account snapshots, then exits with trades and outcomes, then the end of the run."""
    ops: list[WriteOp] = [StartRun(run_id, "sim", T0, {"symbols": symbols})]
    for k in range(symbols):
        sym, t = f"S{k:02d}USDT", T0 + k * MIN
        qty, price = Decimal(k + 1) / 1000, Decimal("100.5") + k
        entry, stop = f"slt-{2 * k:x}-EN", f"slt-{2 * k + 1:x}-SL"
        ops += [
            SignalOp(run_id, sym, t, 1 if k % 2 else -1, 0.004 + k / 1e4, 0.6, "m1"),
            ExperienceOp(run_id, sym, t, "m1", (0.1 * k, None, -1.5), 0.004 + k / 1e4),
            OrderIntent(run_id, entry, sym, "BUY", "MARKET", "EN", qty, None, False, False, 5, t),
            OrderUpdate(run_id, entry, "sent", t + 1),
            FillOp(run_id, f"{sym}:t{k}", entry, sym, "BUY", price, qty, Decimal("0.0002"), t + 2),
            OrderUpdate(run_id, entry, "accepted", t + 2),
            OrderUpdate(run_id, entry, "filled", t + 3),
            PositionOp(
                run_id,
                sym,
                "LONG",
                qty,
                price,
                t + 2,
                5,
                qty * price / 5,
                price * Decimal("0.99"),
                stop,
                None,
                t + 3,
            ),
            OrderIntent(
                run_id,
                stop,
                sym,
                "SELL",
                "STOP_MARKET",
                "SL",
                None,
                price * Decimal("0.99"),
                True,
                True,
                None,
                t + 3,
            ),
            OrderUpdate(run_id, stop, "accepted", t + 4),
            AccountSnapshot(run_id, t + 5, Decimal(1000), Decimal("1000.25"), Decimal(900), k),
        ]
    for k in range(symbols):
        sym, t = f"S{k:02d}USDT", T0 + (symbols + k) * MIN
        stop = f"slt-{2 * k + 1:x}-SL"
        pnl = Decimal(k - 5) / 7
        ops += [
            OrderUpdate(run_id, stop, "filled", t),
            OrderUpdate(run_id, stop, "sent", t + 1),  # late: must not move the status back
            ClosePosition(run_id, sym, t),
            TradeOp(
                run_id,
                sym,
                "LONG",
                T0 + k * MIN + 2,
                t,
                Decimal("100.5"),
                Decimal("99.5"),
                Decimal(1),
                5,
                pnl,
                Decimal("0.01"),
                Decimal(0),
                pnl - Decimal("0.01"),
                -0.01,
                "stop_loss",
                "m1",
            ),
            OutcomeOp(run_id, sym, T0 + k * MIN, -0.01, "stop_loss", t),
        ]
    ops.append(EndRun(run_id, T0 + 3 * symbols * MIN))
    return ops


def fresh_run() -> str:
    return f"r-{uuid.uuid4().hex[:12]}"


# -- the journal file on its own ------------------------------------------------------------
def test_append_read_round_trip_keeps_every_digit(tmp_path: Path) -> None:
    ops = script("r")
    journal = Journal(tmp_path / "j" / "journal.jsonl")
    for op in ops:
        journal.append(op)
    assert journal.pending == len(ops)
    assert journal.read() == ops
    assert Journal(journal.path).read() == ops


def test_a_torn_last_line_is_dropped_and_appends_continue(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    ops = script("r", symbols=2)
    journal = Journal(path)
    for op in ops[:5]:
        journal.append(op)
    journal.close()
    whole = msgspec.json.encode(ops[5])
    with open(path, "ab") as f:  # the process died in the middle of this write
        f.write(whole[: len(whole) // 2])
    assert not path.read_bytes().endswith(b"\n")
    reopened = Journal(path)
    assert reopened.pending == 5 and path.read_bytes().endswith(b"\n")
    reopened.append(ops[5])
    assert reopened.read() == ops[:6]


def test_an_undecodable_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    ops = script("r", symbols=1)
    path.write_bytes(b"".join(msgspec.json.encode(op) + b"\n" for op in ops[:3]) + b'{"op":\n')
    assert Journal(path).read() == ops[:3]


def test_damage_before_the_last_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    ops = script("r", symbols=1)
    lines = [msgspec.json.encode(op) for op in ops[:3]]
    path.write_bytes(lines[0] + b"\n" + b"garbage\n" + lines[1] + b"\n")
    with pytest.raises(JournalError, match="line 2 is damaged"):
        Journal(path)


# -- replay against both databases ----------------------------------------------------------
def as_run(ops: list[WriteOp], run_id: str) -> list[WriteOp]:
    return [msgspec.structs.replace(op, run_id=run_id) for op in ops]


async def test_replay_equals_direct_writes_and_runs_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    store = TradingStore(engine)
    reference, replayed = fresh_run(), fresh_run()
    for op in as_run(script("x"), reference):
        await store.apply(op)
    journal = Journal(tmp_path / "journal.jsonl")
    for op in as_run(script("x"), replayed):
        journal.append(op)
    with open(journal.path, "ab") as f:
        f.write(b'{"op":"fill","run_id":"')  # torn last line
    journal = Journal(journal.path)
    assert await journal.replay(store) == len(script("x"))
    assert journal.pending == 0 and journal.path.read_bytes() == b""
    assert await journal.replay(store) == 0
    expected = await store.export_run(reference)
    assert await store.export_run(replayed) == expected
    assert len(expected["orders"]) == 24 and expected["orders"][1]["status"] == "filled"


# -- real outages ------------------------------------------------------------------------------
class FakeClock:
    """Monotonic seconds the test moves by hand, so backoff and warning rates are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pg_proxied() -> AsyncIterator[tuple[TcpProxy, AsyncEngine, AsyncEngine]]:
    """(proxy, engine through the proxy, direct engine) on a fresh migrated schema."""
    url = make_url(PG_URL)
    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        await (await asyncpg.connect(dsn, timeout=5)).close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {exc}")
    schema = f"slt_test_{uuid.uuid4().hex[:16]}"
    direct = create_engine(url, schema=schema)
    await migrate(direct)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = create_engine(url.set(host="127.0.0.1", port=proxy.port), schema=schema)
    try:
        yield proxy, proxied, direct
    finally:
        await proxied.dispose()
        with contextlib.suppress(AssertionError):
            await proxy.stop()
        async with direct.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await direct.dispose()


def unreachable_warnings(caplog: pytest.LogCaptureFixture) -> int:
    return sum("database unreachable" in r.getMessage() for r in caplog.records)


async def outage_run(
    store: TradingStore,
    reference_store: TradingStore,
    path: Path,
    go_down: Callable[[], object],
    come_back: Callable[[], object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A third of the run with the database up, a third during an outage, then the process
    restarts (a new ResilientStore on the same journal) and writes the rest once the database
    is back. The result must equal the same run written without interruption."""
    caplog.set_level(logging.WARNING, logger="slt.storage")
    reference, run = fresh_run(), fresh_run()
    await reference_store.apply_many(as_run(script("x"), reference))
    ops = as_run(script("x"), run)
    third = len(ops) // 3
    clock = FakeClock()
    first = ResilientStore(store, Journal(path), base_delay_s=1.0, clock=clock)
    for i in range(0, third, 5):  # a step's writes go as one batch (one transaction)
        await first.apply_many(ops[i : min(i + 5, third)])
    assert not first.degraded
    await _maybe_await(go_down())
    for op in ops[third : 2 * third]:
        clock.now += 0.5  # 0.5 s per write: a minute of outage for 120 writes
        await first.apply(op)  # never raises
    assert first.degraded and first.journal.pending == third
    assert first.failures >= 2  # retried with backoff, not on every write
    assert unreachable_warnings(caplog) == 1 + int(third * 0.5 // 60)
    assert not await first.recover()
    await first.aclose()  # the process stops with its journal on disk

    await _maybe_await(come_back())
    second = ResilientStore(store, Journal(path), clock=clock)
    assert second.degraded and second.journal.pending == third
    rest = ops[2 * third :]
    await second.apply(rest[0])  # replays the journal before itself
    for i in range(1, len(rest), 4):
        await second.apply_many(rest[i : i + 4])
    assert not second.degraded and second.replayed == third
    assert path.read_bytes() == b""
    assert await reference_store.export_run(run) == await reference_store.export_run(reference)
    await second.aclose()


async def _maybe_await(value: object) -> None:
    if asyncio.iscoroutine(value):
        await value


async def test_postgres_outage_loses_nothing(
    pg_proxied: tuple[TcpProxy, AsyncEngine, AsyncEngine],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy, proxied, direct = pg_proxied
    await outage_run(
        TradingStore(proxied),
        TradingStore(direct),
        tmp_path / "journal.jsonl",
        proxy.stop,
        proxy.start,
        caplog,
    )


async def test_sqlite_outage_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "db"
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'slt.db'}")
    await migrate(engine)
    away = tmp_path / "db-away"

    async def go_down() -> None:
        await engine.dispose()
        folder.rename(away)
        folder.write_bytes(b"not a folder")  # the database path cannot be opened now

    def come_back() -> None:
        folder.unlink()
        away.rename(folder)

    try:
        store = TradingStore(engine)
        await outage_run(store, store, tmp_path / "journal.jsonl", go_down, come_back, caplog)
    finally:
        await engine.dispose()


async def test_background_retry_drains_the_journal(
    pg_proxied: tuple[TcpProxy, AsyncEngine, AsyncEngine], tmp_path: Path
) -> None:
    proxy, proxied, direct = pg_proxied
    store = ResilientStore(
        TradingStore(proxied), Journal(tmp_path / "journal.jsonl"), base_delay_s=0.05
    )
    store.start()
    run = fresh_run()
    ops = as_run(script("x", symbols=2), run)
    await proxy.stop()
    await store.apply_many(ops)  # the whole batch journaled, by one fsync
    assert store.journal.pending == len(ops)
    assert store.journal.read() == ops
    await proxy.start()
    for _ in range(200):
        if not store.degraded:
            break
        await asyncio.sleep(0.05)
    assert not store.degraded
    await store.aclose()
    reference = fresh_run()
    await TradingStore(direct).apply_many(as_run(ops, reference))
    assert await TradingStore(direct).export_run(run) == await TradingStore(direct).export_run(
        reference
    )
