"""Rotation: the weakest open position is replaced only by a clearly stronger signal whose extra
expected return pays for the round trip (fees and slippage) plus a configured edge."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import FeeConfig, RiskConfig
from slt.domain import ExitReason, Position, Side, Signal
from slt.risk.portfolio import rotation_victim, round_trip_cost, signal_strength

T0 = 1_704_067_200_000
FEES = FeeConfig()  # taker 0.05 %, slippage 0.02 %: round trip 0.14 %
CFG = RiskConfig()  # rotation_min_edge 0.2 %


def held(symbol: str, er: float, conf: float, entry_ms: int = T0, **kw: object) -> Position:
    return Position(
        symbol=symbol,
        side=Side.LONG,
        quantity=Decimal("1"),
        entry_price=Decimal("100"),
        entry_time_ms=entry_ms,
        leverage=5,
        margin=Decimal("20"),
        initial_quantity=Decimal("1"),
        stop_price=Decimal("99"),
        take_profit_price=Decimal("102"),
        partial_price=None,
        stop_client_id="slt-1-SL",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=100.0,
        mark_price=100.0,
        liquidation_price=None,
        expected_return=er,
        confidence=conf,
        source="test",
        **kw,  # type: ignore[arg-type]
    )


def candidate(er: float, conf: float) -> Signal:
    return Signal("NEWUSDT", T0, 1, er, conf, 0.005)


def test_round_trip_cost_is_two_taker_fills_with_slippage() -> None:
    assert round_trip_cost(FEES) == pytest.approx(0.0014)
    assert round_trip_cost(FeeConfig(taker_rate=0, slippage_pct=0)) == 0


def test_the_weakest_position_is_rotated_out_when_the_edge_pays() -> None:
    book = [held("A", 0.010, 0.9), held("B", 0.004, 0.5), held("C", 0.008, 0.8)]
    threshold = 0.004 + round_trip_cost(FEES) + CFG.rotation_min_edge  # 0.0074
    assert rotation_victim(CFG, FEES, book, candidate(threshold + 1e-6, 0.9)) is book[1]
    assert rotation_victim(CFG, FEES, book, candidate(threshold - 1e-6, 0.9)) is None


def test_no_rotation_for_a_weaker_signal_even_with_more_expected_return() -> None:
    book = [held("A", 0.004, 0.9)]
    # 0.02 × 0.1 = 0.002 < 0.004 × 0.9 = 0.0036: more return, less conviction
    assert rotation_victim(CFG, FEES, book, candidate(0.02, 0.1)) is None


def test_ties_rotate_the_oldest_and_closing_positions_are_not_candidates() -> None:
    old = held("OLD", 0.004, 0.5, entry_ms=T0)
    new = held("NEW", 0.004, 0.5, entry_ms=T0 + 60_000)
    assert rotation_victim(CFG, FEES, [new, old], candidate(0.05, 1.0)) is old
    closing = held("X", 0.0, 0.1, closing_reason=ExitReason.TIME_EXIT)
    assert rotation_victim(CFG, FEES, [closing, new], candidate(0.05, 1.0)) is new
    assert rotation_victim(CFG, FEES, [closing], candidate(0.05, 1.0)) is None
    assert rotation_victim(CFG, FEES, [], candidate(0.05, 1.0)) is None


@settings(max_examples=150, deadline=None)
@given(
    book=st.lists(st.tuples(st.floats(0.0, 0.05), st.floats(0.0, 1.0)), min_size=1, max_size=5),
    er=st.floats(0.0, 0.1),
    conf=st.floats(0.0, 1.0),
    taker=st.floats(0.0, 0.001),
    slip=st.floats(0.0, 0.001),
    edge=st.floats(0.0, 0.01),
)
def test_a_rotation_always_beats_the_round_trip_and_picks_the_weakest(
    book: list[tuple[float, float]],
    er: float,
    conf: float,
    taker: float,
    slip: float,
    edge: float,
) -> None:
    fees = FeeConfig(taker_rate=taker, slippage_pct=slip)
    cfg = RiskConfig(rotation_min_edge=edge)
    positions = [held(f"S{i}", e, c, entry_ms=T0 + i) for i, (e, c) in enumerate(book)]
    victim = rotation_victim(cfg, fees, positions, candidate(er, conf))
    if victim is None:
        return
    assert er - victim.expected_return > round_trip_cost(fees) + edge
    assert signal_strength(er, conf) > signal_strength(victim.expected_return, victim.confidence)
    weakest = min(signal_strength(p.expected_return, p.confidence) for p in positions)
    assert signal_strength(victim.expected_return, victim.confidence) == weakest
