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

from collections.abc import Iterable
from decimal import Decimal

from slt.domain import Position
from slt.domain.numbers import as_decimal


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
    return balance - sum([position_hold(p) for p in positions], Decimal(0)) - reserved
