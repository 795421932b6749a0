"""The fast liquidation and leverage search give exactly what the plain algorithm gives.

`isolated_liquidation_price` and `max_leverage_within_stop` skip most of the work the plain
algorithm does (solving every bracket, testing every bracket edge, bisecting with a full solve per
probe). Those shortcuts are only allowed if they never change a result, down to the Decimal's
digits and exponent. The reference below is the plain algorithm, kept here on purpose: it solves
every bracket and every edge under the rules package's arithmetic context, and bisects over the
leverage with a full solve per probe. It is compared on random positions of every bundled symbol
and on random bracket tables, including tables with an inconsistent cum, and on inputs built to
put the liquidation exactly on (or a hair off) a bracket edge or the stop limit, where rounding
decides.
"""

from __future__ import annotations

import dataclasses
import itertools
from decimal import ROUND_DOWN, Context, Decimal, localcontext

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from slt.rules import (
    Bracket,
    SymbolRules,
    bundled_rules,
    isolated_liquidation_price,
    max_leverage_within_stop,
)
from slt.rules.margin_probe import bisection_probes
from slt.rules.rounding import CALC

D = Decimal
RULES = bundled_rules()
SYMBOLS = sorted(RULES)
BTC = RULES.get("BTCUSDT")
WIDE = Context(prec=200)  # exact for everything the strategies build


# -- reference: the plain algorithm -------------------------------------------------------------


def _ref_liquidation_with(
    bracket: Bracket, side: int, quantity: Decimal, entry_price: Decimal, wallet: Decimal
) -> Decimal:
    with localcontext(CALC):
        numerator = wallet + bracket.cum - side * quantity * entry_price
        return numerator / (quantity * bracket.maint_margin_ratio - side * quantity)


def _ref_bracket_holds(brackets: tuple[Bracket, ...], index: int, size: Decimal) -> bool:
    bracket = brackets[index]
    if index == len(brackets) - 1:
        return size >= bracket.notional_floor
    return bracket.contains(size)


def _ref_surplus(
    bracket: Bracket,
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    wallet: Decimal,
    price: Decimal,
) -> Decimal:
    with localcontext(CALC):
        balance = wallet + side * quantity * (price - entry_price)
        return balance - (quantity * price * bracket.maint_margin_ratio - bracket.cum)


def ref_liquidation(
    rules: SymbolRules,
    *,
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    wallet_balance: Decimal,
) -> Decimal | None:
    if side not in (1, -1):
        raise ValueError("side")
    if quantity <= 0 or entry_price <= 0:
        raise ValueError("quantity and entry_price must be positive")
    brackets = rules.brackets
    roots: list[Decimal] = []
    with localcontext(CALC):
        for index, bracket in enumerate(brackets):
            price = _ref_liquidation_with(bracket, side, quantity, entry_price, wallet_balance)
            if price > 0 and _ref_bracket_holds(brackets, index, quantity * price):
                roots.append(price)
        for lower, upper in itertools.pairwise(brackets):
            edge = upper.notional_floor / quantity
            below = _ref_surplus(lower, side, quantity, entry_price, wallet_balance, edge)
            above = _ref_surplus(upper, side, quantity, entry_price, wallet_balance, edge)
            if (below < 0) != (above < 0):
                roots.append(edge)
    if not roots:
        return None
    return max(roots) if side == 1 else min(roots)


def _ref_clears(
    rules: SymbolRules,
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    leverage: int,
    limit: Decimal,
) -> bool:
    with localcontext(CALC):
        wallet = quantity * entry_price / leverage
    price = ref_liquidation(
        rules, side=side, quantity=quantity, entry_price=entry_price, wallet_balance=wallet
    )
    if price is None:
        return side == 1
    return price <= limit if side == 1 else price >= limit


def ref_max_leverage(
    rules: SymbolRules,
    *,
    side: int,
    quantity: Decimal,
    entry_price: Decimal,
    stop_price: Decimal,
    buffer_pct: Decimal,
    cap: int,
) -> int:
    if side not in (1, -1):
        raise ValueError("side")
    if quantity <= 0 or entry_price <= 0 or stop_price <= 0:
        raise ValueError("quantity, entry_price and stop_price must be positive")
    if buffer_pct < 0:
        raise ValueError("buffer_pct")
    if cap < 1:
        raise ValueError("cap")
    if (side == 1 and stop_price >= entry_price) or (side == -1 and stop_price <= entry_price):
        raise ValueError("stop on the wrong side")
    with localcontext(CALC):
        limit = stop_price - side * buffer_pct * entry_price
        upper = min(cap, rules.max_leverage_for(quantity * entry_price))

    def clears(leverage: int) -> bool:
        return _ref_clears(rules, side, quantity, entry_price, leverage, limit)

    if not clears(1):
        return 0
    low, high = 1, upper
    while low < high:
        middle = (low + high + 1) // 2
        if clears(middle):
            low = middle
        else:
            high = middle - 1
    return low


