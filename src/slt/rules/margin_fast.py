"""The fast paths behind `slt.rules.margin`: a prepared bracket table, a liquidation solve that
computes only the candidates near the root, and the memo (the leverage search's probes are in
margin_probe.py).

A backtest asks for liquidation prices thousands of times, so the two searches take shortcuts,
none of which may change a result by a single digit (tests/unit/rules/test_margin_fastpath.py
compares them with the plain algorithm). The plain liquidation (`liquidation_all`) solves the
formula with every bracket and tests every bracket edge, all in 50-digit arithmetic (CALC). With
a consistent table (maintenance margin continuous) the margin surplus is monotone in the notional,
and its value at each bracket floor costs one addition; a candidate whose surplus at its floor or
cap is further from zero than any 50-digit rounding can reach cannot pass the plain algorithm's
own test, so only the one or two candidates near the root are computed, with the plain arithmetic.
The leverage search (margin_probe.py) keeps the plain bisection's answer, but a probe whose
wallet is clearly above or below the wallet at which liquidation sits exactly on the limit (a
closed form) is answered from that comparison; only probes near the boundary, or near a bracket
floor, are solved. Tables or inputs outside the range these error bounds are made for take the
plain route.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    getcontext,
    localcontext,
    setcontext,
)

from slt.rules.brackets import Bracket
from slt.rules.rounding import CALC

# -- the bracket table, prepared once per table ---------------------------------------------------
#
# Notation. Q quantity, EP entry price, WB wallet, s side, N0 = Q × EP, x a notional (Q × price),
# F_i the floor of bracket i (F_0 = 0), m_i its MMR, c_i its cum, MM(x) = x × m − c of the bracket
# holding x. The margin surplus at notional x is G(x) = WB + s × (x − N0) − MM(x). With a
# consistent table MM is continuous, and since every m < 1 the function H = s × G is strictly
# increasing with slope |s − m| between 1 − max m and 2; its zero x* is the liquidation notional.
# Bracket i's own formula is the line G_i(x) = WB + s(x − N0) − (x m_i − c_i), equal to G on
# [F_i, F_{i+1}] and so equal to G at both ends of that bracket.
#
# What 50 digits can do. Every CALC operation is exact up to a relative 5e-50. Following the plain
# formulas through (with m <= 0.99, so 1 − m >= 0.01), the computed Q × price of bracket j differs
# from the root of G_j by less than 1e-44 × scale, and a computed surplus at an edge differs from
# G at the floor by less than 1e-47 × scale, where scale = |WB| + |s Q EP| + max|c| + max F bounds
# every magnitude involved. Tolerance: EPS = 1e-40 × scale, four orders above both.
#
# Lemmas (consistent table, m <= 0.99, floors exact in 50 digits, moderate exponents):
#   edge i is not a root when |H(F_i)| > EPS: both computed surpluses have the sign of G(F_i);
#   bracket j is not a root when H(F_{j+1}) < −EPS (its line's root lies more than EPS/2 above the
#   cap, so the computed size rounds to at least the cap) or when H(F_j) > EPS (root more than
#   EPS/2 below the floor);
#   consequently every root the plain algorithm can report lies within 200 EPS of x*, and when
#   |H| > EPS at every floor and x* > 0, the bracket holding x* yields a root (the answer is not
#   None).
# H is monotone, so these tests need only the floors next to x*, and the H values cost one
# addition each: H(F_i) = s(WB − s N0) + (F_i − s MM(F_i)), the bracket's part prepared here.

_ZERO = Decimal(0)  # comparisons with a Decimal zero skip converting an int on every call
TOLERANCE = Decimal("1e-40")  # EPS per unit of scale
_MAX_RATIO = Decimal("0.99")  # the error bounds above assume 1 − m >= 0.01
_EXPONENT_LIMIT = 1000  # beyond 10^±1000 the plain route: no result gets near under/overflow
_EXACT = Context(prec=10_000, traps=[Inexact, InvalidOperation, Overflow, DivisionByZero])


class Table:
    """One bracket table, unpacked, with the per-floor constants of the shortcuts."""

    __slots__ = (
        "brackets",
        "caps",
        "count",
        "cums",
        "floors",
        "lift_long",
        "lift_short",
        "ratios",
        "scale",
        "trusted",
        "wall_long",
        "wall_short",
    )

    def __init__(self, brackets: tuple[Bracket, ...]) -> None:
        self.brackets = brackets
        self.count = len(brackets)
        self.floors = tuple(b.notional_floor for b in brackets)
        self.caps = tuple(b.notional_cap for b in brackets)
        self.ratios = tuple(b.maint_margin_ratio for b in brackets)
        self.cums = tuple(b.cum for b in brackets)
        self.trusted = _is_trusted(brackets)
        zero = Decimal(0)
        self.scale = zero
        self.lift_long: tuple[Decimal, ...] = ()
        self.lift_short: tuple[Decimal, ...] = ()
        self.wall_long: tuple[Decimal, ...] = ()
        self.wall_short: tuple[Decimal, ...] = ()
        if not self.trusted:
            return
        with localcontext(_EXACT):  # all exact: trusted values have few digits
            levels = [
                f * m - c for f, m, c in zip(self.floors, self.ratios, self.cums, strict=True)
            ]
            self.scale = max(abs(c) for c in self.cums) + self.floors[-1]
            # H(F_i) = s(WB − s N0) + lift_i, lift_i = F_i − s MM(F_i)
            self.lift_long = tuple(f - k for f, k in zip(self.floors, levels, strict=True))
            self.lift_short = tuple(f + k for f, k in zip(self.floors, levels, strict=True))
            # the wallet with zero surplus at F_i: s N0 + wall_i, wall_i = MM(F_i) − s F_i
            self.wall_long = tuple(k - f for f, k in zip(self.floors, levels, strict=True))
            self.wall_short = tuple(k + f for f, k in zip(self.floors, levels, strict=True))


def moderate(value: Decimal) -> bool:
    return value.is_finite() and -_EXPONENT_LIMIT <= value.adjusted() <= _EXPONENT_LIMIT


def _is_trusted(brackets: Sequence[Bracket]) -> bool:
    """True when the shortcuts' error bounds hold: consistent cum, MMR <= 0.99, tidy numbers."""
    for index, bracket in enumerate(brackets):
        for value in (bracket.notional_floor, bracket.maint_margin_ratio, bracket.cum):
            if not value.is_finite() or len(value.as_tuple().digits) > 40:
                return False
            if value and not -_EXPONENT_LIMIT <= value.adjusted() <= _EXPONENT_LIMIT:
                return False
        if bracket.maint_margin_ratio > _MAX_RATIO:
            return False
        if index == 0:
            continue
        previous = brackets[index - 1]
        if bracket.notional_floor <= previous.notional_floor:
            return False
        if previous.notional_cap != bracket.notional_floor:
            return False
        try:
            with localcontext(_EXACT):
                jump = bracket.notional_floor * (
                    bracket.maint_margin_ratio - previous.maint_margin_ratio
                )
                if bracket.cum - previous.cum != jump:
                    return False
        except Inexact:
            return False
    return bool(brackets) and brackets[0].notional_floor == 0


