"""The engine's whole state: one frozen value, replaced (never mutated) by each step."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from slt.domain import OrderRequest, Position
from slt.risk.protections import Protections


class PendingEntry(msgspec.Struct, frozen=True):
    """An entry order sent and not yet filled, with the plan it was sized for."""

    order: OrderRequest
    leverage: int
    margin: Decimal
    expected_return: float
    confidence: float
    source: str
    filled: Decimal = Decimal(0)

    @property
    def symbol(self) -> str:
        return self.order.symbol


class EngineState(msgspec.Struct, frozen=True):
    """Balance is the wallet balance (realised PnL, fees and funding). Open protective orders
    (stop, target, scale-out) and exits in flight are kept in `orders` by client id order."""

    balance: Decimal
    time_ms: int = 0
    positions: tuple[Position, ...] = ()
    pending: tuple[PendingEntry, ...] = ()
    orders: tuple[OrderRequest, ...] = ()
    seq: int = 0
    recent_returns: tuple[float, ...] = ()
    protections: Protections = Protections()

    def position(self, symbol: str) -> Position | None:
        for p in self.positions:
            if p.symbol == symbol:
                return p
        return None

    def pending_for(self, symbol: str) -> PendingEntry | None:
        for p in self.pending:
            if p.symbol == symbol:
                return p
        return None

    def order(self, client_id: str) -> OrderRequest | None:
        for o in self.orders:
            if o.client_id == client_id:
                return o
        return None

    def equity(self) -> float:
        """Wallet balance plus unrealised PnL at the latest marks."""
        return float(self.balance) + sum(p.unrealized_pnl(p.mark_price) for p in self.positions)

    def available(self) -> float:
        """Balance not locked as margin by open positions or entries in flight."""
        locked = sum(p.margin for p in self.positions) + sum(p.margin for p in self.pending)
        return float(self.balance - locked)

    def active_count(self) -> int:
        """Positions that are staying (not being closed) plus entries in flight."""
        return sum(1 for p in self.positions if p.closing_reason is None) + len(self.pending)
