"""Margin, maintenance margin and isolated liquidation price, against the FAQ and by property."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.rules import (
    Bracket,
    SymbolRules,
    bundled_rules,
    initial_margin,
    isolated_liquidation_price,
    maintenance_margin,
    max_leverage_within_stop,
    notional,
)

D = Decimal
CENT = D("0.01")
BTC = bundled_rules().get("BTCUSDT")
ILLUSTRATIVE = dataclasses.replace(
    BTC,
    brackets=(
        Bracket(1, D(0), D(50_000), 125, D("0.004"), D(0)),
        Bracket(2, D(50_000), D(250_000), 100, D("0.005"), D(50)),
        Bracket(3, D(250_000), D(1_000_000), 50, D("0.01"), D(1_300)),
        Bracket(4, D(1_000_000), D(5_000_000), 20, D("0.025"), D(16_300)),
        Bracket(5, D(5_000_000), D(20_000_000), 10, D("0.05"), D(141_300)),
    ),
)


def liq(rules: SymbolRules, side: int, qty: str, entry: str, wallet: str) -> Decimal | None:
    return isolated_liquidation_price(
        rules, side=side, quantity=D(qty), entry_price=D(entry), wallet_balance=D(wallet)
    )


# -- worked examples of the protocol notes §11.3 (illustrative brackets) -----------------------


def test_long_one_btc_at_10x() -> None:
    price = liq(ILLUSTRATIVE, 1, "1", "10000", "1000")
    assert price is not None and price.quantize(CENT) == D("9036.14")


def test_short_one_btc_at_10x() -> None:
    price = liq(ILLUSTRATIVE, -1, "1", "10000", "1000")
    assert price is not None and price.quantize(CENT) == D("10956.18")


def test_long_ten_btc_uses_the_second_bracket() -> None:
    price = liq(ILLUSTRATIVE, 1, "10", "10000", "10000")
    assert price is not None and price.quantize(CENT) == D("9040.20")
    margin_balance = D(10_000) + 10 * (price - 10_000)
    assert margin_balance.quantize(CENT) == D("402.01")
    assert maintenance_margin(ILLUSTRATIVE, 10 * price).quantize(CENT) == D("402.01")


def test_bracket_at_the_liquidation_price_not_at_entry_is_used() -> None:
    # Entry notional 260,000 is in bracket 3, but at 10x the position is liquidated near
    # 234,000 notional, in bracket 2; the answer must satisfy bracket 2's equation.
    price = liq(ILLUSTRATIVE, 1, "26", "10000", "26000")
    assert price is not None and ILLUSTRATIVE.bracket_for(26 * price).bracket == 2
    margin_balance = D(26_000) + 26 * (price - 10_000)
    assert abs(margin_balance - maintenance_margin(ILLUSTRATIVE, 26 * price)) < D("1e-15")


def test_fully_collateralised_long_cannot_be_liquidated() -> None:
    assert liq(ILLUSTRATIVE, 1, "1", "10000", "10000") is None
    assert liq(ILLUSTRATIVE, 1, "1", "10000", "20000") is None
    short = liq(ILLUSTRATIVE, -1, "1", "10000", "10000")
    assert short is not None and short > 19_000


def test_faq_maintenance_amounts() -> None:
    assert maintenance_margin(ILLUSTRATIVE, D(264_000)) == D(264_000) * D("0.01") - 1_300
    assert maintenance_margin(ILLUSTRATIVE, D(500_000)) == D(3_700)
    assert maintenance_margin(ILLUSTRATIVE, D(-500_000)) == D(3_700)
    assert maintenance_margin(ILLUSTRATIVE, D(0)) == 0


def test_notional_and_initial_margin() -> None:
    assert notional(D("0.009"), D("67445.9")) == D("607.0131")
    assert notional(D("-2"), D("100")) == D(200)
    assert initial_margin(D(1000), 10) == D(100)
    assert initial_margin(D(-1000), 3).quantize(CENT) == D("333.33")
    with pytest.raises(ValueError):
        initial_margin(D(1000), 0)


def test_inconsistent_cum_liquidates_at_the_bracket_edge() -> None:
    # cum of bracket 2 is 1,000 too high, so maintenance margin drops by 1,000 at 50,000 notional.
    # Long 5.2 @ 10,000 with 1,700 wallet: just above the edge price (50,000 / 5.2) the balance
    # still covers maintenance, just below it no longer does; neither bracket's formula gives a
    # price inside its own bracket, and the edge itself is the liquidation price.
    broken = dataclasses.replace(
        ILLUSTRATIVE,
        brackets=(
            Bracket(1, D(0), D(50_000), 125, D("0.004"), D(0)),
            Bracket(2, D(50_000), D(250_000), 100, D("0.005"), D(1_050)),
        ),
    )
    price = liq(broken, 1, "5.2", "10000", "1700")
    assert price is not None and abs(price - D(50_000) / D("5.2")) < D("1e-20")


def test_invalid_positions_raise() -> None:
    with pytest.raises(ValueError):
        liq(ILLUSTRATIVE, 0, "1", "10000", "1000")
    with pytest.raises(ValueError):
        liq(ILLUSTRATIVE, 1, "0", "10000", "1000")


# -- properties -----------------------------------------------------------------------------


@st.composite
def bracket_tables(draw: st.DrawFn) -> tuple[Bracket, ...]:
    """Random bracket tables whose cum follows the FAQ formula, as Binance's do."""
    count = draw(st.integers(1, 6))
    caps = sorted(draw(st.sets(st.integers(1, 10**9), min_size=count, max_size=count)))
    ratios = sorted(draw(st.sets(st.integers(1, 500), min_size=count, max_size=count)))
    leverages = sorted(draw(st.sets(st.integers(1, 125), min_size=count, max_size=count)))
    brackets: list[Bracket] = []
    floor, cum, previous_ratio = D(0), D(0), D(0)
    for index in range(count):
        ratio = D(ratios[index]) / 1000
        cum = cum + floor * (ratio - previous_ratio)
        brackets.append(
            Bracket(index + 1, floor, D(caps[index]), leverages[-1 - index], ratio, cum)
        )
        floor, previous_ratio = D(caps[index]), ratio
    return tuple(brackets)


