"""Portfolio rules: at most N positions, and rotation out of the weakest into a clearly
stronger signal when the gain in expected return pays for the round trip."""

from __future__ import annotations

from collections.abc import Sequence

from slt.config import FeeConfig, RiskConfig
from slt.domain import Position, Signal


def signal_strength(expected_return: float, confidence: float) -> float:
    """The number positions and signals are ranked by: expected return weighted by confidence."""
    return expected_return * confidence


def round_trip_cost(fees: FeeConfig) -> float:
    """Fraction of notional a market-in, market-out trade costs in fees and slippage."""
    return 2.0 * (fees.taker_rate + fees.slippage_pct)


def rotation_victim(
    cfg: RiskConfig, fees: FeeConfig, positions: Sequence[Position], candidate: Signal
) -> Position | None:
    """The open position to replace with `candidate`, or None.

    The weakest position (lowest strength, ties broken by the oldest entry) is replaced only when
    the candidate's expected return exceeds the weakest's by the round-trip cost plus
    `rotation_min_edge`: rotating on noise only pays the exchange.
    """
    live = [p for p in positions if p.closing_reason is None]
    if not live:
        return None
    weakest = min(
        live, key=lambda p: (signal_strength(p.expected_return, p.confidence), p.entry_time_ms)
    )
    gain = candidate.expected_return - weakest.expected_return
    stronger = signal_strength(candidate.expected_return, candidate.confidence) > signal_strength(
        weakest.expected_return, weakest.confidence
    )
    if stronger and gain > round_trip_cost(fees) + cfg.rotation_min_edge:
        return weakest
    return None
