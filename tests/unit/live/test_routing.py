"""Order lanes: in order within a symbol, concurrent across symbols, answers come back."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from slt.domain import CancelOrder, Command, Event, OrderRejected, OrderRequest, PlaceOrder, Side
from slt.domain.enums import OrderPurpose, OrderType
from slt.live.routing import OrderRouter


def _order(symbol: str, n: int) -> PlaceOrder:
    return PlaceOrder(
        OrderRequest(
            f"slt-{n}-EN", symbol, Side.LONG, OrderType.MARKET, OrderPurpose.ENTRY, Decimal(1)
        )
    )


class SlowVenue:
    """Each call takes 50 ms; it records start and end; symbol X refuses."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, float]] = []

    async def execute(self, command: Command, order_of: object) -> list[Event]:
        loop = asyncio.get_running_loop()
        name = command.order.client_id if isinstance(command, PlaceOrder) else "cancel"
        self.log.append(("start", name, loop.time()))
        await asyncio.sleep(0.05)
        self.log.append(("end", name, loop.time()))
        if isinstance(command, PlaceOrder) and command.order.symbol == "XUSDT":
            return [OrderRejected(command.order, 0, -2019, "margin")]
        return []


async def test_lanes_keep_order_per_symbol_and_run_symbols_side_by_side() -> None:
    venue = SlowVenue()
    answers: list[Event] = []
    latencies: list[float] = []
    router = OrderRouter(venue, lambda _: None, answers.extend, latencies.append)  # type: ignore[arg-type]
    router.send(CancelOrder("AUSDT", "slt-0-SL"))
    router.send(_order("AUSDT", 1), received_ns=1)
    router.send(_order("XUSDT", 2))
    assert router.pending() == 3
    assert await router.drain(5)
    assert router.pending() == 0
    order = [name for kind, name, _ in venue.log if kind == "start"]
    assert order.index("cancel") < order.index("slt-1-EN")  # same symbol: in order
    cancel_end = next(t for k, n, t in venue.log if (k, n) == ("end", "cancel"))
    a_start = next(t for k, n, t in venue.log if (k, n) == ("start", "slt-1-EN"))
    assert a_start >= cancel_end
    x_start = next(t for k, n, t in venue.log if (k, n) == ("start", "slt-2-EN"))
    assert x_start < cancel_end  # another symbol did not wait for this one's call
    assert [type(e) for e in answers] == [OrderRejected]
    assert len(latencies) == 1  # only the order that carried a candle receipt time
    await router.close()
