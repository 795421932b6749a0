"""Closing against the real local exchange on loopback, with the venue failing on purpose
(`Faults.reject` / `Faults.lose_answers`): the position ends closed, every try carried the
same client id, the exchange holds exactly one exit order, and a failure longer than the
alert bound logs the ALERT line. Waits between tries run on a virtual clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_FIRST_OPEN_MS, sample_files
from slt.domain import OrderPurpose, OrderRejected, OrderRequest, OrderType, PlaceOrder, Side
from slt.live.closing import ClosePolicy, Closer
from slt.live.execution import Executor
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.urls import local
from slt.venues.local.assemble import build_local_exchange, start_local_exchange
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange
from slt.venues.local.faults import UNAVAILABLE_503, UNKNOWN_503

START = SAMPLE_FIRST_OPEN_MS + 86_400_000 + 30_000
ORDER = "/fapi/v1/order"


class VirtualTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def exit_order() -> OrderRequest:
    return OrderRequest(
        "slt-2-EX",
        "BTCUSDT",
        Side.SHORT,
        OrderType.MARKET,
        OrderPurpose.EXIT,
        quantity=Decimal("0.010"),
        reduce_only=True,
    )


class RecordingRest(BinanceRest):
    """The real client, noting the client id of every order it sends."""

    sent_ids: list[str]

    async def place_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        self.sent_ids.append(params["newClientOrderId"])
        return await super().place_order(params)


@pytest.fixture
async def venue() -> AsyncIterator[tuple[LocalExchange, RecordingRest]]:
    series = {}
    for path in sample_files():
        s = parse_file(path).series
        if s.symbol == "BTCUSDT":
            series[s.symbol] = s
    ex = build_local_exchange(series, speed=0, start_ms=START)
    running = await start_local_exchange(ex)
    # No retries inside the client: what is retried here is the closer's doing.
    rest = RecordingRest(local(running.port), DEFAULT_API_KEY, DEFAULT_API_SECRET, retries=0)
    rest.sent_ids = []
    try:
        await rest.sync_time()
        yield ex, rest
    finally:
        await rest.close()
        await asyncio.wait_for(running.close(), 10)


async def open_long(ex: LocalExchange, rest: RecordingRest) -> Decimal:
    mark = Decimal(str(ex.market.last_price("BTCUSDT")))
    entry = OrderRequest(
        "slt-1-EN", "BTCUSDT", Side.LONG, OrderType.MARKET, OrderPurpose.ENTRY, Decimal("0.010")
    )
    await rest.submit(entry, ex.rules.get("BTCUSDT"), mark)
    assert await position(rest) == Decimal("0.010")
    rest.sent_ids.clear()
    ex.limits.log.clear()  # the request log from here on is the exit's alone
    return mark


async def position(rest: BinanceRest) -> Decimal:
    rows = [r for r in await rest.positions() if r["symbol"] == "BTCUSDT"]
    return sum((Decimal(str(r["positionAmt"])) for r in rows), Decimal(0))


def exit_orders_on_the_exchange(ex: LocalExchange) -> list[str]:
    orders = ex.account.orders.get("BTCUSDT", {}).values()
    return [o.client_id for o in orders if o.client_id.endswith("-EX")]


def make_executor(
    ex: LocalExchange, rest: BinanceRest, mark: Decimal, policy: ClosePolicy, clock: VirtualTime
) -> Executor:
    closer = Closer(rest, policy, sleep=clock.sleep, monotonic=clock.monotonic)
    return Executor(rest, ex.rules, {"BTCUSDT": float(mark)}, lambda: START, closer=closer)


async def test_a_close_the_venue_fails_keeps_going_until_it_is_closed_and_alerts(
    venue: tuple[LocalExchange, RecordingRest], caplog: pytest.LogCaptureFixture
) -> None:
    ex, rest = venue
    mark = await open_long(ex, rest)
    clock = VirtualTime()
    policy = ClosePolicy(base_s=0.5, cap_s=2.0, alert_after_s=0.5, alert_every_s=60.0)
    executor = make_executor(ex, rest, mark, policy, clock)
    ex.faults.reject(3, UNAVAILABLE_503, paths=[ORDER], methods=["POST"])

    with caplog.at_level(logging.INFO, logger="slt.brain"):
        assert await executor.execute(PlaceOrder(exit_order()), lambda _: None) == []

    assert await position(rest) == 0
    assert rest.sent_ids == ["slt-2-EX"] * 4  # three refused with a 503, the fourth went in
    assert exit_orders_on_the_exchange(ex) == ["slt-2-EX"]
    posts = [r for r in ex.limits.requests(ORDER) if r.method == "POST"]
    assert [r.status for r in posts] == [503, 503, 503, 200]
    assert executor.close_retries == 3 and not executor.rejected
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT:")]
    assert len(alerts) == 1 and executor.close_alerts == 1
    assert alerts[0].startswith("ALERT: could not close BTCUSDT position for ")
    assert alerts[0].endswith("still retrying")


async def test_a_lost_answer_is_found_by_its_client_id_and_never_sent_twice(
    venue: tuple[LocalExchange, RecordingRest],
) -> None:
    ex, rest = venue
    mark = await open_long(ex, rest)
    executor = make_executor(ex, rest, mark, ClosePolicy(), VirtualTime())
    # The exit lands but its answer is lost, and the client's own lookup fails too: the closer
    # must look again rather than send a second market order.
    ex.faults.lose_answers(1, paths=[ORDER], methods=["POST"])
    ex.faults.reject(1, UNAVAILABLE_503, paths=[ORDER], methods=["GET"])

    assert await executor.execute(PlaceOrder(exit_order()), lambda _: None) == []

    assert await position(rest) == 0
    assert rest.sent_ids == ["slt-2-EX"]
    assert exit_orders_on_the_exchange(ex) == ["slt-2-EX"]
    assert executor.close_retries == 1


async def test_an_unknown_state_that_never_landed_is_sent_again_with_the_same_id(
    venue: tuple[LocalExchange, RecordingRest],
) -> None:
    ex, rest = venue
    mark = await open_long(ex, rest)
    executor = make_executor(ex, rest, mark, ClosePolicy(), VirtualTime())
    # "Unknown error" 503s, the order never reaching the matching engine: the client's lookup
    # and one re-send (also refused) leave it unknown; the closer looks up and sends again.
    ex.faults.reject(2, UNKNOWN_503, paths=[ORDER], methods=["POST"])

    assert await executor.execute(PlaceOrder(exit_order()), lambda _: None) == []

    assert await position(rest) == 0
    assert rest.sent_ids == ["slt-2-EX"] * 2  # the client re-sent once itself, then the closer
    posts = [r.status for r in ex.limits.requests(ORDER) if r.method == "POST"]
    assert posts == [503, 503, 200]
    assert exit_orders_on_the_exchange(ex) == ["slt-2-EX"]


async def test_a_close_of_a_position_already_gone_is_refused_to_the_engine(
    venue: tuple[LocalExchange, RecordingRest],
) -> None:
    ex, rest = venue
    mark = Decimal(str(ex.market.last_price("BTCUSDT")))  # no position at all
    executor = make_executor(ex, rest, mark, ClosePolicy(), VirtualTime())
    ex.faults.reject(1, UNAVAILABLE_503, paths=[ORDER], methods=["POST"])

    events = await executor.execute(PlaceOrder(exit_order()), lambda _: None)

    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].code == -2022 and executor.close_retries == 1
    assert exit_orders_on_the_exchange(ex) == []
