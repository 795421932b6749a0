"""The SQLite writer thread: a batch is one transaction the async engine then reads, and a
database file moved away is never written behind the caller's back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from slt.storage import SignalOp, StartRun, TradingStore, create_engine, migrate
from slt.storage.engine import sqlite_file_twin
from slt.storage.resilient import is_unavailable

pytestmark = pytest.mark.integration


def signal(k: int) -> SignalOp:
    return SignalOp("r", "BTCUSDT", 60_000 * k, 1, 0.004, 0.7, "baseline")


async def test_batches_go_through_the_writer_thread_and_read_back(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}")
    await migrate(engine)
    store = TradingStore(engine)
    try:
        await store.apply_many([StartRun("r", "local", 0), *(signal(k) for k in range(5))])
        assert store._writer is not None, "a SQLite file is written by the writer thread"
        assert [s.time_ms for s in await store.signals("r")] == [60_000 * k for k in range(5)]
    finally:
        await store.aclose()
        await engine.dispose()


async def test_a_moved_database_file_is_not_written_to(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'slt.db'}")
    await migrate(engine)
    store = TradingStore(engine)
    try:
        await store.apply_many([StartRun("r", "local", 0), signal(0)])
        folder.rename(tmp_path / "away")  # the disk went away, the file with it
        with pytest.raises(OperationalError) as caught:
            await store.apply_many([signal(1)])
        assert is_unavailable(caught.value)
        (tmp_path / "away").rename(folder)
        await store.apply_many([signal(2)])
        assert [s.time_ms for s in await store.signals("r")] == [0, 120_000]
    finally:
        await store.aclose()
        await engine.dispose()


def test_only_a_sqlite_file_gets_a_twin(tmp_path: Path) -> None:
    assert sqlite_file_twin(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    assert sqlite_file_twin(create_engine("sqlite+aiosqlite:///:memory:")) is None
    assert sqlite_file_twin(create_engine("postgresql+asyncpg://u@127.0.0.1/test")) is None
