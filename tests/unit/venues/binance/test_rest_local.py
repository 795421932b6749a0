"""The Binance REST adapter against the local exchange on loopback: a whole trade cycle, the
weight it spends (read back from the exchange's request log), and order safety when an
answer is lost: the order is looked up by client id and never doubled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_FIRST_OPEN_MS, sample_files
from slt.domain import CandleSeries
from slt.venues.binance.errors import OrderRejected, VenueConfigError
from slt.venues.binance.governor import WeightGovernor
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.urls import local
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange
from slt.venues.local.faults import UNKNOWN_503
from slt.venues.local.routes_trading import TRADING, build_account
from slt.venues.local.server import build_app, build_exchange, serve

NOW = SAMPLE_FIRST_OPEN_MS + 2 * 86_400_000 + 30_000


@pytest.fixture(scope="module")
def btc() -> dict[str, CandleSeries]:
    out = {}
    for path in sample_files():
        series = parse_file(path).series
        if series.symbol in ("BTCUSDT", "DOGEUSDT"):
            out[series.symbol] = series
    return out


@pytest.fixture
async def venue(btc: dict[str, CandleSeries]) -> AsyncIterator[tuple[LocalExchange, BinanceRest]]:
    ex = build_exchange(btc, speed=0, start_ms=NOW)
    ex.account = build_account(ex.market, ex.rules)
    runner, port = await serve(ex, app=build_app(ex, TRADING))
    rest = BinanceRest(
        local(port), DEFAULT_API_KEY, DEFAULT_API_SECRET, timeout_s=5, backoff_s=0.01
    )
    try:
        yield ex, rest
    finally:
        await rest.close()
        await runner.cleanup()


def _calls(ex: LocalExchange) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in ex.limits.log]


async def test_a_whole_trade_cycle(venue: tuple[LocalExchange, BinanceRest]) -> None:
    ex, rest = venue
    async with asyncio.timeout(20):
        offset = await rest.sync_time()
        assert abs(offset) < 1_000
        info = await rest.exchange_info()
        assert any(s["symbol"] == "BTCUSDT" for s in info["symbols"])
        await rest.exchange_info()  # cached: no second call
        brackets = await rest.leverage_brackets()
        assert any(b["symbol"] == "BTCUSDT" for b in brackets)
        assert (await rest.set_leverage("BTCUSDT", 5))["leverage"] == 5

        entry = await rest.place_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.010",
                "newClientOrderId": "slt-1-entry",
                "newOrderRespType": "RESULT",
            }
        )
        assert entry["status"] == "FILLED" and entry["clientOrderId"] == "slt-1-entry"
        price = Decimal(entry["avgPrice"])
        stop = await rest.place_order(
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "triggerPrice": str((price * Decimal("0.95")).quantize(Decimal("0.1"))),
                "closePosition": "true",
                "clientAlgoId": "slt-2-stop",
            }
        )
        assert stop["algoStatus"] == "NEW" and stop["clientAlgoId"] == "slt-2-stop"
        assert [o["clientAlgoId"] for o in await rest.open_algo_orders("BTCUSDT")] == ["slt-2-stop"]
        found = await rest.query_order("BTCUSDT", "slt-1-entry")
        assert found is not None and found["status"] == "FILLED"
        assert await rest.query_order("BTCUSDT", "slt-nope") is None
        position = next(p for p in await rest.positions() if p["symbol"] == "BTCUSDT")
        assert Decimal(position["positionAmt"]) == Decimal("0.010")

        cancelled = await rest.cancel_order("BTCUSDT", "slt-2-stop", conditional=True)
        assert cancelled["clientAlgoId"] == "slt-2-stop"
        assert await rest.open_algo_orders("BTCUSDT") == []

        with pytest.raises(OrderRejected) as rejected:
            await rest.place_order(
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "MARKET",
                    "quantity": "0.0001",
                    "newClientOrderId": "slt-3-tiny",
                }
            )
        assert rejected.value.code in (-4004, -4164, -1111)

    paths = _calls(ex)
    assert ("GET", "/fapi/v1/exchangeInfo") in paths
    assert paths.count(("GET", "/fapi/v1/exchangeInfo")) == 1
    assert not any(p.endswith("/klines") for _, p in paths), "no REST kline call"
    charged = sum(r.weight for r in ex.limits.log)
    assert rest.governor.charged == charged  # the governor paid exactly what the server counted


async def test_a_lost_answer_is_looked_up_before_any_resend(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    order = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": "0.010",
        "newClientOrderId": "slt-7-entry",
    }
    ex.faults.reject(1, UNKNOWN_503, paths=["/fapi/v1/order"])
    async with asyncio.timeout(20):
        placed = await rest.place_order(order)
    assert placed["clientOrderId"] == "slt-7-entry"
    calls = [c for c in _calls(ex) if c[1] == "/fapi/v1/order"]
    # the 503, then the lookup (unknown: the first try never reached the book), then one send
    assert calls == [
        ("POST", "/fapi/v1/order"),
        ("GET", "/fapi/v1/order"),
        ("POST", "/fapi/v1/order"),
    ]
    position = next(p for p in await rest.positions() if p["symbol"] == "BTCUSDT")
    assert Decimal(position["positionAmt"]) == Decimal("0.010")  # one fill, not two


async def test_weight_is_charged_against_the_shared_budget_before_each_call(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    rest.governor = WeightGovernor(limit=12, share=1.0)
    async with asyncio.timeout(20):
        await rest.positions()  # 5
        await rest.positions()  # 10
        assert await rest.governor.used() == 10
        task = asyncio.create_task(rest.positions())  # 15 > 12: waits for the next minute
        await asyncio.sleep(0.2)
        assert not task.done()
        task.cancel()
    assert [r.path for r in ex.limits.log].count("/fapi/v2/positionRisk") == 2


async def test_wrong_credentials_are_a_configuration_error(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    _, rest = venue
    bad = BinanceRest(rest.urls, DEFAULT_API_KEY, "not-the-secret", timeout_s=5, retries=0)
    try:
        async with asyncio.timeout(10):
            with pytest.raises(VenueConfigError, match="credentials"):
                await bad.positions()
    finally:
        await bad.close()
