"""Recent trade statistics that sizing and leverage adapt to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Win rate and payoff ratio of the last trades (returns as fractions of entry notional)."""

    trades: int
    win_rate: float
    payoff: float  # mean win / mean |loss|; 0 when there are no losses or no wins

    @property
    def kelly(self) -> float:
        """Full Kelly fraction W − (1 − W) / R; ≤ 0 means no measurable edge."""
        if self.trades == 0 or self.payoff <= 0:
            return 0.0
        return self.win_rate - (1.0 - self.win_rate) / self.payoff


_LAST: list[tuple[tuple[float, ...], TradeStats]] = []


def trade_stats(returns: tuple[float, ...]) -> TradeStats:
    """Stats of `returns`; the last answer is kept for the same tuple (the engine's recent
    returns change only when a trade closes, but every entry asks)."""
    if _LAST and _LAST[0][0] is returns:
        return _LAST[0][1]
    stats = _trade_stats(returns)
    _LAST[:] = [(returns, stats)]
    return stats


def _trade_stats(returns: tuple[float, ...]) -> TradeStats:
    wins = [r for r in returns if r > 0]
    losses = [-r for r in returns if r <= 0]
    n = len(returns)
    if n == 0:
        return TradeStats(0, 0.0, 0.0)
    payoff = (sum(wins) / len(wins)) / (sum(losses) / len(losses)) if wins and losses else 0.0
    if wins and not losses:
        payoff = float("inf")
    return TradeStats(n, len(wins) / n, payoff)
