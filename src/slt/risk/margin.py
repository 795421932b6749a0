"""How much of the balance a new entry may use: what the exchange would count as available.

The engine books its positions as isolated (each has its own margin and liquidation price),
but the system never sets a margin type, so on Binance and on the local exchange they run in
the account's default CROSSED mode, where the available balance is the cross wallet plus the
cross unrealised PnL less the initial margin of the positions at their mark (protocol notes
§7.3, §11.1). In ISOLATED mode (the simulated venue of backtests) it is the wallet less the
positions' isolated margins, and their PnL does not enter.

An entry sized by the engine must pass either check, so each open position holds the worse of
the two: its isolated margin, or its margin at the mark plus its unrealised loss. A profit is
never lent to new entries: isolated mode does not count it, and the mark it was seen at is
already older than the one the exchange will use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from slt.domain import Position
from slt.domain.numbers import as_decimal, as_float, remembered_float

_ZERO = Decimal(0)
_TOLERANCE = 1e-9
"""Relative margin of `clearly_above`: float rounding of its few operations stays below 1e-14 of
the magnitudes involved, and so does the Decimal arithmetic of `free_margin` (28 digits)."""


def position_hold(pos: Position) -> Decimal:
    """Margin `pos` keeps from new entries at its last mark: the larger of its isolated margin
    and (cross) |quantity| × mark / leverage − unrealised PnL."""
    mark = as_decimal(pos.mark_price)
    quantity = pos.quantity
    cross = quantity * mark / pos.leverage - int(pos.side) * quantity * (mark - pos.entry_price)
    return cross if cross > pos.margin else pos.margin


def free_margin(balance: Decimal, positions: Iterable[Position], reserved: Decimal) -> Decimal:
    """Balance a new entry may use: the wallet `balance` less what each open position holds and
    `reserved` (entries in flight: their margin and taker fee). May be negative."""
    return balance - sum([position_hold(p) for p in positions], _ZERO) - reserved


def clearly_above(
    balance: Decimal, positions: Sequence[Position], reserved: Sequence[Decimal], floor: float
) -> bool:
    """True only when `free_margin(balance, positions, sum(reserved))` is above `floor` by far
    more than any rounding: the same sum in floats, with a margin of 1e-9 of every magnitude in
    it. False means "may not be" (close to the floor, or a number not finite): then the exact
    Decimal answer is needed. An entry's budget is the smaller of the free margin and a share of
    equity, and the free margin is rarely the smaller, so most entries skip the Decimal sum."""
    got = remembered_float  # `got(v) or as_float(v)` is `as_float(v)` without a call
    free = got(balance) or as_float(balance)
    scale = abs(free) + abs(floor)
    for p in positions:
        q, e, m = p.quantity, p.entry_price, p.margin
        qty = got(q) or as_float(q)
        entry = got(e) or as_float(e)
        margin = got(m) or as_float(m)
        mark = p.mark_price
        cross = qty * mark / p.leverage - p.side * qty * (mark - entry)
        free -= cross if cross > margin else margin
        scale += abs(qty) * (abs(mark) + abs(entry)) + abs(margin)
    for amount in reserved:
        value = as_float(amount)
        free -= value
        scale += abs(value)
    # NaN or infinity anywhere makes this False: the exact route decides
    return free - floor > _TOLERANCE * scale