_TABLES: dict[int, Table] = {}


def table_of(brackets: tuple[Bracket, ...]) -> Table:
    """The prepared table, cached by identity (the entry keeps the tuple alive, so ids are safe)."""
    table = _TABLES.get(id(brackets))
    if table is None or table.brackets is not brackets:
        table = Table(brackets)
        if len(_TABLES) >= 1024:
            _TABLES.clear()
        _TABLES[id(brackets)] = table
    return table


# -- the plain algorithm's candidates, computed exactly as it computes them -----------------------
# All of these run inside localcontext(CALC); sq = side × Q and t = sq × EP are the same
# subexpressions the plain formulas compute, evaluated once.


def _bracket_root(
    table: Table, index: int, quantity: Decimal, sq: Decimal, t: Decimal, wallet: Decimal
) -> Decimal | None:
    """LP = (WB + cum − s Q EP) / (Q MMR − s Q) with bracket `index`, if it lies in that bracket."""
    price = (wallet + table.cums[index] - t) / (quantity * table.ratios[index] - sq)
    if price > _ZERO:
        size = quantity * price
        if size >= table.floors[index] and (index == table.count - 1 or size < table.caps[index]):
            return price
    return None


def _edge_root(
    table: Table, index: int, quantity: Decimal, sq: Decimal, entry: Decimal, wallet: Decimal
) -> Decimal | None:
    """The price of floor `index`, if the surplus changes sign across it (an inconsistent cum)."""
    edge = table.floors[index] / quantity
    balance = wallet + sq * (edge - entry)
    size = quantity * edge
    below = balance - (size * table.ratios[index - 1] - table.cums[index - 1])
    above = balance - (size * table.ratios[index] - table.cums[index])
    return edge if (below < _ZERO) != (above < _ZERO) else None


def _pick(
    side: int, brackets: list[tuple[int, Decimal]], edges: list[tuple[int, Decimal]]
) -> Decimal | None:
    """The plain algorithm's pick: bracket roots, then edge roots, in table order; first extreme."""
    if not edges and len(brackets) == 1:
        return brackets[0][1]  # the usual answer: one bracket's root, no edge
    roots = [price for _, price in sorted(brackets)] + [price for _, price in sorted(edges)]
    if not roots:
        return None
    if len(roots) == 1:
        return roots[0]
    return max(roots) if side == 1 else min(roots)