sides = st.sampled_from([1, -1])
quantities = st.integers(1, 10**7).map(lambda n: D(n) / 1000)
entry_prices = st.integers(1, 10**8).map(lambda n: D(n) / 100)


@settings(max_examples=100, deadline=None)
@given(
    brackets=bracket_tables(),
    side=sides,
    qty=quantities,
    entry=entry_prices,
    leverage=st.integers(1, 125),
)
def test_margin_balance_equals_maintenance_margin_at_the_liquidation_price(
    brackets: tuple[Bracket, ...], side: int, qty: Decimal, entry: Decimal, leverage: int
) -> None:
    rules = dataclasses.replace(BTC, brackets=brackets)
    wallet = qty * entry / leverage
    price = isolated_liquidation_price(
        rules, side=side, quantity=qty, entry_price=entry, wallet_balance=wallet
    )
    if price is None:
        assert side == 1
        return
    assert price > 0
    margin_balance = wallet + side * qty * (price - entry)
    required = maintenance_margin(rules, qty * price)
    assert abs(margin_balance - required) <= D("1e-8") * abs(required)
    if wallet > maintenance_margin(rules, qty * entry):  # healthy at entry: liquidation is
        assert (price < entry) if side == 1 else (price > entry)  # on the losing side


@settings(max_examples=100, deadline=None)
@given(
    brackets=bracket_tables(),
    edge_index=st.integers(0, 5),
    a=st.integers(0, 2 * 10**9),
    b=st.integers(0, 2 * 10**9),
)
def test_maintenance_margin_is_continuous_and_monotone(
    brackets: tuple[Bracket, ...], edge_index: int, a: int, b: int
) -> None:
    rules = dataclasses.replace(BTC, brackets=brackets)
    edge = brackets[min(edge_index, len(brackets) - 1)].notional_cap
    tiny = D("1e-9")
    # no jump where one bracket hands over to the next: the slope is an MMR < 1
    assert abs(maintenance_margin(rules, edge) - maintenance_margin(rules, edge - tiny)) <= tiny
    # more notional never needs less maintenance margin
    low, high = sorted((D(a), D(b)))
    assert maintenance_margin(rules, low) <= maintenance_margin(rules, high)