# -- comparison helpers -------------------------------------------------------------------------


def assert_same_liquidation(
    rules: SymbolRules, side: int, quantity: Decimal, entry: Decimal, wallet: Decimal
) -> None:
    case = (rules.symbol, side, quantity, entry, wallet)
    expected = ref_liquidation(
        rules, side=side, quantity=quantity, entry_price=entry, wallet_balance=wallet
    )
    actual = isolated_liquidation_price(
        rules, side=side, quantity=quantity, entry_price=entry, wallet_balance=wallet
    )
    # same value and the same digits and exponent, not just an equal number
    assert (actual is None) == (expected is None), (case, actual, expected)
    if expected is not None:
        assert actual is not None
        assert actual.as_tuple() == expected.as_tuple(), (case, actual, expected)


def assert_same_leverage(
    rules: SymbolRules,
    side: int,
    quantity: Decimal,
    entry: Decimal,
    stop: Decimal,
    buffer: Decimal,
    cap: int,
) -> None:
    case = (rules.symbol, side, quantity, entry, stop, buffer, cap)
    expected: int | str
    actual: int | str
    try:
        expected = ref_max_leverage(
            rules,
            side=side,
            quantity=quantity,
            entry_price=entry,
            stop_price=stop,
            buffer_pct=buffer,
            cap=cap,
        )
    except ValueError:
        expected = "ValueError"
    try:
        actual = max_leverage_within_stop(
            rules,
            side=side,
            quantity=quantity,
            entry_price=entry,
            stop_price=stop,
            buffer_pct=buffer,
            cap=cap,
        )
    except ValueError:
        actual = "ValueError"
    assert actual == expected, case


# -- strategies ---------------------------------------------------------------------------------

sides = st.sampled_from([1, -1])
bundled_symbols = st.sampled_from(SYMBOLS).map(RULES.get)


@st.composite
def consistent_tables(draw: st.DrawFn) -> tuple[Bracket, ...]:
    """Random tables whose cum keeps maintenance margin continuous, as Binance's do."""
    count = draw(st.integers(1, 8))
    caps = sorted(draw(st.sets(st.integers(1, 10**10), min_size=count, max_size=count)))
    ratios = sorted(draw(st.lists(st.integers(0, 600), min_size=count, max_size=count)))
    scale = draw(st.sampled_from([D("0.001"), D("0.0001"), D("0.00001")]))
    brackets: list[Bracket] = []
    floor, cum, previous_ratio = D(0), D(0), D(0)
    with localcontext(WIDE):
        for index in range(count):
            ratio = ratios[index] * scale
            cum = cum + floor * (ratio - previous_ratio)
            brackets.append(Bracket(index + 1, floor, D(caps[index]), 125 - index, ratio, cum))
            floor, previous_ratio = D(caps[index]), ratio
    return tuple(brackets)


@st.composite
def odd_tables(draw: st.DrawFn) -> tuple[Bracket, ...]:
    """Tables the shortcuts must not trust: cum off by a random amount, or an MMR close to 1."""
    table = list(draw(consistent_tables()))
    index = draw(st.integers(0, len(table) - 1))
    if draw(st.booleans()):
        jolt = D(draw(st.integers(-(10**6), 10**6))).scaleb(draw(st.integers(-30, 2)))
        table[index] = dataclasses.replace(table[index], cum=table[index].cum + jolt)
    else:
        ratio = D(draw(st.integers(990, 999_999))) / 1_000_000
        table[index] = dataclasses.replace(table[index], maint_margin_ratio=ratio)
    return tuple(table)


def with_table(table: tuple[Bracket, ...]) -> SymbolRules:
    return dataclasses.replace(BTC, brackets=table)


any_rules = st.one_of(
    bundled_symbols,
    bundled_symbols,
    consistent_tables().map(with_table),
    odd_tables().map(with_table),
)


def edge_indices(rules: SymbolRules) -> st.SearchStrategy[int]:
    """A bracket index, preferring those above the first (whose floor is a real edge)."""
    last = len(rules.brackets) - 1
    return st.integers(min(1, last), last)


