"""A close is retried until the exchange has it: the backoff schedule (pure, with hypothesis),
the retry rules with a scripted venue (same client id, lookup before every re-send, -4116 means
it landed, a definitive refusal reaches the engine), the ALERT line on a virtual clock, and
the lanes: a close retrying on one symbol holds no other, and shutdown ends it cleanly."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slt.config import LiveConfig
from slt.domain import OrderPurpose, OrderRejected, OrderRequest, OrderType, PlaceOrder, Side
from slt.live.closing import (
    DUPLICATED_CLIENT_ID,
    ClosePolicy,
    Closer,
    backoff_ceiling,
    backoff_delay,
    expected_delay,
    is_closing,
)
from slt.live.execution import Executor
from slt.live.routing import OrderRouter
from slt.rules import bundled_rules
from slt.venues.binance.errors import OrderRejected as VenueRejected
from slt.venues.binance.errors import OrderStateUnknown, RateLimited, VenueTemporaryError

policies = st.builds(
    ClosePolicy,
    base_s=st.floats(0.001, 10),
    cap_s=st.floats(0.001, 120),
    jitter=st.sampled_from(["full", "equal"]),
)


def exit_order(symbol: str = "BTCUSDT", cid: str = "slt-2-EX") -> OrderRequest:
    return OrderRequest(
        cid,
        symbol,
        Side.SHORT,
        OrderType.MARKET,
        OrderPurpose.EXIT,
        quantity=Decimal("0.010"),
        reduce_only=True,
    )


class VirtualTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class ScriptedVenue:
    """`submit` answers from a script (an exception to raise, or None to accept, the last entry
    repeating); `query_order` finds an order once `landed` holds its client id."""

    def __init__(self, script: list[BaseException | None]) -> None:
        self.script = script
        self.sent: list[str] = []
        self.lookups = 0
        self.landed: set[str] = set()
        self.on_lookup: Callable[[], None] | None = None

    async def submit(self, order: OrderRequest, rules: object, mark: Decimal) -> dict[str, Any]:
        self.sent.append(order.client_id)
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if answer is not None:
            raise answer
        self.landed.add(order.client_id)
        return {"clientOrderId": order.client_id, "status": "FILLED"}

    async def query_order(
        self, symbol: str, client_id: str, *, conditional: bool = False
    ) -> dict[str, Any] | None:
        self.lookups += 1
        if self.on_lookup is not None:
            self.on_lookup()
        return {"clientOrderId": client_id} if client_id in self.landed else None

    async def last_price(self, symbol: str) -> Decimal:
        return Decimal(100_000)


def executor(venue: ScriptedVenue, policy: ClosePolicy, clock: VirtualTime) -> Executor:
    closer = Closer(venue, policy, sleep=clock.sleep, monotonic=clock.monotonic)
    marks = {"BTCUSDT": 100_000.0, "ETHUSDT": 3_000.0}
    return Executor(venue, bundled_rules(), marks, lambda: 7, closer=closer)  # type: ignore[arg-type]


def temporary() -> VenueTemporaryError:
    return VenueTemporaryError("temporary failure: 503 Service Unavailable.")


# the schedule ---------------------------------------------------------------------------------
@given(policies, st.integers(1, 500), st.floats(0, 1))
def test_every_delay_is_within_its_jitter_band_and_never_above_the_cap(
    policy: ClosePolicy, attempt: int, u: float
) -> None:
    ceiling = backoff_ceiling(policy, attempt)
    delay = backoff_delay(policy, attempt, u)
    assert ceiling <= policy.cap_s
    assert 0 <= delay <= ceiling
    if policy.jitter == "equal":
        assert delay >= ceiling / 2


@given(policies, st.integers(1, 500), st.floats(0, 1))
def test_delays_never_shrink_as_attempts_grow(policy: ClosePolicy, attempt: int, u: float) -> None:
    assert backoff_delay(policy, attempt, u) <= backoff_delay(policy, attempt + 1, u)
    assert expected_delay(policy, attempt) <= expected_delay(policy, attempt + 1)
    assert backoff_ceiling(policy, attempt) <= backoff_ceiling(policy, attempt + 1)


@pytest.mark.parametrize("jitter", ["full", "equal"])
def test_sampled_means_grow_with_the_attempt_until_the_cap(jitter: str) -> None:
    policy = ClosePolicy(base_s=0.5, cap_s=8.0, jitter=jitter)  # type: ignore[arg-type]
    rng = random.Random(1)
    means = [
        sum(backoff_delay(policy, a, rng.random()) for _ in range(4000)) / 4000 for a in range(1, 9)
    ]
    for a, mean in enumerate(means, 1):
        assert mean == pytest.approx(expected_delay(policy, a), rel=0.05)
    assert all(x < y for x, y in itertools.pairwise(means[:5]))  # doubling: 0.5 … 8
    assert max(means) <= policy.cap_s


def test_policy_from_live_settings_and_bad_values_refused() -> None:
    live = LiveConfig(close_retry_base_s=0.25, close_retry_cap_s=5, close_alert_after_s=30)
    policy = ClosePolicy.from_live(live)
    assert (policy.base_s, policy.cap_s, policy.alert_after_s, policy.alert_every_s) == (
        0.25,
        5,
        30,
        60,
    )
    with pytest.raises(ValueError):
        ClosePolicy(base_s=0)
    with pytest.raises(ValueError):
        backoff_ceiling(policy, 0)


def test_which_orders_are_closes() -> None:
    assert is_closing(exit_order())
    stop = OrderRequest(
        "slt-3-SL", "BTCUSDT", Side.SHORT, OrderType.STOP_MARKET, OrderPurpose.STOP_LOSS
    )
    entry = OrderRequest(
        "slt-1-EN", "BTCUSDT", Side.LONG, OrderType.MARKET, OrderPurpose.ENTRY, Decimal(1)
    )
    flat = OrderRequest(
        "x-1", "BTCUSDT", Side.LONG, OrderType.MARKET, OrderPurpose.ENTRY, close_position=True
    )
    assert not is_closing(stop) and not is_closing(entry) and is_closing(flat)


# the retry rules ------------------------------------------------------------------------------
async def test_temporary_failures_are_retried_with_the_same_id_after_a_lookup() -> None:
    venue = ScriptedVenue([temporary(), temporary(), temporary(), None])
    clock = VirtualTime()
    policy = ClosePolicy(base_s=0.5, cap_s=2.0)
    ex = executor(venue, policy, clock)
    assert await ex.execute(PlaceOrder(exit_order()), lambda _: None) == []
    assert venue.sent == ["slt-2-EX"] * 4
    assert venue.lookups == 3  # one before each re-send, none before the first try
    assert ex.close_retries == 3 and ex.close_alerts == 0 and ex.closer.pending() == 0
    assert ex.sent == 1 and not ex.rejected
    for attempt, slept in enumerate(clock.sleeps, 1):
        ceiling = backoff_ceiling(policy, attempt)
        assert ceiling / 2 <= slept <= ceiling


async def test_an_unclear_failure_that_landed_is_found_and_never_sent_twice() -> None:
    venue = ScriptedVenue([OrderStateUnknown("no definite answer"), None])
    venue.landed.add("slt-2-EX")  # the first copy reached the exchange; its answer was lost
    ex = executor(venue, ClosePolicy(), VirtualTime())
    assert await ex.execute(PlaceOrder(exit_order()), lambda _: None) == []
    assert venue.sent == ["slt-2-EX"] and ex.close_retries == 1


async def test_a_duplicate_client_id_means_it_landed_not_a_refusal() -> None:
    venue = ScriptedVenue([VenueRejected("clientOrderId is duplicated", DUPLICATED_CLIENT_ID)])
    venue.landed.add("slt-2-EX")
    ex = executor(venue, ClosePolicy(), VirtualTime())
    assert await ex.execute(PlaceOrder(exit_order()), lambda _: None) == []
    assert not ex.rejected and ex.close_retries == 0


async def test_a_duplicate_the_exchange_cannot_find_is_tried_again() -> None:
    dup = VenueRejected("clientOrderId is duplicated", DUPLICATED_CLIENT_ID)
    venue = ScriptedVenue([dup, None])
    ex = executor(venue, ClosePolicy(), VirtualTime())
    assert await ex.execute(PlaceOrder(exit_order()), lambda _: None) == []
    assert venue.sent == ["slt-2-EX"] * 2 and ex.close_retries == 1


async def test_a_definitive_refusal_reaches_the_engine_as_before() -> None:
    venue = ScriptedVenue([temporary(), VenueRejected("ReduceOnly Order is rejected.", -2022)])
    ex = executor(venue, ClosePolicy(), VirtualTime())
    events = await ex.execute(PlaceOrder(exit_order()), lambda _: None)
    assert len(events) == 1 and isinstance(events[0], OrderRejected)
    assert events[0].code == -2022 and events[0].order.client_id == "slt-2-EX"
    assert ex.rejected[-2022] == 1 and ex.close_retries == 1


async def test_other_orders_still_hear_a_temporary_failure_at_once() -> None:
    venue = ScriptedVenue([temporary()])
    ex = executor(venue, ClosePolicy(), VirtualTime())
    entry = OrderRequest(
        "slt-1-EN", "BTCUSDT", Side.LONG, OrderType.MARKET, OrderPurpose.ENTRY, Decimal("0.01")
    )
    events = await ex.execute(PlaceOrder(entry), lambda _: None)
    assert len(events) == 1 and isinstance(events[0], OrderRejected) and events[0].code == 0
    assert venue.sent == ["slt-1-EN"] and ex.close_retries == 0


async def test_a_rate_limit_waits_at_least_what_the_server_asked() -> None:
    venue = ScriptedVenue([RateLimited("429", -1003, 7.0), None])
    clock = VirtualTime()
    ex = executor(venue, ClosePolicy(base_s=0.1, cap_s=1.0), clock)
    await ex.execute(PlaceOrder(exit_order()), lambda _: None)
    assert clock.sleeps == [7.0]


async def test_the_alert_line_once_after_the_bound_then_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    venue = ScriptedVenue([temporary()] * 40 + [None])
    clock = VirtualTime()
    policy = ClosePolicy(base_s=1.0, cap_s=10.0, alert_after_s=5.0, alert_every_s=60.0)
    ex = executor(venue, policy, clock)
    with caplog.at_level(logging.WARNING, logger="slt.brain"):
        assert await ex.execute(PlaceOrder(exit_order()), lambda _: None) == []
    alerts = [r for r in caplog.records if r.getMessage().startswith("ALERT:")]
    assert all(r.levelno == logging.ERROR for r in alerts)
    assert "could not close BTCUSDT position for" in alerts[0].getMessage()
    assert "still retrying" in alerts[0].getMessage()
    assert "VenueTemporaryError" in alerts[0].getMessage()
    # 40 failures spread over clock.now seconds: the first alert once 5 s have passed, then
    # one per full minute at most.
    assert 1 <= len(alerts) <= 1 + int((clock.now - 5.0) // 60) and len(alerts) >= 2
    assert ex.close_alerts == len(alerts) and ex.close_retries == 40
    assert any("went through after 41 attempts" in r.getMessage() for r in caplog.records)


# lanes and shutdown ---------------------------------------------------------------------------
async def test_a_close_retrying_on_one_symbol_holds_no_other_and_stops_at_shutdown() -> None:
    venue = ScriptedVenue([temporary()])  # BTCUSDT's exit fails for as long as the test runs
    gate = asyncio.Event()

    async def blocked(seconds: float) -> None:
        await gate.wait()  # a retry that waits "forever" between tries

    closer = Closer(venue, ClosePolicy(), sleep=blocked)
    marks = {"BTCUSDT": 100_000.0, "ETHUSDT": 3_000.0}
    ex = Executor(venue, bundled_rules(), marks, lambda: 7, closer=closer)  # type: ignore[arg-type]
    heard: list[object] = []
    router = OrderRouter(ex, lambda _: None, heard.extend, lambda _: None)
    router.send(PlaceOrder(exit_order("BTCUSDT")))
    await asyncio.sleep(0.01)
    assert closer.pending() == 1
    eth_entry = OrderRequest(
        "slt-9-EN", "ETHUSDT", Side.LONG, OrderType.MARKET, OrderPurpose.ENTRY, Decimal("0.1")
    )
    venue.script = [None]
    router.send(PlaceOrder(eth_entry))
    async with asyncio.timeout(5):
        while "slt-9-EN" not in venue.sent:
            await asyncio.sleep(0.005)
    assert closer.pending() == 1 and not await router.drain(0.05)

    await asyncio.wait_for(router.close(), 5)  # what the Brain does at shutdown
    assert closer.pending() == 0 and router.failed() is None
    assert "slt-2-EX" in ex.doubtful  # looked up by whoever runs next
    assert heard == []  # the engine was never told the close failed
