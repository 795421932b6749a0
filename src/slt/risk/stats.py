"""Recent trade statistics that sizing and leverage adapt to."""

from __future__ import annotations


class TradeStats:
    """Win rate and payoff ratio of the last trades (returns as fractions of entry notional).

    `payoff` is mean win / mean |loss|, 0 with no wins, infinite with wins and no loss of any
    size. Stats made by `trade_stats` work it out from the returns when first asked: every
    entry reads the count and win rate (leverage), only Kelly sizing reads the payoff, and the
    returns change at every closed trade. Compared and hashed by the three numbers."""

    __slots__ = ("_payoff", "_returns", "trades", "win_rate")

    def __init__(
        self,
        trades: int,
        win_rate: float,
        payoff: float | None = None,
        returns: tuple[float, ...] = (),
    ) -> None:
        """`payoff` as given, or (None) from `returns` on first use."""
        self.trades = trades
        self.win_rate = win_rate
        self._payoff = payoff
        self._returns = returns

    @property
    def payoff(self) -> float:
        if self._payoff is None:
            self._payoff = _payoff(self._returns)
        return self._payoff

    @property
    def kelly(self) -> float:
        """Full Kelly fraction W − (1 − W) / R; ≤ 0 means no measurable edge."""
        if self.trades == 0 or self.payoff <= 0:
            return 0.0
        return self.win_rate - (1.0 - self.win_rate) / self.payoff

    def _key(self) -> tuple[int, float, float]:
        return (self.trades, self.win_rate, self.payoff)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TradeStats):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"TradeStats(trades={self.trades}, win_rate={self.win_rate}, payoff={self.payoff})"


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
    n = len(returns)
    if n == 0:
        return TradeStats(0, 0.0, 0.0)
    return TradeStats(n, len([r for r in returns if r > 0]) / n, None, returns)


def _payoff(returns: tuple[float, ...]) -> float:
    """Mean win / mean |loss|. Trades that returned exactly 0 count as losses of size 0: with
    no loss of any size the payoff is infinite (as with wins only), never a division by 0."""
    wins = [r for r in returns if r > 0]
    if not wins:
        return 0.0
    losses = [-r for r in returns if r <= 0]
    mean_loss = _total(losses) / len(losses) if losses else 0.0
    if mean_loss <= 0:
        return float("inf")
    return (_total(wins) / len(wins)) / mean_loss


def _total(values: list[float]) -> float:
    """The floats added left to right. Not `sum()`: from Python 3.12 on it compensates the
    rounding of float sums, so sizing would differ by interpreter version and a backtest would
    not replay the same trades on 3.11 and 3.12. This is the sum CPython 3.11 computes."""
    total = 0.0
    for v in values:
        total += v
    return total
