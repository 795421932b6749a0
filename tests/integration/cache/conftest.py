"""Fixtures for the cache tiers: the real test Redis (db 15 by default), a clock the tests move
by hand, and a TCP proxy in front of Redis that a test can stop and restart to play an outage
without touching the shared server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from ...conftest import REDIS_URL, TcpProxy, redis_answers

T0 = 1_749_513_600_000


class FakeClock:
    """int UTC ms that only moves when the test says so."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL, or skip: these tests need a real server, never a mock."""
    if not redis_answers():
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
async def proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    p = TcpProxy.in_front_of(redis_url, 6379)
    await p.start()
    yield p
    await p.stop()
