"""Shared fixtures for the local exchange: the bundled real candles, an exchange replaying them
(stepped clock, mid-candle), a real aiohttp server on 127.0.0.1 with an ephemeral port, and a
small Binance REST client that signs exactly as §2.3 describes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
from yarl import URL

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_FIRST_OPEN_MS, sample_files
from slt.domain import CandleSeries
from slt.venues.local.auth import sign
from slt.venues.local.clock import wall_ms
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange
from slt.venues.local.server import build_app, build_exchange, serve

MINUTE = 60_000
NOW = SAMPLE_FIRST_OPEN_MS + 3 * 86_400_000 + 20 * MINUTE + 30_000
"""Market time of the test exchange: 30 s into a 1m candle, three days into the sample."""
TIMEOUT = 5.0
"""Upper bound for every network await in these tests."""


class FakeWall:
    """A wall clock (UTC ms) the test moves by hand."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture(scope="session")
def sample() -> dict[str, CandleSeries]:
    """The bundled sample (4 symbols of real 1m candles), keyed by symbol."""
    out: dict[str, CandleSeries] = {}
    for path in sample_files():
        series = parse_file(path).series
        out[series.symbol] = series
    return out


@pytest.fixture
def exchange(sample: dict[str, CandleSeries]) -> LocalExchange:
    """A stepped exchange (speed 0) at `NOW`, checking timestamps against the real wall."""
    return build_exchange(sample, speed=0, start_ms=NOW)


@dataclass
class Client:
    """A Binance REST client for tests: plain, keyed and signed calls, raw parts on request."""

    session: aiohttp.ClientSession
    base: str
    ex: LocalExchange
    key: str = DEFAULT_API_KEY
    secret: str = DEFAULT_API_SECRET

    async def raw(
        self,
        method: str,
        path: str,
        query: str = "",
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        async with asyncio.timeout(TIMEOUT):
            # encoded=True: send the query exactly as signed (yarl would re-quote it)
            target = URL(url, encoded=True)
            async with self.session.request(method, target, data=body, headers=hdrs) as resp:
                text = await resp.read()
                return resp.status, dict(resp.headers), orjson.loads(text) if text else None

    async def get(self, path: str, **params: Any) -> tuple[int, dict[str, str], Any]:
        return await self.raw("GET", path, urlencode(params))

    async def signed(
        self, method: str, path: str, *, in_body: bool = False, **params: Any
    ) -> tuple[int, dict[str, str], Any]:
        params.setdefault("timestamp", wall_ms())
        query = urlencode(params)
        query += "&signature=" + sign(self.secret, query)
        headers = {"X-MBX-APIKEY": self.key}
        if in_body:
            return await self.raw(method, path, "", query, headers)
        return await self.raw(method, path, query, None, headers)


@pytest.fixture
async def client(exchange: LocalExchange) -> AsyncIterator[Client]:
    """A client talking to `exchange` served on 127.0.0.1 (ephemeral port)."""
    async with serving(exchange) as c:
        yield c


@pytest.fixture
def serving_factory() -> type[serving]:
    """`serving` for test modules (conftest is not importable under --import-mode=importlib)."""
    return serving


class serving:
    """Serve `ex` (with extra endpoints) and give a `Client` for it; stops the server after."""

    def __init__(self, ex: LocalExchange, extra: tuple[Any, ...] = ()) -> None:
        self.ex = ex
        self.extra = extra

    async def __aenter__(self) -> Client:
        async with asyncio.timeout(TIMEOUT):
            self.runner, port = await serve(self.ex, app=build_app(self.ex, self.extra))
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        return Client(self.session, f"http://127.0.0.1:{port}", self.ex)

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        async with asyncio.timeout(TIMEOUT):
            await self.runner.cleanup()
