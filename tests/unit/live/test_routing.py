"""Order lanes: in order within a symbol, concurrent across symbols, answers come back."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from slt.domain import CancelOrder, Command, Event, OrderRejected, OrderRequest, PlaceOrder, Side
from slt.domain.enums import OrderPurpose, OrderType
from slt.live.routing import OrderRouter, exits_first


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


def _request(symbol: str, n: int, purpose: OrderPurpose, kind: OrderType) -> OrderRequest:
    reduce = purpose is not OrderPurpose.ENTRY
    return OrderRequest(
        f"slt-{n}-{purpose.value}", symbol, Side.SHORT, kind, purpose, Decimal(1), None, reduce
    )


_commands = st.lists(
    st.one_of(
        st.builds(
            lambda s, n, p, k: PlaceOrder(_request(s, n, p, k)),
            st.sampled_from(["AUSDT", "BUSDT"]),
            st.integers(0, 99),
            st.sampled_from(list(OrderPurpose)),
            st.sampled_from([OrderType.MARKET, OrderType.STOP_MARKET]),
        ),
        st.builds(CancelOrder, st.sampled_from(["AUSDT", "BUSDT"]), st.just("slt-0-SL")),
    ),
    max_size=12,
)


def _market_exit(c: Command) -> bool:
    return (
        isinstance(c, PlaceOrder)
        and c.order.purpose is OrderPurpose.EXIT
        and c.order.type is OrderType.MARKET
    )


@given(_commands)
def test_exits_first_moves_only_market_exits_ahead(commands: list[Command]) -> None:
    out = exits_first(commands)
    assert sorted(map(repr, out)) == sorted(map(repr, commands))  # nothing lost or added
    k = sum(1 for c in commands if _market_exit(c))
    assert all(_market_exit(c) for c in out[:k])
    assert out[:k] == [c for c in commands if _market_exit(c)]  # exits keep their order
    assert out[k:] == [c for c in commands if not _market_exit(c)]  # so does the rest


def test_an_exit_leaves_before_the_cancels_of_its_position() -> None:
    stop, target = CancelOrder("AUSDT", "slt-1-SL"), CancelOrder("AUSDT", "slt-2-TP")
    close = PlaceOrder(_request("AUSDT", 3, OrderPurpose.EXIT, OrderType.MARKET))
    entry = PlaceOrder(_request("AUSDT", 4, OrderPurpose.ENTRY, OrderType.MARKET))
    assert exits_first([stop, target, close, entry]) == [close, stop, target, entry]
    move = [
        CancelOrder("AUSDT", "slt-1-SL"),
        PlaceOrder(_request("AUSDT", 5, OrderPurpose.STOP_LOSS, OrderType.STOP_MARKET)),
    ]
    assert exits_first(move) == move  # a stop move keeps cancel-then-place
