"""The suite's guard against aiosqlite connections left open (`no_aiosqlite_connection_left_open`
in tests/conftest.py) finds them by their worker thread's name: if aiosqlite ever named its
threads otherwise, the guard would pass everything, so these tests check that it still sees
the thread of an open connection, and that disposing the engine ends it."""

from __future__ import annotations

from pathlib import Path

from slt.storage import CandleStore, create_engine, migrate

from ...conftest import aiosqlite_workers


async def test_an_open_connection_has_a_worker_the_guard_sees(tmp_path: Path) -> None:
    before = aiosqlite_workers()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}")
    try:
        await migrate(engine)
        assert await CandleStore(engine).count("BTCUSDT", "1m") == 0
        assert aiosqlite_workers() - before  # the pooled connection's thread
    finally:
        await engine.dispose()
    for thread in aiosqlite_workers() - before:
        thread.join(5.0)
    assert not aiosqlite_workers() - before


async def test_a_store_used_after_dispose_opens_a_connection_again(tmp_path: Path) -> None:
    """Why a test must query a store before its rig disposes the engine, not after: a disposed
    engine starts a new pool, and that connection is open until the engine is disposed again."""
    before = aiosqlite_workers()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}")
    try:
        await migrate(engine)
        await engine.dispose()
        assert await CandleStore(engine).count("BTCUSDT", "1m") == 0
        assert aiosqlite_workers() - before
    finally:
        await engine.dispose()
