"""Open positions and closed trades as the engine sees them."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from slt.domain.enums import ExitReason, Side
from slt.domain.numbers import as_float


class Position(msgspec.Struct, frozen=True, gc=False):
    """An open isolated-margin position.

    `margin` is the isolated wallet (initial margin) and `liquidation_price` the price at which the
    exchange would liquidate it. `stop_price`/`stop_reason` describe the resting protective stop:
    its reason becomes TRAILING_STOP once the stop has been moved by the trailing or breakeven rule.
    `best_price` is the most favourable close seen since entry (drives the trailing stop).
    """

    symbol: str
    side: Side
    quantity: Decimal
    entry_price: Decimal
    entry_time_ms: int
    leverage: int
    margin: Decimal
    initial_quantity: Decimal
    stop_price: Decimal
    take_profit_price: Decimal | None
    partial_price: Decimal | None
    stop_client_id: str
    stop_reason: ExitReason
    best_price: float
    mark_price: float
    liquidation_price: Decimal | None
    expected_return: float
    confidence: float
    source: str
    fees: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    exits: tuple[ExitLeg, ...] = ()
    closing_reason: ExitReason | None = None

    def unrealized_pnl(self, price: float) -> float:
        """Float PnL at `price` for decisions (the ledger uses Decimal on fills)."""
        return as_float(self.quantity) * (price - as_float(self.entry_price)) * int(self.side)

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.entry_price


class ExitLeg(msgspec.Struct, frozen=True, gc=False):
    """One reduction of a position: when, how much, at what price and why."""

    time_ms: int
    quantity: Decimal
    price: Decimal
    reason: ExitReason
    pnl: Decimal
    fee: Decimal


class TradeRecord(msgspec.Struct, frozen=True, gc=False):
    """A closed position. `net_pnl` = gross − fees − funding paid; `return_pct` = net / notional."""

    symbol: str
    side: Side
    entry_time_ms: int
    exit_time_ms: int
    entry_price: Decimal
    exit_price: Decimal
    quantity: Decimal
    leverage: int
    margin: Decimal
    gross_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal
    return_pct: float
    exit_reason: ExitReason
    exits: tuple[ExitLeg, ...]
    expected_return: float
    confidence: float
    source: str

    @property
    def holding_ms(self) -> int:
        return self.exit_time_ms - self.entry_time_ms
