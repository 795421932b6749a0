"""Shared fixtures. Real market data lives in ../shared/data beside the repository (CI has it);
tests that need it skip with a clear reason where it is absent, as in a user's clone."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_FIRST_OPEN_MS, sample_files
from slt.domain import CandleSeries
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.urls import local
from slt.venues.local.assemble import build_local_exchange, start_local_exchange
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

REDIS_URL = os.environ.get("SLT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
"""The test Redis (db 15 by default, away from a user's data)."""

VENUE_START_MS = SAMPLE_FIRST_OPEN_MS + 86_400_000 + 30_000
"""Where the `venue` fixture's exchange clock stands: a day into the bundled sample (so a day
of history lies behind it) and half a minute into a candle."""


AIOSQLITE_WORKER = "(_connection_worker_thread)"
"""How the name of an aiosqlite connection's worker thread ends: aiosqlite leaves the name
`threading` gives, "Thread-7 (_connection_worker_thread)"."""


def aiosqlite_workers() -> set[threading.Thread]:
    """The worker threads of the aiosqlite connections open in this process."""
    return {t for t in threading.enumerate() if t.name.endswith(AIOSQLITE_WORKER)}


@pytest.fixture(autouse=True)
def no_aiosqlite_connection_left_open() -> Iterator[None]:
    """Fail the test that leaves an aiosqlite connection open (an engine not disposed, a store
    used after its engine was). Left to the garbage collector, the connection stops its worker
    thread from a later test, and the thread then reports to an event loop already closed: a
    `PytestUnhandledThreadExceptionWarning` now and then, blamed on an innocent test. Set up
    before and so torn down after every other fixture of the test, async ones included."""
    before = aiosqlite_workers()
    yield
    left = []
    for thread in aiosqlite_workers() - before:
        thread.join(1.0)  # a closed connection's thread is ending; an open one's waits
        if thread.is_alive():
            left.append(thread.name)
    if left:
        pytest.fail(
            f"{len(left)} aiosqlite connection(s) left open ({', '.join(sorted(left))}): "
            "dispose the engine (try/finally, async with) and do not query it afterwards"
        )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data, or skip the test when the shared folder is not beside the repo."""
    if not (SHARED_DATA / "market").is_dir():
        pytest.skip(
            f"real market data not found at {SHARED_DATA} (only present in CI/dev checkouts)"
        )
    return SHARED_DATA


def redis_answers(url: str = REDIS_URL) -> bool:
    """Whether a Redis server answers a PING at `url` (tests needing one skip otherwise).
    Synchronous, so that it works inside a running event loop as well as outside one."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def btc() -> CandleSeries:
    """BTCUSDT 1m candles from the sample the package ships (no ../shared needed)."""
    for path in sample_files():
        series = parse_file(path).series
        if series.symbol == "BTCUSDT":
            return series
    raise AssertionError("BTCUSDT is in the bundled sample")


@pytest.fixture
async def venue(btc: CandleSeries) -> AsyncIterator[tuple[LocalExchange, BinanceRest]]:
    """A local exchange on loopback replaying BTCUSDT with its clock still at
    VENUE_START_MS, and a signed REST client for its default account."""
    ex = build_local_exchange({"BTCUSDT": btc}, speed=0, start_ms=VENUE_START_MS)
    running = await start_local_exchange(ex)
    rest = BinanceRest(local(running.port), DEFAULT_API_KEY, DEFAULT_API_SECRET, timeout_s=5)
    try:
        yield ex, rest
    finally:
        await rest.close()
        await asyncio.wait_for(running.close(), 10)


class TcpProxy:
    """A TCP forwarder to a server (PostgreSQL or Redis in the outage tests) that a test can
    stop, cutting every open connection and refusing new ones (clients see refused and reset
    connections, as when the server dies), and start again on the same port: a real outage of
    the link while the shared server itself keeps running. `stall()` keeps the links open but
    forwards nothing (a hung server: clients see timeouts)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.stalled = False
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.stalled = False
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Cut every link and stop listening (a no-op when already stopped)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    @classmethod
    def in_front_of(cls, url: str, default_port: int) -> TcpProxy:
        """A proxy (not yet started) to the server of a database or Redis `url`."""
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or default_port)

    def stall(self) -> None:
        self.stalled = True

    def route(self, url: str) -> str:
        """`url` (a database or Redis URL) with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        auth, _, _ = parts.netloc.rpartition("@")
        hostport = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{auth}@{hostport}" if auth else hostport))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                if not self.stalled:
                    dst.write(data)
                    await dst.drain()
        finally:
            self._links.discard(dst)
            dst.transport.abort()