@st.composite
def position(draw: st.DrawFn, rules: SymbolRules) -> tuple[Decimal, Decimal]:
    """(quantity, entry price) for a notional from about 1 to 10^10 USDT."""
    price = D(draw(st.integers(1, 999_999))).scaleb(draw(st.integers(-9, 1)))
    target = D(draw(st.integers(1, 9_999))).scaleb(draw(st.integers(0, 6)))
    if draw(st.integers(0, 3)) == 0:  # right on, or next to, a bracket floor
        floor = rules.brackets[draw(edge_indices(rules))].notional_floor
        target = max(D(1), floor + draw(st.sampled_from([0, 0, 1, -1])))
    step = D(1).scaleb(draw(st.integers(-5, 2)))
    with localcontext(WIDE):
        quantity = (target / price).quantize(step, rounding=ROUND_DOWN)
    if quantity <= 0:
        quantity = step
    return quantity, price


@st.composite
def wallet_for(
    draw: st.DrawFn, rules: SymbolRules, side: int, quantity: Decimal, entry: Decimal
) -> Decimal:
    kind = draw(st.sampled_from(["tie", "calc", "tie", "engine", "free", "tie", "zero"]))
    leverage = draw(st.integers(1, 125))
    if kind == "calc":  # what max_leverage_within_stop passes
        with localcontext(CALC):
            return quantity * entry / leverage
    if kind == "engine":  # the engine and venue divide in the default 28-digit context
        with localcontext(Context(prec=28)):
            return quantity * entry / leverage
    if kind == "zero":
        return D(0)
    with localcontext(WIDE):
        notional_value = quantity * entry
        if kind == "free":  # anything from nothing to twice the notional, at odd precision
            share = D(draw(st.integers(0, 2 * 10**12))) / 10**12
            digits = draw(st.integers(1, 60))
            return (notional_value * share).quantize(D(1).scaleb(-digits), rounding=ROUND_DOWN)
        # the wallet at which the margin balance meets maintenance exactly at a bracket floor,
        # possibly nudged by far less than the arithmetic's precision
        bracket = rules.brackets[draw(edge_indices(rules))]
        floor = bracket.notional_floor
        wallet = side * (notional_value - floor) + floor * bracket.maint_margin_ratio - bracket.cum
        nudge = draw(st.sampled_from([0, 1, -1]))
        if nudge:  # relative to the table's largest numbers: from plain to far below rounding
            anchor = max(notional_value, rules.brackets[-1].notional_floor, D(1)).adjusted()
            wallet += nudge * D(1).scaleb(anchor - draw(st.integers(0, 70)))
        return wallet


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(data=st.data(), rules=any_rules, side=sides)
def test_liquidation_price_matches_the_plain_algorithm(
    data: st.DataObject, rules: SymbolRules, side: int
) -> None:
    quantity, entry = data.draw(position(rules))
    wallet = data.draw(wallet_for(rules, side, quantity, entry))
    assert_same_liquidation(rules, side, quantity, entry, wallet)


@st.composite
def stop_for(
    draw: st.DrawFn, rules: SymbolRules, side: int, quantity: Decimal, entry: Decimal
) -> tuple[Decimal, Decimal]:
    """(stop, buffer): a random distance, or one that puts the limit on a liquidation price."""
    if draw(st.booleans()):
        buffer = D(draw(st.integers(0, 300))) / 10_000
    else:
        buffer = D(draw(st.integers(0, 30_000))) / 10_000
    with localcontext(WIDE):
        if draw(st.integers(0, 2)) > 0:
            basis_points = draw(st.integers(1, 9_999 if side == 1 else 40_000))
            stop = entry * (1 - side * D(basis_points) / 10_000)
            if draw(st.booleans()):
                tick = D(1).scaleb(entry.as_tuple().exponent)  # type: ignore[arg-type]
                stop = stop.quantize(tick)
            return stop, buffer
    leverage = draw(st.integers(1, 125))
    with localcontext(CALC):
        wallet = quantity * entry / leverage
    price = ref_liquidation(
        rules, side=side, quantity=quantity, entry_price=entry, wallet_balance=wallet
    )
    assume(price is not None)
    assert price is not None
    with localcontext(WIDE):
        limit = price
        nudge = draw(st.sampled_from([0, 0, 1, -1]))
        if nudge:
            limit += nudge * D(1).scaleb(price.adjusted() - draw(st.integers(10, 60)))
        # the reference computes stop − side × buffer × entry in CALC; build the stop so that
        # this gives back `limit` as exactly as 50 digits allow
        stop = limit + side * buffer * entry
    return stop, buffer


