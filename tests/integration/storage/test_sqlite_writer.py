"""The SQLite writer thread: a batch is one transaction the async engine then reads, it waits
for another process's write lock without SQLite's coarse backoff, and a
database file moved away is never written behind the caller's back."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from slt.storage import SignalOp, StartRun, TradingStore, create_engine, migrate
from slt.storage.engine import sqlite_file_twin
from slt.storage.resilient import is_unavailable

pytestmark = pytest.mark.integration


def signal(k: int) -> SignalOp:
    return SignalOp("r", "BTCUSDT", 60_000 * k, 1, 0.004, 0.7, "baseline")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TradingStore]:
    """A migrated SQLite file `tmp_path / "db" / "slt.db"` with run "r" started."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db' / 'slt.db'}")
    await migrate(engine)
    store = TradingStore(engine)
    try:
        await store.apply_many([StartRun("r", "local", 0)])
        yield store
    finally:
        await store.aclose()
        await engine.dispose()


async def test_batches_go_through_the_writer_thread_and_read_back(store: TradingStore) -> None:
    await store.apply_many([signal(k) for k in range(5)])
    assert store._writer is not None, "a SQLite file is written by the writer thread"
    assert [s.time_ms for s in await store.signals("r")] == [60_000 * k for k in range(5)]


async def test_a_moved_database_file_is_not_written_to(store: TradingStore, tmp_path: Path) -> None:
    await store.apply_many([signal(0)])
    (tmp_path / "db").rename(tmp_path / "away")  # the disk went away, the file with it
    with pytest.raises(OperationalError) as caught:
        await store.apply_many([signal(1)])
    assert is_unavailable(caught.value)
    (tmp_path / "away").rename(tmp_path / "db")
    await store.apply_many([signal(2)])
    assert [s.time_ms for s in await store.signals("r")] == [0, 120_000]


def test_only_a_sqlite_file_gets_a_twin(tmp_path: Path) -> None:
    assert sqlite_file_twin(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    assert sqlite_file_twin(create_engine("sqlite+aiosqlite:///:memory:")) is None
    assert sqlite_file_twin(create_engine("postgresql+asyncpg://u@127.0.0.1/test")) is None


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's writer in the middle of a transaction (the Feed's candle flush)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_batch_waits_for_another_writer_and_then_goes_in(
    store: TradingStore, tmp_path: Path
) -> None:
    other = hold_write_lock(tmp_path / "db" / "slt.db")
    write = asyncio.create_task(store.apply_many([signal(1), signal(2)]))
    await asyncio.sleep(0.05)
    assert not write.done(), "the batch cannot commit while another writer holds the lock"
    other.execute("COMMIT")
    other.close()
    await write
    assert [s.time_ms for s in await store.signals("r")] == [60_000, 120_000]
    assert store._writer is not None
    waits = store._writer.lock_waits
    assert waits.count == 1 and waits.longest_s >= 0.05


async def test_a_lock_held_past_the_timeout_is_an_outage_and_writes_nothing(
    store: TradingStore, tmp_path: Path
) -> None:
    assert store._writer is not None
    store._writer.lock_timeout_s = 0.05
    other = hold_write_lock(tmp_path / "db" / "slt.db")
    with pytest.raises(OperationalError) as caught:
        await store.apply_many([signal(1)])
    assert is_unavailable(caught.value), "the resilient store journals it and retries"
    other.execute("ROLLBACK")
    other.close()
    assert await store.signals("r") == []
