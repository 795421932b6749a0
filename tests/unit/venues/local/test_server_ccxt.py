"""ccxt's own Binance USDⓈ-M client against the local exchange: only the fapi base URLs are
given (any spot, margin or coin-M call would fail with ccxt's NotSupported), markets come from
the shipped exchangeInfo, and signed calls pass the server's checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest
from typer.testing import CliRunner

from slt.cli import app
from slt.data.sample import SAMPLE_FIRST_OPEN_MS
from slt.venues.local.cli import CCXT_SNIPPET, parse_start
from slt.venues.local.clock import wall_ms
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange
from slt.venues.local.server import serve

TIMEOUT = 10.0
NOW = SAMPLE_FIRST_OPEN_MS + 3 * 86_400_000 + 20 * 60_000 + 30_000  # as in conftest


def local_urls(base: str) -> dict[str, str]:
    """ccxt's `urls['api']` reduced to the USDⓈ-M REST bases, all pointing at `base`."""
    return {
        "fapiPublic": f"{base}/fapi/v1",
        "fapiPublicV2": f"{base}/fapi/v2",
        "fapiPublicV3": f"{base}/fapi/v3",
        "fapiPrivate": f"{base}/fapi/v1",
        "fapiPrivateV2": f"{base}/fapi/v2",
        "fapiPrivateV3": f"{base}/fapi/v3",
        "fapiData": f"{base}/futures/data",
    }


@pytest.fixture
async def binance(exchange: LocalExchange) -> AsyncIterator[Any]:
    async with asyncio.timeout(TIMEOUT):
        runner, port = await serve(exchange)
    client = ccxt.binanceusdm(
        {
            "apiKey": DEFAULT_API_KEY,
            "secret": DEFAULT_API_SECRET,
            "timeout": 5000,
            "enableRateLimit": False,  # the local exchange enforces the limits itself
            "options": {
                "fetchMarkets": {"types": ["linear"]},
                "fetchCurrencies": False,
                "adjustForTimeDifference": True,
            },
        }
    )
    client.urls["api"] = local_urls(f"http://127.0.0.1:{port}")
    try:
        yield client
    finally:
        await client.close()
        async with asyncio.timeout(TIMEOUT):
            await runner.cleanup()


async def test_ccxt_loads_markets_and_reads_market_data(
    binance: Any, exchange: LocalExchange
) -> None:
    async with asyncio.timeout(TIMEOUT):
        markets = await binance.load_markets()
        btc = markets["BTC/USDT:USDT"]
        assert (btc["id"], btc["linear"], btc["swap"]) == ("BTCUSDT", True, True)
        assert btc["precision"]["price"] == 0.1 and btc["limits"]["cost"]["min"] == 100
        assert all(m["contract"] for m in markets.values())

        before = wall_ms()
        assert before - 5000 <= await binance.fetch_time() <= wall_ms()

        candles = await binance.fetch_ohlcv("BTC/USDT:USDT", "1m", limit=3)
        assert [c[0] for c in candles] == [NOW - 30_000 - 120_000, NOW - 90_000, NOW - 30_000]
        assert candles[0][1:] == [104651.2, 104671.3, 104642.1, 104656.7, 23.81]

        ticker = await binance.fetch_ticker("BTC/USDT:USDT")
        assert ticker["symbol"] == "BTC/USDT:USDT" and ticker["last"] == candles[-1][4]
        assert ticker["timestamp"] == NOW

    paths = {r.path for r in exchange.limits.requests()}
    assert paths == {
        "/fapi/v1/exchangeInfo",
        "/fapi/v1/time",
        "/fapi/v1/klines",
        "/fapi/v1/ticker/24hr",
    }
    assert all(r.status == 200 for r in exchange.limits.requests())


async def test_ccxt_signed_calls(binance: Any, exchange: LocalExchange) -> None:
    async with asyncio.timeout(TIMEOUT):
        await binance.load_markets()
        tiers = await binance.fetch_leverage_tiers(["BTC/USDT:USDT"])
        first = tiers["BTC/USDT:USDT"][0]
        assert (first["minNotional"], first["maxNotional"], first["maxLeverage"]) == (
            0.0,
            50000.0,
            125.0,
        )
        assert Decimal(str(first["maintenanceMarginRate"])) == Decimal("0.004")
        fee = await binance.fetch_trading_fee("BTC/USDT:USDT")
        assert (fee["maker"], fee["taker"]) == (0.0002, 0.0005)
    signed = [r for r in exchange.limits.requests() if r.path.endswith(("Bracket", "Rate"))]
    assert [(r.path, r.status, r.weight) for r in signed] == [
        ("/fapi/v1/leverageBracket", 200, 1),
        ("/fapi/v1/commissionRate", 200, 20),
    ]


async def test_ccxt_sees_binance_errors(binance: Any, exchange: LocalExchange) -> None:
    async with asyncio.timeout(TIMEOUT):
        await binance.load_markets()
        binance.secret = "wrong-secret"
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await binance.fetch_trading_fee("BTC/USDT:USDT")
        exchange.faults.clock_skew_ms = -10_000  # the client's clock runs 10 s ahead
        with pytest.raises(ccxt.InvalidNonce, match="1000ms ahead"):
            await binance.fetch_trading_fee("BTC/USDT:USDT")
        exchange.faults.clock_skew_ms = 0
        exchange.limits.config = type(exchange.limits.config)(weight_per_minute=1)
        with pytest.raises(ccxt.DDoSProtection, match="429"):
            await binance.fetch_ohlcv("BTC/USDT:USDT", "1m", limit=3)
        with pytest.raises(ccxt.DDoSProtection, match="418"):
            await binance.fetch_ohlcv("BTC/USDT:USDT", "1m", limit=3)


def test_the_cli_prints_the_urls_this_test_uses() -> None:
    snippet = CCXT_SNIPPET.format(key="k", secret="s", base="http://127.0.0.1:1")
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    client = namespace["exchange"]
    expected = local_urls("http://127.0.0.1:1")
    del expected["fapiData"]
    assert client.urls["api"] == expected
    assert client.options["fetchMarkets"]["types"] == ["linear"]
    asyncio.run(client.close())


def test_the_cli_serves_loopback_only() -> None:
    result = CliRunner().invoke(app, ["exchange", "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "not a loopback address" in result.output
    assert parse_start("2025-06-12") == 1749686400000
    assert parse_start("1749686400000") == 1749686400000