@settings(max_examples=600, deadline=None)
@given(data=st.data(), rules=any_rules, side=sides, cap=st.integers(1, 125))
def test_max_leverage_matches_the_plain_bisection(
    data: st.DataObject, rules: SymbolRules, side: int, cap: int
) -> None:
    quantity, entry = data.draw(position(rules))
    stop, buffer = data.draw(stop_for(rules, side, quantity, entry))
    assert_same_leverage(rules, side, quantity, entry, stop, buffer, cap)


@settings(max_examples=300, deadline=None)
@given(
    rules=bundled_symbols,
    side=sides,
    notional_usdt=st.integers(6, 3_000_000_000),
    basis_points=st.integers(5, 3_000),
    buffer_bp=st.integers(0, 500),
    cap=st.integers(1, 125),
)
@example(rules=BTC, side=1, notional_usdt=6_000, basis_points=200, buffer_bp=50, cap=125)
def test_max_leverage_matches_on_trading_sizes(
    rules: SymbolRules, side: int, notional_usdt: int, basis_points: int, buffer_bp: int, cap: int
) -> None:
    """The shapes the risk layer asks for: a stop a few percent away, a small buffer."""
    entry = D("2500.37")
    with localcontext(WIDE):
        quantity = (D(notional_usdt) / entry).quantize(D("0.001"), rounding=ROUND_DOWN)
        stop = (entry * (1 - side * D(basis_points) / 10_000)).quantize(D("0.01"))
    assume(quantity > 0)
    assert_same_leverage(rules, side, quantity, entry, stop, D(buffer_bp) / 10_000, cap)


@settings(max_examples=600, deadline=None)
@given(
    data=st.data(),
    rules=any_rules,
    side=sides,
    cap=st.integers(1, 125),
    digits=st.integers(5, 16),
    nudge=st.sampled_from([-3, -1, 0, 1, 3]),
)
def test_max_leverage_matches_where_the_float_screen_decides(
    data: st.DataObject, rules: SymbolRules, side: int, cap: int, digits: int, nudge: int
) -> None:
    """The limit put on the liquidation price of the highest leverage the search may return,
    moved by a few parts in 10^5..10^16: around the float screen's margin (1e-9 of the size),
    where it must either prove that every leverage clears or step aside."""
    quantity, entry = data.draw(position(rules))
    with localcontext(CALC):
        upper = min(cap, rules.max_leverage_for(quantity * entry))
        wallet = quantity * entry / upper
    price = ref_liquidation(
        rules, side=side, quantity=quantity, entry_price=entry, wallet_balance=wallet
    )
    assume(price is not None)
    assert price is not None
    buffer = D(data.draw(st.integers(0, 300))) / 10_000
    with localcontext(WIDE):
        limit = price * (1 + nudge * D(1).scaleb(-digits))
        stop = limit + side * buffer * entry
    assume(stop > 0)
    assert_same_leverage(rules, side, quantity, entry, stop, buffer, cap)


ILLUSTRATIVE = (
    Bracket(1, D(0), D(50_000), 125, D("0.004"), D(0)),
    Bracket(2, D(50_000), D(250_000), 100, D("0.005"), D(50)),
    Bracket(3, D(250_000), D(1_000_000), 50, D("0.01"), D(1_300)),
    Bracket(4, D(1_000_000), D(5_000_000), 20, D("0.025"), D(16_300)),
    Bracket(5, D(5_000_000), D(20_000_000), 10, D("0.05"), D(141_300)),
)
BROKEN = (
    Bracket(1, D(0), D(50_000), 125, D("0.004"), D(0)),
    Bracket(2, D(50_000), D(250_000), 100, D("0.005"), D(1_050)),
)


@pytest.mark.parametrize(
    ("table", "side", "qty", "entry", "wallet"),
    [
        (ILLUSTRATIVE, 1, "1", "10000", "1000"),
        (ILLUSTRATIVE, -1, "1", "10000", "1000"),
        (ILLUSTRATIVE, 1, "10", "10000", "10000"),
        (ILLUSTRATIVE, 1, "26", "10000", "26000"),
        (ILLUSTRATIVE, 1, "1", "10000", "10000"),
        (ILLUSTRATIVE, -1, "1", "10000", "10000"),
        (ILLUSTRATIVE, 1, "1", "10000", "20000"),
        # margin balance meets maintenance exactly at the 50,000 edge: 5 × 10,000 long with
        # wallet 50,000 × 0.004 = 200 liquidates at 10,000 itself
        (ILLUSTRATIVE, 1, "5", "10000", "200"),
        (ILLUSTRATIVE, -1, "5", "10000", "200"),
        (ILLUSTRATIVE, 1, "5", "10000", "0"),
        (ILLUSTRATIVE, -1, "5", "10000", "-1"),
        (BROKEN, 1, "5.2", "10000", "1700"),
        (BROKEN, -1, "5.2", "10000", "1700"),
        (BROKEN, 1, "5.2", "9600", "100"),
    ],
)
def test_worked_examples_match(
    table: tuple[Bracket, ...], side: int, qty: str, entry: str, wallet: str
) -> None:
    assert_same_liquidation(with_table(table), side, D(qty), D(entry), D(wallet))


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "DOGEUSDT", "1000PEPEUSDT"])
@pytest.mark.parametrize("side", [1, -1])
def test_every_leverage_on_a_bracket_floor_matches(symbol: str, side: int) -> None:
    """Positions sized right at each bracket floor, at every leverage the bracket allows."""
    rules = RULES.get(symbol)
    entry = D("97.3")
    for bracket in rules.brackets[1:]:
        quantity = bracket.notional_floor / entry
        with localcontext(CALC):
            quantity = +quantity
        for leverage in range(1, rules.highest_leverage + 1, 7):
            with localcontext(CALC):
                wallet = quantity * entry / leverage
            assert_same_liquidation(rules, side, quantity, entry, wallet)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "DOGEUSDT"])
