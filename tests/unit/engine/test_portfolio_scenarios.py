"""At most three positions, and rotation out of the weakest only when the stronger signal's extra
expected return pays for the round trip, end to end through the Engine and the venue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slt.config import FeeConfig
from slt.domain import Candle, ExitReason, OrderPurpose, Signal

if TYPE_CHECKING:
    from conftest import World, WorldFactory

PRICES = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0, "SOLUSDT": 100.0, "LTCUSDT": 70.0}


def step(
    w: World, signals: dict[str, Signal] | None = None, moved: dict[str, float] | None = None
) -> None:
    """One flat candle for every symbol (at `moved` prices where given), with `signals`."""
    prices = PRICES | (moved or {})
    candles = [
        Candle(s, w.now, w.now + w.interval_ms - 1, p, p, p, p, 1.0) for s, p in prices.items()
    ]
    w.step(candles, signals)


def three_open(w: World) -> None:
    """BTC, ETH and SOL held with strengths 0.008, 0.0072 and 0.0064 (expected return × conf)."""
    step(
        w,
        {
            "BTCUSDT": w.long("BTCUSDT", expected_return=0.010, confidence=0.8),
            "ETHUSDT": w.long("ETHUSDT", expected_return=0.009, confidence=0.8),
            "SOLUSDT": w.long("SOLUSDT", expected_return=0.008, confidence=0.8),
        },
    )
    step(w)
    assert sorted(p.symbol for p in w.state.positions) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def entries(w: World) -> list[str]:
    return [c.order.symbol for c in w.placed() if c.order.purpose is OrderPurpose.ENTRY]


def test_at_most_three_positions_strongest_signals_first(world: World) -> None:
    step(
        world,
        {
            "LTCUSDT": world.long("LTCUSDT", expected_return=0.007, confidence=0.8),
            "SOLUSDT": world.long("SOLUSDT", expected_return=0.008, confidence=0.8),
            "ETHUSDT": world.short("ETHUSDT", expected_return=0.009, confidence=0.8),
            "BTCUSDT": world.long("BTCUSDT", expected_return=0.010, confidence=0.8),
        },
    )
    assert entries(world) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert world.state.active_count() == 3
    step(world)
    assert len(world.state.positions) == 3 and len(world.venue.positions) == 3
    # a fourth signal of ordinary strength waits
    step(world, {"LTCUSDT": world.long("LTCUSDT", expected_return=0.009, confidence=0.8)})
    assert entries(world) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def test_rotation_replaces_the_weakest_when_the_edge_beats_fees(world: World) -> None:
    three_open(world)
    # weakest is SOL (0.008); fees 2 × (0.05 % + 0.02 %) = 0.14 % plus 0.2 % edge: needs > 1.14 %
    step(world, {"LTCUSDT": world.long("LTCUSDT", expected_return=0.0113, confidence=0.8)})
    assert entries(world)[3:] == []
    step(world, {"LTCUSDT": world.long("LTCUSDT", expected_return=0.0115, confidence=0.8)})
    assert entries(world)[3:] == ["LTCUSDT"]
    sol = world.position("SOLUSDT")
    assert sol is not None and sol.closing_reason is ExitReason.ROTATION
    step(world)
    (trade,) = world.trades
    assert (trade.symbol, trade.exit_reason) == ("SOLUSDT", ExitReason.ROTATION)
    assert sorted(p.symbol for p in world.state.positions) == ["BTCUSDT", "ETHUSDT", "LTCUSDT"]
    assert world.state.active_count() == 3


def test_no_rotation_when_fees_eat_the_edge(world_with: WorldFactory) -> None:
    """With 0.1 % taker fees and 0.1 % slippage the round trip costs 0.4 %: the same 1.15 %
    signal no longer clears 0.8 % + 0.4 % + 0.2 %."""
    w = world_with(fees=FeeConfig(taker_rate=0.001, slippage_pct=0.001))
    three_open(w)
    step(w, {"LTCUSDT": w.long("LTCUSDT", expected_return=0.0115, confidence=0.8)})
    assert entries(w)[3:] == []
    step(w, {"LTCUSDT": w.long("LTCUSDT", expected_return=0.0141, confidence=0.8)})
    assert entries(w)[3:] == ["LTCUSDT"]


def test_a_closing_position_frees_its_slot(world: World) -> None:
    three_open(world)
    # a reversal on SOL closes it; the LTC signal at the same close takes the freed slot
    step(
        world,
        {
            "SOLUSDT": world.short("SOLUSDT", expected_return=0.001, confidence=0.1),
            "LTCUSDT": world.long("LTCUSDT", expected_return=0.001, confidence=0.1),
        },
    )
    assert "LTCUSDT" in entries(world)
    step(world)
    assert world.state.active_count() <= 3
    assert len(world.venue.positions) <= 3


def test_equity_counts_unrealised_pnl_of_every_position(world: World) -> None:
    """Equity = wallet + uPnL. The three longs filled above the close (slippage), so each is
    at a small loss, and available = wallet + uPnL − margin at the mark, as on the exchange."""
    three_open(world)
    state = world.state
    at_mark = sum(float(p.quantity) * p.mark_price / p.leverage for p in state.positions)
    upnl = sum(p.unrealized_pnl(p.mark_price) for p in state.positions)
    assert all(p.unrealized_pnl(p.mark_price) < 0 for p in state.positions)
    assert state.equity() == float(state.balance) + upnl
    assert abs(state.equity() - (state.available() + at_mark)) < 1e-6
    before = state.equity()
    step(world, moved={"BTCUSDT": 60300.0})  # below the scale-out: nothing fills
    btc = world.position("BTCUSDT")
    assert btc is not None and btc.mark_price == 60300.0
    move = float(btc.quantity) * 300.0
    assert abs(world.state.equity() - before - move) < 1e-6
    assert world.state.balance == state.balance  # unrealised: the wallet did not move
