"""Fixtures for end-to-end runs: the local exchange on loopback, `slt run` as a real child
process (its own process group, so cleanup reaches the Feed and Brain too), and a database
of either kind.

PostgreSQL runs get a database of their own, created here and dropped afterwards (the `slt
run` child connects by URL, so a schema per test is not enough); they skip with the reason
when the server cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_FIRST_OPEN_MS, sample_files
from slt.storage import create_engine
from slt.venues.local.assemble import RunningExchange, build_local_exchange, start_local_exchange
from slt.venues.local.exchange import LocalExchange

START = SAMPLE_FIRST_OPEN_MS + 86_400_000
PG_SERVER = os.environ.get(
    "SLT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


class Run:
    """`slt run` in a child process, its log in a file."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path, data_dir: Path) -> None:
        self.proc, self.log, self.data_dir = proc, log, data_dir

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def until(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
        """The first match of `pattern` in the log (from offset `after`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text()[after:])
            if found:
                return found
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"slt run exited ({self.proc.returncode}):\n{self.text()[-4000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.text()[-4000:]}")
            await asyncio.sleep(0.2)

    def brain_pid(self) -> int:
        return int(re.findall(r"started brain, pid (\d+)", self.text())[-1])

    async def stop(self, timeout: float = 15) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)


def sample_series() -> dict[str, object]:
    series = {}
    for path in sample_files():
        s = parse_file(path).series
        series[s.symbol] = s
    return series


@contextlib.asynccontextmanager
async def local_exchange(speed: float) -> AsyncIterator[tuple[LocalExchange, RunningExchange]]:
    ex = build_local_exchange(sample_series(), speed=speed, start_ms=START)  # type: ignore[arg-type]
    running = await start_local_exchange(ex)
    try:
        yield ex, running
    finally:
        await asyncio.wait_for(running.close(), 10)


StartRun = Callable[..., Awaitable[Run]]


@pytest.fixture
async def start_slt_run(tmp_path: Path) -> AsyncIterator[StartRun]:
    """`await start_slt_run(exchange_url, speed, env={...})` starts `slt run` against it."""
    started: list[Run] = []

    async def start(exchange_url: str, speed: float, env: dict[str, str] | None = None) -> Run:
        slt = Path(sys.executable).with_name("slt")
        data_dir = tmp_path / "data"
        full = {
            **os.environ,
            "SLT_DATA_DIR": str(data_dir),
            "SLT_LIVE__REPLAY_SPEED": str(speed),
            "SLT_LIVE__STATUS_EVERY_S": "2",
        }
        full.pop("SLT_DATABASE_URL", None)
        full.pop("SLT_REDIS_URL", None)
        full.update(env or {})
        log = tmp_path / f"run{len(started)}.log"
        with open(log, "wb") as out:
            proc = await asyncio.create_subprocess_exec(
                str(slt),
                "run",
                "--exchange-url",
                exchange_url,
                env=full,
                stdout=out,
                stderr=out,
                cwd=tmp_path,
                start_new_session=True,  # its own process group: cleanup reaches the children
            )
        run = Run(proc, log, data_dir)
        started.append(run)
        return run

    try:
        yield start
    finally:
        for run in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, signal.SIGKILL)  # whatever is left, children included
            if run.proc.returncode is None:
                await run.proc.wait()


async def db_rows(url: str, query: Any) -> list[Any]:
    """The rows of `query` on the database at `url` (a short-lived engine of its own)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).mappings())
    finally:
        await engine.dispose()


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of the parametrised kind, as `SLT_DATABASE_URL` takes it."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"slt_e2e_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(_dsn(PG_SERVER), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL at {PG_SERVER} unreachable: {type(exc).__name__}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_SERVER.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(_dsn(PG_SERVER), timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
