"""Heartbeats reach the database for `slt status`: the rows built from the board, the
persister on a real SQLite file, a database that is not there (no exception, no wait, one
warning a minute), and a whole Orchestrator run with stand-in children."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy.exc import OperationalError

from slt.runtime.children import ProcessPlan
from slt.runtime.heartbeat import Beat, Phase
from slt.runtime.orchestrator import Orchestrator
from slt.runtime.spec import RunSpec
from slt.runtime.status import ChildView, HeartbeatPersister, heartbeat_rows
from slt.runtime.supervisor import EXIT_OK, SupervisorPolicy
from slt.storage import create_engine
from slt.storage.heartbeats import HeartbeatRow, read_heartbeats

NOW = 1_700_000_000_000
MakeSpec = Callable[..., RunSpec]


def test_rows_copy_the_board_and_name_the_gaps() -> None:
    brain = Beat("brain", 11, NOW - 60_000, NOW - 800, 60, Phase.RUNNING, {"equity": 1000.5})
    views = {
        "feed": ChildView("feed", None, 2, None),
        "brain": ChildView("brain", 11, 1, brain, NOW - 61_000),
    }
    feed_row, brain_row = heartbeat_rows("run-1", views, NOW)
    assert brain_row == HeartbeatRow(
        "run-1", "brain", 11, "RUNNING", NOW - 60_000, NOW - 800, 60, 1, NOW, {"equity": 1000.5}
    )
    assert (feed_row.role, feed_row.pid, feed_row.phase, feed_row.beat_ms) == (
        "feed",
        0,
        "WAITING",
        0,
    )
    (starting,) = heartbeat_rows("run-1", {"feed": ChildView("feed", 12, 0, None, NOW - 500)}, NOW)
    assert (starting.phase, starting.started_ms, starting.age_ms(NOW)) == (
        "STARTING",
        NOW - 500,
        500,
    )


def _row(role: str = "brain", beat_ms: int = NOW) -> HeartbeatRow:
    return HeartbeatRow(
        "run-1", role, 11, "RUNNING", NOW - 1_000, beat_ms, 5, 0, beat_ms, {"fills": 2.0}
    )


async def _stored(url: str, run_id: str = "run-1") -> list[HeartbeatRow]:
    engine = create_engine(url)
    try:
        return await read_heartbeats(engine, run_id)
    finally:
        await engine.dispose()


async def test_the_persister_writes_in_the_background_and_drops_while_busy(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}"
    persister = HeartbeatPersister(url)
    assert persister.submit([_row()])
    assert not persister.submit([_row(beat_ms=NOW + 1)])  # the first is still running
    await persister.flush()
    await persister.close()
    assert persister.written == 1 and persister.dropped == 1 and persister.failures == 0
    assert await _stored(url) == [_row()]

    again = HeartbeatPersister(url)
    assert await again.write([_row(beat_ms=NOW + 5_000)])
    await again.close([_row("feed")])
    assert [(r.role, r.beat_ms) for r in await _stored(url)] == [
        ("brain", NOW + 5_000),
        ("feed", NOW),
    ]


async def test_an_absent_database_never_raises_nor_waits_and_warns_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    clock = [NOW]
    persister = HeartbeatPersister(
        "postgresql://postgres@127.0.0.1:1/none", timeout_s=2.0, clock=lambda: clock[0]
    )
    began = time.monotonic()
    for step in range(4):  # 0, 20, 40 s: one warning; 60 s: the next
        clock[0] = NOW + step * 20_000
        assert not await persister.write([_row()])
    assert time.monotonic() - began < 8
    assert persister.failures == 4 and persister.warnings == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "cannot store heartbeats" in warnings[0] and "127.0.0.1:1" in warnings[0]
    assert "4 failed so far" in warnings[1]
    await persister.close([_row()])  # no final write to a database known to be down
    assert persister.failures == 4


async def test_a_slow_database_is_given_up_after_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # accepts the connection and never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    persister = HeartbeatPersister(f"postgresql://postgres@127.0.0.1:{port}/x", timeout_s=0.3)
    try:
        began = time.monotonic()
        assert not await persister.write([_row()])
        assert time.monotonic() - began < 3
        assert persister.failures == 1
        stopping = HeartbeatPersister(persister.url, timeout_s=30)
        assert stopping.submit([_row()])
        await asyncio.sleep(0.05)
        began = time.monotonic()
        await stopping.close([_row()], timeout_s=0.3)  # cancels the write, bounds the last one
        assert time.monotonic() - began < 3 and stopping.failures == 1
    finally:
        await persister.close()
        server.close()


async def test_an_orchestrated_run_leaves_each_process_heartbeat_in_the_database(
    make_spec: MakeSpec, standins: ModuleType
) -> None:
    spec = make_spec()
    plans = [ProcessPlan("feed", standins.feed), ProcessPlan("brain", standins.brain)]
    policy = SupervisorPolicy(poll_s=0.05, start_grace_s=60, stuck_after_s=30, status_every_s=60)
    orchestrator = Orchestrator(spec, plans, policy, persist_every_s=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(orchestrator.run(stop))
    url = spec.settings.effective_database_url
    deadline = time.monotonic() + 60

    async def running() -> dict[str, HeartbeatRow]:
        try:
            rows = {r.role: r for r in await _stored(url, spec.ledger_run_id)}
        except OperationalError:  # the Orchestrator has not created the table yet
            return {}
        return rows if all(r.phase == "RUNNING" for r in rows.values()) else {}

    seen: dict[str, HeartbeatRow] = {}
    while len(seen) < 2:
        assert time.monotonic() < deadline, "no RUNNING heartbeat rows for both processes"
        await asyncio.sleep(0.1)
        seen = await running()
    assert seen["brain"].stats["equity"] == 1000.5 and seen["feed"].stats["symbols_live"] == 3
    assert seen["brain"].pid > 0 and seen["brain"].beat_ms > 0

    stop.set()
    assert await asyncio.wait_for(task, 60) == EXIT_OK
    final = {r.role: r for r in await _stored(url, spec.ledger_run_id)}
    assert {r.phase for r in final.values()} == {"STOPPED"}
    assert final["brain"].stats["equity"] == 1000.5
