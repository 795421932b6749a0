"""Position sizing: the loss at the stop is the risk budget, never more.

Fixed risk sizes so that hitting the stop costs `risk_per_trade` × equity; Kelly scales that by
the recent record and the signal's confidence but stays within `max_risk_per_trade` and the ATR
volatility cap. These are the numbers that decide how much real money a bad trade can lose.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import RiskConfig
from slt.risk.sizing import risk_fraction, target_quantity
from slt.risk.stats import TradeStats, trade_stats

NO_HISTORY = TradeStats(0, 0.0, 0.0)
GOOD_HISTORY = TradeStats(50, 0.6, 2.0)  # full Kelly 0.6 − 0.4/2 = 0.4
BAD_HISTORY = TradeStats(50, 0.3, 1.0)  # full Kelly −0.4: no edge

equities = st.floats(min_value=10.0, max_value=10_000_000.0)
prices = st.floats(min_value=1e-4, max_value=200_000.0)
stop_pcts = st.floats(min_value=0.001, max_value=0.5)
confidences = st.floats(min_value=0.0, max_value=1.0)
atrs = st.floats(min_value=0.0, max_value=0.2)
histories = st.builds(
    TradeStats,
    st.integers(min_value=0, max_value=200),
    st.floats(min_value=0.0, max_value=1.0),
    st.one_of(st.floats(min_value=0.0, max_value=20.0), st.just(math.inf)),
)


def test_fixed_risk_loses_exactly_the_budget_at_the_stop() -> None:
    cfg = RiskConfig(risk_per_trade=0.01)
    qty, max_qty = target_quantity(
        cfg,
        equity=10_000,
        entry_price=50_000,
        stop_distance_pct=0.02,
        atr_pct=0.01,
        stats=NO_HISTORY,
        confidence=0.5,
    )
    # 1 % of 10 000 = 100 USDT over a 1 000 USDT/BTC stop distance = 0.1 BTC.
    assert qty == pytest.approx(0.1)
    assert max_qty == pytest.approx(0.2)  # the max_risk_per_trade (2 %) ceiling


@settings(max_examples=150, deadline=None)
@given(
    equity=equities,
    price=prices,
    stop=stop_pcts,
    atr=atrs,
    stats=histories,
    confidence=confidences,
    mode=st.sampled_from(["fixed_risk", "kelly"]),
)
def test_loss_at_stop_never_exceeds_the_risk_budget(
    equity: float,
    price: float,
    stop: float,
    atr: float,
    stats: TradeStats,
    confidence: float,
    mode: str,
) -> None:
    cfg = RiskConfig(sizing=mode)
    qty, max_qty = target_quantity(
        cfg,
        equity=equity,
        entry_price=price,
        stop_distance_pct=stop,
        atr_pct=atr,
        stats=stats,
        confidence=confidence,
    )
    loss = qty * price * stop
    budget = equity * risk_fraction(cfg, stats, confidence)
    assert 0 < qty <= max_qty * (1 + 1e-12)
    assert loss <= budget * (1 + 1e-9)
    assert max_qty * price * stop <= equity * cfg.max_risk_per_trade * (1 + 1e-9)
    if mode == "fixed_risk":
        assert loss == pytest.approx(budget, rel=1e-9)
    if mode == "kelly" and atr > 0:
        # Volatility target: one ATR of adverse move costs at most the target share of equity.
        assert qty * price * atr <= equity * cfg.atr_volatility_target * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(stats=histories, confidence=confidences)
def test_kelly_risk_stays_between_a_floor_and_the_ceiling(
    stats: TradeStats, confidence: float
) -> None:
    cfg = RiskConfig(sizing="kelly")
    fraction = risk_fraction(cfg, stats, confidence)
    assert 0.25 * cfg.risk_per_trade <= fraction <= cfg.max_risk_per_trade


def test_kelly_uses_fixed_risk_until_enough_trades_are_known() -> None:
    cfg = RiskConfig(sizing="kelly", kelly_min_trades=20)
    few = TradeStats(19, 0.9, 5.0)
    assert risk_fraction(cfg, few, 1.0) == cfg.risk_per_trade


def test_kelly_grows_with_edge_and_confidence_and_floors_without_edge() -> None:
    cfg = RiskConfig(sizing="kelly", kelly_fraction=0.25, risk_per_trade=0.01)
    # 0.25 × 0.4 × 0.1 = 0.01; with full confidence 0.1, capped at max_risk_per_trade 0.02.
    assert risk_fraction(cfg, GOOD_HISTORY, 0.1) == pytest.approx(0.01)
    assert risk_fraction(cfg, GOOD_HISTORY, 1.0) == pytest.approx(cfg.max_risk_per_trade)
    assert risk_fraction(cfg, GOOD_HISTORY, 0.05) < risk_fraction(cfg, GOOD_HISTORY, 0.1)
    assert risk_fraction(cfg, BAD_HISTORY, 1.0) == pytest.approx(0.25 * cfg.risk_per_trade)


def test_fixed_risk_ignores_history_and_confidence() -> None:
    cfg = RiskConfig(sizing="fixed_risk")
    assert risk_fraction(cfg, GOOD_HISTORY, 1.0) == cfg.risk_per_trade
    assert risk_fraction(cfg, BAD_HISTORY, 0.0) == cfg.risk_per_trade


def test_atr_cap_binds_in_a_volatile_market() -> None:
    cfg = RiskConfig(sizing="kelly", atr_volatility_target=0.02)
    calm, _ = target_quantity(
        cfg,
        equity=10_000,
        entry_price=100,
        stop_distance_pct=0.01,
        atr_pct=0.001,
        stats=NO_HISTORY,
        confidence=1.0,
    )
    wild, wild_max = target_quantity(
        cfg,
        equity=10_000,
        entry_price=100,
        stop_distance_pct=0.01,
        atr_pct=0.05,
        stats=NO_HISTORY,
        confidence=1.0,
    )
    assert calm == pytest.approx(100.0)  # 1 % of 10 000 over 1 USDT per unit
    assert wild == pytest.approx(40.0)  # 10 000 × 0.02 / (0.05 × 100)
    assert wild_max == pytest.approx(40.0)


def test_fixed_quantity_mode_trades_the_configured_size() -> None:
    cfg = RiskConfig(sizing="fixed_quantity", fixed_quantity=0.5)
    assert target_quantity(
        cfg,
        equity=10_000,
        entry_price=100,
        stop_distance_pct=0.01,
        atr_pct=0.01,
        stats=NO_HISTORY,
        confidence=1.0,
    ) == (0.5, 0.5)


@pytest.mark.parametrize(("equity", "price"), [(0.0, 100.0), (-5.0, 100.0), (1000.0, 0.0)])
def test_no_equity_or_no_price_means_no_trade(equity: float, price: float) -> None:
    assert target_quantity(
        RiskConfig(),
        equity=equity,
        entry_price=price,
        stop_distance_pct=0.01,
        atr_pct=0.01,
        stats=NO_HISTORY,
        confidence=1.0,
    ) == (0.0, 0.0)


# -- trade statistics ---------------------------------------------------------------------------


def test_trade_stats_win_rate_and_payoff() -> None:
    stats = trade_stats((0.02, -0.01, 0.04, -0.01))
    assert stats.trades == 4
    assert stats.win_rate == 0.5
    assert stats.payoff == pytest.approx(3.0)  # mean win 0.03 / mean loss 0.01
    assert stats.kelly == pytest.approx(0.5 - 0.5 / 3.0)


def test_trade_stats_edge_cases() -> None:
    assert trade_stats(()) == TradeStats(0, 0.0, 0.0)
    assert trade_stats(()).kelly == 0.0
    only_wins = trade_stats((0.01, 0.02))
    assert only_wins.payoff == math.inf and only_wins.kelly == 1.0
    only_losses = trade_stats((-0.01, 0.0))  # a scratch trade counts as a loss
    assert only_losses.win_rate == 0.0 and only_losses.kelly == 0.0
    # wins and scratch trades only: losses of size 0, so no loss to divide by (this raised
    # ZeroDivisionError in Kelly sizing, i.e. inside the engine's step)
    scratches = trade_stats((0.02, 0.0, 0.0, 0.01))
    assert scratches.payoff == math.inf and scratches.kelly == scratches.win_rate == 0.5


@given(st.lists(st.sampled_from([0.0, -0.0, 0.01, -0.01, 0.03, 1e-300]), max_size=60))
def test_trade_stats_never_raise_and_kelly_stays_a_fraction(returns: list[float]) -> None:
    stats = trade_stats(tuple(returns))
    assert stats.payoff >= 0.0
    assert stats.kelly <= 1.0


@given(
    st.lists(st.floats(min_value=-1.0, max_value=1.0, allow_nan=False).filter(bool), max_size=60)
)
def test_trade_stats_payoff_worked_out_on_first_use_is_the_plain_one(returns: list[float]) -> None:
    """The payoff `trade_stats` leaves for first use is the one of the plain formula, and the
    stats equal the ones built with all three numbers given."""
    wins = [r for r in returns if r > 0]
    losses = [-r for r in returns if r <= 0]
    n = len(returns)
    if not n:
        payoff = 0.0
    elif wins and not losses:
        payoff = math.inf
    else:
        payoff = (sum(wins) / len(wins)) / (sum(losses) / len(losses)) if wins and losses else 0.0
    stats = trade_stats(tuple(returns))
    assert stats.trades == n
    assert stats.win_rate == (len(wins) / n if n else 0.0)
    assert stats.payoff == payoff
    assert stats == TradeStats(n, stats.win_rate, payoff)
