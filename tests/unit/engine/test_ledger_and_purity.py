"""Whole-run invariants of Engine + simulated venue: the ledger is exact to the last Decimal unit,
the engine is a pure, deterministic function, client order ids are valid and reproducible,
funding is booked, and a rejected order leaves a consistent state behind."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slt.config import FeeConfig, RiskConfig
from slt.domain import (
    Candle,
    ExitReason,
    FundingApplied,
    OrderPurpose,
    PlaceOrder,
    Signal,
)
from slt.rules import bundled_rules
from slt.venues.simulated import SimulatedVenue

if TYPE_CHECKING:
    from conftest import World, WorldFactory

D = Decimal
BTC = "BTCUSDT"
ETH = "ETHUSDT"
MINUTE = 60_000
HOUR = 60 * MINUTE
T0 = 1_704_067_200_000
CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
START = {BTC: 60000.0, ETH: 3000.0, "SOLUSDT": 100.0, "LTCUSDT": 70.0}
TICKS = {BTC: 1, ETH: 2, "SOLUSDT": 2, "LTCUSDT": 2}  # decimals of the tick


def random_run(w: World, seed: int, bars: int = 90) -> None:
    """A four-symbol market (one more than the position limit, so rotations happen) with noise,
    occasional 3 % gaps and random signals, then flatten."""
    rng = random.Random(seed)
    prices = dict(START)
    for _ in range(bars):
        candles = []
        signals: dict[str, Signal] = {}
        for sym, last in prices.items():
            gap = rng.choice((-0.03, 0.03)) if rng.random() < 0.04 else 0.0
            o = round(last * (1 + gap + rng.gauss(0, 0.002)), TICKS[sym])
            c = round(o * (1 + rng.gauss(0, 0.007)), TICKS[sym])
            h = round(max(o, c) * (1 + abs(rng.gauss(0, 0.004))), TICKS[sym])
            lo = round(min(o, c) * (1 - abs(rng.gauss(0, 0.004))), TICKS[sym])
            candles.append(Candle(sym, w.now, w.now + w.interval_ms - 1, o, h, lo, c, 1.0))
            prices[sym] = c
            if rng.random() < 0.25:
                make = w.long if rng.random() < 0.5 else w.short
                signals[sym] = make(
                    sym,
                    expected_return=rng.uniform(0.0, 0.02),
                    confidence=rng.uniform(0.1, 1.0),
                    atr_pct=rng.uniform(0.001, 0.02),
                )
        w.step(candles, signals)
    w.close_all()


def fifteen_minute_world(world_with: WorldFactory) -> World:
    """Default costs including funding; 15-minute candles starting just before 08:00 UTC, so
    time exits, funding and many trades all happen within 90 candles."""
    return world_with(interval_ms=15 * MINUTE, start=T0 + 7 * HOUR)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_ledger_is_exact_and_engine_and_venue_agree(world_with: WorldFactory, seed: int) -> None:
    """Sum of trade net PnL == final balance − initial balance, exactly, in Decimal; the engine's
    wallet equals the venue's; nothing is left open; every trade adds up; and at no point were
    more than three positions staying open or on their way."""
    w = fifteen_minute_world(world_with)
    random_run(w, seed)
    assert all(after.active_count() <= 3 for _, _, after, _ in w.transitions)
    assert w.state.positions == () and w.state.pending == () and w.state.orders == ()
    assert w.venue.positions == {} and not any(w.venue.market.values())
    assert w.state.balance == w.venue.balance
    assert sum((t.net_pnl for t in w.trades), D(0)) == w.state.balance - D("10000")
    for t in w.trades:
        assert t.net_pnl == t.gross_pnl - t.fees - t.funding
        assert sum(leg.quantity for leg in t.exits) == t.quantity
        assert sum(leg.pnl for leg in t.exits) == t.gross_pnl
        assert t.exits[-1].reason in (t.exit_reason, ExitReason.LIQUIDATION)
        assert t.exit_time_ms >= t.entry_time_ms
    assert w.notices("unknown_fill") == []


def test_funding_is_booked_at_08_and_16_utc_into_the_trade(world_with: WorldFactory) -> None:
    fees = FeeConfig(taker_rate=0, slippage_pct=0, funding_rate=0.0001)
    risk = RiskConfig(max_hold_ms=24 * HOUR)
    w = world_with(risk, fees=fees, interval_ms=HOUR, start=T0 + 6 * HOUR)
    pos = w.open_and_fill(BTC, 60000)
    assert pos.entry_time_ms == T0 + 7 * HOUR
    while w.now < T0 + 17 * HOUR:
        w.bar(BTC, 60000)
    paid = w.funding()
    assert [e.time_ms for e in paid] == [T0 + 8 * HOUR, T0 + 16 * HOUR]
    assert all(e.amount == D("-0.996") for e in paid)  # 0.166 × 60 000 × 0.01 %
    held = w.position(BTC)
    assert held is not None and held.funding == D("1.992")
    w.close_all()
    (trade,) = w.trades
    assert trade.funding == D("1.992")
    assert trade.net_pnl == D("-1.992")
    assert w.state.balance == w.venue.balance == D("10000") - D("1.992")


def test_short_receives_funding(world_with: WorldFactory) -> None:
    fees = FeeConfig(taker_rate=0, slippage_pct=0, funding_rate=0.0001)
    w = world_with(fees=fees, interval_ms=HOUR, start=T0 + 6 * HOUR)
    w.open_and_fill(BTC, 60000, direction=-1)
    w.bar(BTC, 60000)
    (received,) = [e for e in w.events if isinstance(e, FundingApplied)]
    assert received.amount == D("0.996")
    assert w.held(BTC).funding == D("-0.996")


def test_rejected_entry_is_counted_and_leaves_a_clean_state(world_with: WorldFactory) -> None:
    """The venue's account holds less than the engine believes: the entry is refused for margin,
    counted once, and the engine forgets it: no pending entry, no orders, no position."""
    w = world_with()
    w.venue = SimulatedVenue(bundled_rules(), FeeConfig(), D("1000"))
    w.bar(BTC, 60000, signal=w.long(BTC))
    assert [r.code for r in w.rejections] == [-2019]
    assert w.venue.rejections == {"-2019": 1}
    assert w.state.pending == () and w.state.orders == () and w.state.positions == ()
    assert [n.kind for n in w.notices("order_rejected")] == ["order_rejected"]
    assert w.state.balance == D("10000") and w.state.available() == 10000.0
    w.bar(BTC, 60000, signal=w.long(BTC))
    assert w.venue.rejections == {"-2019": 2}
    w.bar(BTC, 60000)
    assert w.trades == [] and w.venue.positions == {}


def test_engine_step_is_pure_and_deterministic(world_with: WorldFactory) -> None:
    """Every recorded transition replays to the same state and commands; the input state is
    untouched (the world checks that on every step as well)."""
    w = fifteen_minute_world(world_with)
    random_run(w, seed=7)
    assert len(w.trades) >= 3
    for before, event, after, commands in w.transitions:
        again, again_cmds = w.engine.step(before, event)
        assert again == after
        assert again_cmds == commands


def test_same_events_same_run(world_with: WorldFactory) -> None:
    a = fifteen_minute_world(world_with)
    b = fifteen_minute_world(world_with)
    random_run(a, seed=11)
    random_run(b, seed=11)
    assert a.trades == b.trades
    assert a.commands == b.commands
    assert a.state == b.state


def test_client_order_ids_are_valid_unique_and_deterministic(world_with: WorldFactory) -> None:
    a = fifteen_minute_world(world_with)
    random_run(a, seed=3)
    ids = [c.order.client_id for c in a.commands if isinstance(c, PlaceOrder)]
    assert len(ids) > 10
    assert all(CLIENT_ID.match(i) and len(i) <= 36 for i in ids)
    assert len(set(ids)) == len(ids)
    purposes = {c.order.purpose for c in a.commands if isinstance(c, PlaceOrder)}
    for c in a.commands:
        if isinstance(c, PlaceOrder):
            assert c.order.client_id.endswith("-" + c.order.purpose.value)
    assert OrderPurpose.ENTRY in purposes and OrderPurpose.STOP_LOSS in purposes
    b = fifteen_minute_world(world_with)
    random_run(b, seed=3)
    assert ids == [c.order.client_id for c in b.commands if isinstance(c, PlaceOrder)]


def test_client_id_stays_short_for_huge_sequence_numbers() -> None:
    from slt.domain import client_order_id

    for seq in (1, 2**32, 2**64, 2**100):
        for purpose in OrderPurpose:
            cid = client_order_id(seq, purpose)
            assert CLIENT_ID.match(cid), cid


def test_flatten_with_an_entry_in_flight_leaves_nothing_open(world: World) -> None:
    """Data ends right after a signal: the queued entry must not open a position that nothing
    will ever close (the result would then hold fees that belong to no trade)."""
    world.open_and_fill(ETH, 3000)
    world.bar(BTC, 60000, signal=world.long(BTC))
    assert world.state.pending
    world.close_all()
    assert world.state.positions == () and world.state.pending == ()
    assert world.venue.positions == {}
    assert sum((t.net_pnl for t in world.trades), D(0)) == world.state.balance - D("10000")
    assert world.state.balance == world.venue.balance
