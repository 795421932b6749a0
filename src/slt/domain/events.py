"""Events the engine reacts to and commands it emits. Everything is a frozen value."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from slt.domain.candle import Candle
from slt.domain.orders import Fill, OrderRequest
from slt.domain.position import TradeRecord
from slt.domain.signal import Signal


class Bar(msgspec.Struct, frozen=True, gc=False):
    """A closed candle and the strategy's signal at its close (None when it has no view)."""

    candle: Candle
    signal: Signal | None = None


class BarsClosed(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Candles of one or more symbols that closed at `time_ms` (their close time + 1 ms)."""

    time_ms: int
    bars: tuple[Bar, ...]


class OrderAccepted(msgspec.Struct, frozen=True, tag=True, gc=False):
    order: OrderRequest
    time_ms: int


class OrderRejected(msgspec.Struct, frozen=True, tag=True, gc=False):
    """The venue refused an order. `code` is Binance's error code (e.g. -4164), 0 if local."""

    order: OrderRequest
    time_ms: int
    code: int
    reason: str


class OrderFilled(msgspec.Struct, frozen=True, tag=True, gc=False):
    fill: Fill


class OrderCanceled(msgspec.Struct, frozen=True, tag=True):
    symbol: str
    client_id: str
    time_ms: int


class FundingApplied(msgspec.Struct, frozen=True, tag=True):
    """Funding settled on a position: `amount` is what the account received (negative = paid)."""

    symbol: str
    time_ms: int
    rate: float
    mark_price: Decimal
    amount: Decimal


class Timer(msgspec.Struct, frozen=True, tag=True):
    """A clock tick (live: every 60 s) so time exits fire even when no candle arrives."""

    time_ms: int


Event = (
    BarsClosed
    | OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderCanceled
    | FundingApplied
    | Timer
)


class PlaceOrder(msgspec.Struct, frozen=True, tag=True, gc=False):
    order: OrderRequest


class CancelOrder(msgspec.Struct, frozen=True, tag=True):
    symbol: str
    client_id: str


class RecordTrade(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Not an exchange action: tells the shell to persist a closed trade."""

    trade: TradeRecord


class Notice(msgspec.Struct, frozen=True, tag=True):
    """A business-level message for the log (skipped entry, halted trading, rejected order...)."""

    time_ms: int
    kind: str
    message: str


Command = PlaceOrder | CancelOrder | RecordTrade | Notice