def _liquidation_all(
    table: Table, side: int, quantity: Decimal, entry: Decimal, wallet: Decimal
) -> Decimal | None:
    """The plain algorithm: every bracket, every edge."""
    sq = side * quantity
    t = sq * entry
    brackets: list[tuple[int, Decimal]] = []
    edges: list[tuple[int, Decimal]] = []
    for index in range(table.count):
        price = _bracket_root(table, index, quantity, sq, t, wallet)
        if price is not None:
            brackets.append((index, price))
    for index in range(1, table.count):
        price = _edge_root(table, index, quantity, sq, entry, wallet)
        if price is not None:
            edges.append((index, price))
    return _pick(side, brackets, edges)


def _liquidation_near(
    table: Table, side: int, quantity: Decimal, entry: Decimal, wallet: Decimal
) -> Decimal | None:
    """The plain algorithm's answer from the candidates near the root only (trusted table)."""
    sq = side * quantity
    t = sq * entry
    lift = table.lift_long if side == 1 else table.lift_short
    shifted = wallet - t if side == 1 else t - wallet  # H(F_i) = shifted + lift[i]
    eps = (abs(wallet) + abs(t) + table.scale) * TOLERANCE
    count = table.count
    heights: list[Decimal | None] = [None] * count
    # k = the last floor with H <= 0, i.e. the bracket holding x* (−1: x* below zero)
    low, high = -1, count
    while high - low > 1:
        middle = (low + high) // 2
        height = shifted + lift[middle]
        heights[middle] = height
        if height <= _ZERO:
            low = middle
        else:
            high = middle
    brackets: list[tuple[int, Decimal]] = []
    edges: list[tuple[int, Decimal]] = []
    if low >= 0:
        price = _bracket_root(table, low, quantity, sq, t, wallet)
        if price is not None:
            brackets.append((low, price))
    # downwards: floor i certifies edge i if |H| > EPS, and bracket i − 1 and all below if H < −EPS
    index = low
    while index >= 1:
        known = heights[index]
        height = shifted + lift[index] if known is None else known
        if -eps <= height <= eps:
            price = _edge_root(table, index, quantity, sq, entry, wallet)
            if price is not None:
                edges.append((index, price))
        if height < -eps:
            break
        price = _bracket_root(table, index - 1, quantity, sq, t, wallet)
        if price is not None:
            brackets.append((index - 1, price))
        index -= 1
    # upwards: floor i certifies edge i if |H| > EPS, and bracket i and all above if H > EPS
    index = low + 1
    while index < count:
        known = heights[index]
        height = shifted + lift[index] if known is None else known
        if index >= 1 and -eps <= height <= eps:
            price = _edge_root(table, index, quantity, sq, entry, wallet)
            if price is not None:
                edges.append((index, price))
        if height > eps:
            break
        price = _bracket_root(table, index, quantity, sq, t, wallet)
        if price is not None:
            brackets.append((index, price))
        index += 1
    return _pick(side, brackets, edges)


def liquidation(
    table: Table, side: int, quantity: Decimal, entry: Decimal, wallet: Decimal
) -> Decimal | None:
    """Inside localcontext(CALC): the shortcut when its error bounds hold, else the plain way."""
    if table.trusted and moderate(quantity) and moderate(entry) and moderate(wallet):
        return _liquidation_near(table, side, quantity, entry, wallet)
    return _liquidation_all(table, side, quantity, entry, wallet)


_SOLVED: dict[tuple[Table, int, str, str, str], Decimal | None] = {}
_UNSOLVED = Decimal("NaN")  # what _SOLVED.get answers for a key it lacks (no solve answers NaN)


def remembered_liquidation(
    table: Table, side: int, quantity: Decimal, entry: Decimal, wallet: Decimal
) -> Decimal | None:
    """`liquidation` in CALC, remembered: the venue and the engine each solve every new position
    with the same inputs. The key is the numbers' exact text (sign, digits and exponent), not
    their values: 1.0 and 1.00 are equal but could yield differently written results."""
    key = (table, side, str(quantity), str(entry), str(wallet))
    price = _SOLVED.get(key, _UNSOLVED)
    if price is not _UNSOLVED:
        return price
    # localcontext(CALC), without its copy of the context: CALC itself is made current for the
    # solve, which only does arithmetic in it, and the caller's context is put back after
    caller = getcontext()
    setcontext(CALC)
    try:
        price = liquidation(table, side, quantity, entry, wallet)
    finally:
        setcontext(caller)
    if len(_SOLVED) >= 1024:
        _SOLVED.clear()
    _SOLVED[key] = price
    return price


def clear_memo() -> None:
    """Forget every remembered liquidation solve (for benchmarks that time cold runs)."""
    _SOLVED.clear()