@settings(max_examples=60, deadline=None)
@given(
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT", "DOGEUSDT", "1000PEPEUSDT", "SOLUSDT"]),
    side=st.sampled_from([1, -1]),
    notional_usdt=st.integers(10, 50_000_000),
)
def test_liquidation_price_moves_away_from_entry_as_leverage_falls(
    symbol: str, side: int, notional_usdt: int
) -> None:
    rules = bundled_rules().get(symbol)
    entry = D("100")
    qty = D(notional_usdt) / entry
    previous: Decimal | None = None
    for leverage in range(rules.max_leverage_for(qty * entry), 0, -1):
        price = isolated_liquidation_price(
            rules, side=side, quantity=qty, entry_price=entry, wallet_balance=qty * entry / leverage
        )
        if price is None:
            assert side == 1 and leverage == 1
            break
        if previous is not None:
            assert (price < previous) if side == 1 else (price > previous)
        previous = price


def _clears(
    rules: SymbolRules, side: int, qty: Decimal, entry: Decimal, lev: int, limit: Decimal
) -> bool:
    price = isolated_liquidation_price(
        rules, side=side, quantity=qty, entry_price=entry, wallet_balance=qty * entry / lev
    )
    if price is None:
        return side == 1
    return price <= limit if side == 1 else price >= limit


@settings(max_examples=120, deadline=None)
@given(
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT", "DOGEUSDT", "XRPUSDT"]),
    side=st.sampled_from([1, -1]),
    notional_usdt=st.integers(6, 20_000_000),
    stop_bp=st.integers(5, 3_000),
    buffer_bp=st.integers(0, 500),
    cap=st.integers(1, 125),
)
def test_max_leverage_within_stop_is_the_largest_safe_leverage(
    symbol: str, side: int, notional_usdt: int, stop_bp: int, buffer_bp: int, cap: int
) -> None:
    rules = bundled_rules().get(symbol)
    entry = D("2500")
    qty = D(notional_usdt) / entry
    stop = entry * (1 - side * D(stop_bp) / 10_000)
    buffer = D(buffer_bp) / 10_000
    limit = stop - side * buffer * entry
    leverage = max_leverage_within_stop(
        rules,
        side=side,
        quantity=qty,
        entry_price=entry,
        stop_price=stop,
        buffer_pct=buffer,
        cap=cap,
    )
    ceiling = min(cap, rules.max_leverage_for(qty * entry))
    assert 0 <= leverage <= ceiling
    if leverage >= 1:
        assert _clears(rules, side, qty, entry, leverage, limit)
    if leverage < ceiling:
        assert not _clears(rules, side, qty, entry, leverage + 1, limit)


def test_max_leverage_examples() -> None:
    # long 0.1 BTC at 60,000, stop 2 % below, 0.5 % buffer: liquidation must be <= 58,500
    result = max_leverage_within_stop(
        BTC,
        side=1,
        quantity=D("0.1"),
        entry_price=D(60_000),
        stop_price=D(58_800),
        buffer_pct=D("0.005"),
        cap=125,
    )
    # bracket 1 (MMR 0.004): 6000 − 6000/L <= 58,500 × 0.0996  <=>  L <= 34.6
    assert result == 34
    assert _clears(BTC, 1, D("0.1"), D(60_000), 34, D(58_500))
    assert not _clears(BTC, 1, D("0.1"), D(60_000), 35, D(58_500))
    capped = max_leverage_within_stop(
        BTC,
        side=1,
        quantity=D("0.1"),
        entry_price=D(60_000),
        stop_price=D(58_800),
        buffer_pct=D("0.005"),
        cap=10,
    )
    assert capped == 10
    # a short whose stop is three times the entry cannot be protected even at 1x
    hopeless = max_leverage_within_stop(
        BTC,
        side=-1,
        quantity=D("0.1"),
        entry_price=D(60_000),
        stop_price=D(180_000),
        buffer_pct=D(0),
        cap=20,
    )
    assert hopeless == 0


@pytest.mark.parametrize(
    ("side", "stop", "buffer", "cap"),
    [(1, "61000", "0", 10), (-1, "59000", "0", 10), (1, "59000", "-0.1", 10), (1, "59000", "0", 0)],
)
def test_max_leverage_refuses_nonsense(side: int, stop: str, buffer: str, cap: int) -> None:
    with pytest.raises(ValueError):
        max_leverage_within_stop(
            BTC,
            side=side,
            quantity=D(1),
            entry_price=D(60_000),
            stop_price=D(stop),
            buffer_pct=D(buffer),
            cap=cap,
        )
