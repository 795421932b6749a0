"""Dynamic leverage: more with a good record and a confident signal, but never above the symbol's
bracket, the configured cap, or the point where the exchange would liquidate before our stop."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import RiskConfig
from slt.risk.leverage import choose_leverage, desired_leverage
from slt.risk.stats import TradeStats
from slt.rules import bundled_rules, isolated_liquidation_price

RULES = bundled_rules()
SYMBOLS = sorted(RULES)

stats_st = st.builds(
    TradeStats,
    st.integers(min_value=0, max_value=100),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=5.0),
)


@settings(max_examples=60, deadline=None)
@given(stats=stats_st, confidence=st.floats(min_value=-1.0, max_value=2.0))
def test_desired_leverage_stays_within_the_configured_range(
    stats: TradeStats, confidence: float
) -> None:
    cfg = RiskConfig(min_leverage=3, max_leverage=12)
    assert 3 <= desired_leverage(cfg, stats, confidence) <= 12


def test_desired_leverage_follows_win_rate_and_confidence() -> None:
    cfg = RiskConfig(min_leverage=4, max_leverage=10, kelly_min_trades=20)
    losing = TradeStats(30, 0.25, 1.0)
    winning = TradeStats(30, 0.75, 1.0)
    middling = TradeStats(30, 0.5, 1.0)
    assert desired_leverage(cfg, losing, 1.0) == 4
    assert desired_leverage(cfg, winning, 1.0) == 10
    assert desired_leverage(cfg, middling, 1.0) == 4 + int(6 * 0.5)
    assert desired_leverage(cfg, winning, 0.5) == 4 + int(6 * 0.5)
    # Before enough trades the record counts as average (factor 0.5), whatever it says.
    assert desired_leverage(cfg, TradeStats(5, 1.0, 9.0), 1.0) == 7


@settings(max_examples=200, deadline=None)
@given(
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from([1, -1]),
    notional=st.floats(min_value=5.0, max_value=3_000_000.0),
    sl_pct=st.floats(min_value=0.002, max_value=0.3),
    buffer=st.floats(min_value=0.0, max_value=0.05),
    cap=st.integers(min_value=1, max_value=125),
    stats=stats_st,
    confidence=st.floats(min_value=0.0, max_value=1.0),
)
def test_chosen_leverage_keeps_liquidation_beyond_the_stop_and_within_limits(
    symbol: str,
    side: int,
    notional: float,
    sl_pct: float,
    buffer: float,
    cap: int,
    stats: TradeStats,
    confidence: float,
) -> None:
    rules = RULES.get(symbol)
    cfg = RiskConfig(
        max_leverage=cap,
        min_leverage=1,
        liquidation_buffer_pct=buffer,
        stop_loss_pct=sl_pct,
    )
    entry = Decimal("1000")
    qty = Decimal(repr(round(notional / 1000, 6)))
    if qty <= 0:
        return
    stop = entry * (1 - side * Decimal(repr(sl_pct)))
    lev = choose_leverage(
        cfg,
        rules,
        side=side,
        quantity=qty,
        entry_price=entry,
        stop_price=stop,
        stats=stats,
        confidence=confidence,
    )
    if lev == 0:
        return  # no leverage is safe: the entry is refused, which is always allowed
    assert 1 <= lev <= cap
    assert lev <= rules.max_leverage_for(qty * entry)
    liq = isolated_liquidation_price(
        rules, side=side, quantity=qty, entry_price=entry, wallet_balance=qty * entry / lev
    )
    limit = stop - side * Decimal(repr(buffer)) * entry
    if liq is None:
        assert side == 1  # a long that cannot be liquidated at all
    elif side == 1:
        assert liq <= limit
    else:
        assert liq >= limit


def test_wide_stop_forces_low_leverage() -> None:
    # A 20 % stop with a 0.5 % buffer: at 5x a long is liquidated near −19.6 %, inside the stop.
    cfg = RiskConfig(stop_loss_pct=0.2, max_leverage=20, min_leverage=10)
    lev = choose_leverage(
        cfg,
        RULES.get("BTCUSDT"),
        side=1,
        quantity=Decimal("0.1"),
        entry_price=Decimal("50000"),
        stop_price=Decimal("40000"),
        stats=TradeStats(0, 0.0, 0.0),
        confidence=1.0,
    )
    assert 1 <= lev < 5


def test_short_with_an_unreachable_stop_gets_no_leverage() -> None:
    # A short stopped out at +150 %: even 1x is liquidated near +100 %, before the stop.
    lev = choose_leverage(
        RiskConfig(),
        RULES.get("BTCUSDT"),
        side=-1,
        quantity=Decimal("0.1"),
        entry_price=Decimal("50000"),
        stop_price=Decimal("125000"),
        stats=TradeStats(0, 0.0, 0.0),
        confidence=1.0,
    )
    assert lev == 0


def _lev(cfg: RiskConfig, symbol: str, notional: int) -> int:
    entry = Decimal("100")
    return choose_leverage(
        cfg,
        RULES.get(symbol),
        side=1,
        quantity=Decimal(notional) / entry,
        entry_price=entry,
        stop_price=entry * (1 - Decimal(repr(cfg.stop_loss_pct))),
        stats=TradeStats(0, 0.0, 0.0),
        confidence=1.0,
    )


def test_bracket_binds_when_the_symbol_allows_less_than_wanted() -> None:
    """FTTUSDT allows at most 8x; a tight stop would otherwise allow far more."""
    cfg = RiskConfig(
        max_leverage=125, min_leverage=125, stop_loss_pct=0.002, liquidation_buffer_pct=0
    )
    assert RULES.get("FTTUSDT").highest_leverage == 8
    assert _lev(cfg, "FTTUSDT", 1_000) == 8


def test_bracket_of_the_notional_binds_for_large_positions() -> None:
    """BTCUSDT: 125x below 50k notional, 75x between 600k and 3M."""
    cfg = RiskConfig(
        max_leverage=125, min_leverage=125, stop_loss_pct=0.002, liquidation_buffer_pct=0
    )
    assert _lev(cfg, "BTCUSDT", 2_000_000) == 75


def test_configured_cap_binds_below_the_bracket() -> None:
    cfg = RiskConfig(max_leverage=7, min_leverage=7, stop_loss_pct=0.01)
    assert _lev(cfg, "BTCUSDT", 10_000) == 7
