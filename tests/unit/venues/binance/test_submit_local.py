"""Orders from the engine's `OrderRequest` reach the local exchange only after `slt.rules`
passed them; a skewed clock is re-measured and the order goes through; a venue that stops
answering ends in a clear error within the timeout, never a hang."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_FIRST_OPEN_MS, sample_files
from slt.domain import OrderPurpose, OrderRequest, OrderType, Side
from slt.venues.binance.errors import OrderRejected, OrderStateUnknown, VenueTemporaryError
from slt.venues.binance.orders import order_params, plain
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.urls import local
from slt.venues.local.assemble import RunningExchange, build_local_exchange, start_local_exchange
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET

START = SAMPLE_FIRST_OPEN_MS + 86_400_000 + 30_000


@pytest.fixture
async def running() -> AsyncIterator[RunningExchange]:
    series = {}
    for path in sample_files():
        s = parse_file(path).series
        if s.symbol == "BTCUSDT":
            series[s.symbol] = s
    ex = build_local_exchange(series, speed=0, start_ms=START)
    running = await start_local_exchange(ex)
    try:
        yield running
    finally:
        await asyncio.wait_for(running.close(), 10)


def entry(qty: str, client_id: str = "slt-1-EN", leverage: int | None = 4) -> OrderRequest:
    return OrderRequest(
        client_id,
        "BTCUSDT",
        Side.LONG,
        OrderType.MARKET,
        OrderPurpose.ENTRY,
        quantity=Decimal(qty),
        leverage=leverage,
    )


def test_requests_are_exact_strings(running: RunningExchange) -> None:
    rules = running.ex.rules.get("BTCUSDT")
    stop = OrderRequest(
        "slt-2-SL",
        "BTCUSDT",
        Side.SHORT,
        OrderType.STOP_MARKET,
        OrderPurpose.STOP_LOSS,
        stop_price=Decimal("98000.10"),
        close_position=True,
    )
    assert order_params(stop, rules, Decimal("100000")) == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "STOP_MARKET",
        "algoType": "CONDITIONAL",
        "clientAlgoId": "slt-2-SL",
        "triggerPrice": "98000.10",
        "workingType": "CONTRACT_PRICE",
        "closePosition": "true",
    }
    assert plain(Decimal("1E-7")) == "0.0000001" and plain(Decimal("1.20E+3")) == "1200"


async def test_an_order_the_rules_refuse_is_never_sent(running: RunningExchange) -> None:
    ex = running.ex
    rules = ex.rules.get("BTCUSDT")
    async with BinanceRest(local(running.port), DEFAULT_API_KEY, DEFAULT_API_SECRET) as rest:
        with pytest.raises(OrderRejected) as off_grid:
            await rest.submit(entry("0.0105"), rules, Decimal("105000"))
        assert off_grid.value.code in (-1111, -4023)
        with pytest.raises(OrderRejected) as small:
            await rest.submit(entry("0.001"), rules, Decimal("50000"))
        assert small.value.code == -4164
    assert ex.limits.requests() == []  # nothing reached the exchange


async def test_leverage_is_set_once_then_orders_go_out(running: RunningExchange) -> None:
    ex = running.ex
    rules = ex.rules.get("BTCUSDT")
    mark = Decimal(str(ex.market.last_price("BTCUSDT")))
    async with BinanceRest(local(running.port), DEFAULT_API_KEY, DEFAULT_API_SECRET) as rest:
        first = await rest.submit(entry("0.010", "slt-1-EN"), rules, mark)
        second = await rest.submit(entry("0.010", "slt-2-EN"), rules, mark)
    assert first["status"] == second["status"] == "FILLED"
    paths = [r.path for r in ex.limits.requests()]
    assert paths.count("/fapi/v1/leverage") == 1 and paths.count("/fapi/v1/order") == 2


async def test_a_skewed_clock_is_measured_again_and_the_order_goes_through(
    running: RunningExchange,
) -> None:
    ex = running.ex
    rules = ex.rules.get("BTCUSDT")
    mark = Decimal(str(ex.market.last_price("BTCUSDT")))
    async with BinanceRest(local(running.port), DEFAULT_API_KEY, DEFAULT_API_SECRET) as rest:
        await rest.sync_time()
        ex.faults.clock_skew_ms = 30_000  # the venue's clock runs 30 s ahead of ours
        placed = await rest.submit(entry("0.010", leverage=None), rules, mark)
        assert placed["status"] == "FILLED"
    codes = [(r.path, r.code) for r in ex.limits.requests()]
    assert ("/fapi/v1/order", -1021) in codes and codes[-1] == ("/fapi/v1/order", None)
    assert ("/fapi/v1/time", None) in codes[codes.index(("/fapi/v1/order", -1021)) :]


async def test_a_venue_that_stops_answering_gives_a_clear_error_in_time(
    running: RunningExchange,
) -> None:
    ex = running.ex
    rules = ex.rules.get("BTCUSDT")
    mark = Decimal(str(ex.market.last_price("BTCUSDT")))
    ex.faults.rest_delay_ms = 3_000
    async with BinanceRest(
        local(running.port),
        DEFAULT_API_KEY,
        DEFAULT_API_SECRET,
        timeout_s=0.5,
        retries=1,
        backoff_s=0.01,
    ) as rest:
        async with asyncio.timeout(10):
            with pytest.raises(VenueTemporaryError):
                await rest.positions()
            with pytest.raises((OrderStateUnknown, VenueTemporaryError)):
                await rest.submit(entry("0.010", leverage=None), rules, mark)