@pytest.mark.parametrize("side", [1, -1])
@pytest.mark.parametrize("leverage", [2, 3, 7, 20])
def test_leverage_probes_liquidating_on_a_bracket_floor_match(
    symbol: str, side: int, leverage: int
) -> None:
    """Size the position so that at `leverage` liquidation falls on a bracket floor (to 50
    digits), then put the limit on, just inside or just outside that price."""
    rules = RULES.get(symbol)
    for bracket in rules.brackets[1:4]:
        floor = bracket.notional_floor
        level = floor * bracket.maint_margin_ratio - bracket.cum
        with localcontext(WIDE):
            # long: N0 (1 − 1/L) = F − MM(F); short: N0 (1 + 1/L) = F + MM(F)
            entry_notional = (floor - side * level) * leverage / (leverage - side)
        with localcontext(CALC):
            entry = +entry_notional  # quantity 1: the entry price is the notional
        with localcontext(CALC):
            wallet = entry / leverage
        price = ref_liquidation(
            rules, side=side, quantity=D(1), entry_price=entry, wallet_balance=wallet
        )
        assert price is not None
        assert_same_liquidation(rules, side, D(1), entry, wallet)
        for nudge in (D(0), D("1e-45"), D("-1e-45"), D("1e-20"), D("-1e-20")):
            with localcontext(WIDE):
                stop = price * (1 + nudge)
            if (side == 1 and stop >= entry) or (side == -1 and stop <= entry):
                continue
            for cap in (leverage, leverage + 1, 125):
                assert_same_leverage(rules, side, D(1), entry, stop, D(0), cap)


@pytest.mark.parametrize("upper", [1, 2, 3, 10, 20, 50, 75, 100, 125])
def test_bisection_probes_are_the_plain_search_s_when_every_leverage_clears(
    upper: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bisection_probes` lists exactly what the plain bisection asks when every answer is
    True: the float screen relies on it to ignore floor walls at leverages never asked for."""
    asked: list[int] = []

    def every_leverage_clears(*args: object) -> bool:
        asked.append(int(args[4]))  # type: ignore[call-overload]
        return True

    monkeypatch.setitem(globals(), "_ref_clears", every_leverage_clears)
    got = ref_max_leverage(
        BTC,
        side=-1,
        quantity=D("0.01"),
        entry_price=D("60000"),
        stop_price=D("61000"),
        buffer_pct=D(0),
        cap=upper,
    )
    assert got == upper
    assert tuple(asked) == bisection_probes(upper)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "DOGEUSDT"])
@pytest.mark.parametrize("leverage", [2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20])
def test_short_with_a_floor_wall_at_any_leverage_matches(symbol: str, leverage: int) -> None:
    """A short sized so that at `leverage` its liquidation falls on a bracket floor, with a stop
    far enough for every leverage to clear: whether the bisection probes that leverage or
    not, the search answers as the plain bisection does."""
    rules = RULES.get(symbol)
    for bracket in rules.brackets[1:4]:
        floor = bracket.notional_floor
        level = floor * bracket.maint_margin_ratio - bracket.cum
        with localcontext(WIDE):
            entry_notional = (floor + level) * leverage / (leverage + 1)  # N0 (1 + 1/L) = F + MM(F)
        with localcontext(CALC):
            entry = +entry_notional  # quantity 1: the entry price is the notional
        for stop_factor in (D("1.05"), D("1.5")):
            for cap in (10, 20, 125):
                assert_same_leverage(rules, -1, D(1), entry, entry * stop_factor, D(0), cap)
