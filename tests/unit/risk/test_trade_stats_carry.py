"""`trade_stats` remembers its last answer: over any sequence of closed trades, growing and then
sliding over a lookback, and with unrelated windows asked in between, every answer equals a
full count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from slt.risk.stats import TradeStats, trade_stats

returns = st.floats(-0.2, 0.2, allow_nan=False)


def counted(window: tuple[float, ...]) -> TradeStats:
    n = len(window)
    if n == 0:
        return TradeStats(0, 0.0, 0.0)
    return TradeStats(n, len([r for r in window if r > 0]) / n, None, window)


@given(
    closed=st.lists(returns, max_size=80),
    lookback=st.integers(1, 30),
    other=st.lists(returns, max_size=10),
    every=st.integers(1, 20),
)
def test_every_answer_equals_a_full_count(
    closed: list[float], lookback: int, other: list[float], every: int
) -> None:
    window: tuple[float, ...] = ()
    for i, r in enumerate(closed):
        window = (*window, r)[-lookback:]  # a new tuple per closed trade, as the engine keeps
        got = trade_stats(window)
        assert (got.trades, got.win_rate) == (counted(window).trades, counted(window).win_rate)
        assert got.payoff == counted(window).payoff or got.payoff != got.payoff
        if i % every == 0:
            unrelated = tuple(other)
            assert trade_stats(unrelated).win_rate == counted(unrelated).win_rate
