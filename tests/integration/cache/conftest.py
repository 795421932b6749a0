"""Fixtures for the cache tiers: the real test Redis (db 15 by default), a clock the tests move
by hand, and a TCP proxy in front of Redis that a test can stop and restart to play an outage
without touching the shared server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("SLT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
T0 = 1_749_513_600_000


class FakeClock:
    """int UTC ms that only moves when the test says so."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class RedisProxy:
    """Forwards TCP between clients and Redis until `stop()` (listener closed, every link cut:
    clients see refused and reset connections, as when Redis dies); `start()` again listens on
    the same port. `stall()` keeps links open but forwards nothing (a hung server: timeouts)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.stalled = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.stalled = False
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def stall(self) -> None:
        self.stalled = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65_536):
                if not self.stalled:
                    dst.write(data)
                    await dst.drain()
        dst.transport.abort()


def _redis_answers() -> bool:
    async def ping() -> bool:
        client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    try:
        return asyncio.run(ping())
    except Exception:  # a refusal comes as several exception types
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL, or skip: these tests need a real server, never a mock."""
    if not _redis_answers():
        pytest.skip(f"no Redis server answers at {REDIS_URL} (set SLT_TEST_REDIS_URL)")
    return REDIS_URL


@pytest.fixture
def tag() -> str:
    """A unique name part for keys, so parallel runs on one Redis db never share any.

    Digits only: symbols are upper-cased in keys and the cleanup must still match them.
    """
    return str(uuid.uuid4().int)[:12]


@pytest.fixture
async def raw_redis(redis_url: str, tag: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client for checking what is really in Redis; removes the test's keys after."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    keys = [k async for k in client.scan_iter(match=f"slt:cache:*{tag}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[RedisProxy]:
    parts = urlsplit(redis_url)
    p = RedisProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await p.start()
    yield p
    await p.stop()


def via_proxy(redis_url: str, port: int) -> str:
    """*redis_url* with its host and port replaced by the proxy's."""
    parts = urlsplit(redis_url)
    netloc = parts.netloc.rsplit("@", 1)
    hostport = f"127.0.0.1:{port}"
    return urlunsplit(
        parts._replace(netloc=f"{netloc[0]}@{hostport}" if len(netloc) == 2 else hostport)
    )
