"""The live ledger's write operations as plain values.

Every write to the trading tables is one of these structs, applied by
`TradingStore.apply`. Making a write a value is what lets the degraded-mode journal
(`slt.storage.journal`) append it to a file while the database is away and apply the very
same thing later: one code path for "now" and "after the outage". Each op is idempotent
against its table's natural key (see `TradingStore.apply`), so a replay never duplicates.

Exact amounts are `Decimal` (msgspec writes them as strings, so the journal keeps every
digit); times are int UTC ms; fractions (expected return, realised return) are floats.
The `*_of` helpers build ops from the engine's domain values, so callers need not know
the column layout.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec

from slt.domain import Fill, OrderRequest, Position, Side, Signal, TradeRecord

ORDER_STATUSES: dict[str, int] = {
    "intent": 0,
    "sent": 1,
    "accepted": 2,
    "filled": 3,
    "canceled": 3,
    "rejected": 3,
}
"""Order status → rank. A status only replaces one of lower rank, so a late 'sent' never
undoes 'filled', and the first final status (filled, canceled, rejected) is the one kept."""


class _Op(msgspec.Struct, frozen=True, tag_field="op"):
    """Base of the ops: the journal names each line's kind in its `op` field."""


class StartRun(_Op, frozen=True, tag="start_run"):
    """A live or paper run begins; `venue` is the venue kind (binance, sim, ...)."""

    run_id: str
    venue: str
    started_ms: int
    config: dict[str, Any] = {}


class EndRun(_Op, frozen=True, tag="end_run"):
    run_id: str
    ended_ms: int


class SignalOp(_Op, frozen=True, tag="signal"):
    """A strategy signal; `direction` +1 / -1 / 0, `expected_return` a fraction."""

    run_id: str
    symbol: str
    time_ms: int
    direction: int
    expected_return: float
    confidence: float
    source: str = ""


class OrderIntent(_Op, frozen=True, tag="order_intent"):
    """An order about to be sent, recorded first (write-ahead). `side` is BUY or SELL."""

    run_id: str
    client_id: str
    symbol: str
    side: str
    type: str
    purpose: str
    quantity: Decimal | None
    stop_price: Decimal | None
    reduce_only: bool
    close_position: bool
    leverage: int | None
    created_ms: int


class OrderUpdate(_Op, frozen=True, tag="order_update"):
    """An order's new status (one of `ORDER_STATUSES`); `code` is the venue's error code."""

    run_id: str
    client_id: str
    status: str
    time_ms: int
    code: int = 0
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in ORDER_STATUSES:
            raise ValueError(
                f"unknown order status {self.status!r}; use one of {', '.join(ORDER_STATUSES)}"
            )


class FillOp(_Op, frozen=True, tag="fill"):
    """One execution. `fill_key` is unique per run (see `fill_key`); `side` BUY or SELL."""

    run_id: str
    fill_key: str
    client_id: str
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    time_ms: int
    maker: bool = False
    liquidation: bool = False
    trade_id: int | None = None


class PositionOp(_Op, frozen=True, tag="position"):
    """The open position of a symbol as of `updated_ms`; `side` LONG or SHORT.

    `mark_price` and `unrealized_pnl` are what the Brain last saw, for `slt status`; None when
    the writer does not know them (a plan change between snapshots). They come last with
    defaults so journal lines written before they existed still decode."""

    run_id: str
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    entry_time_ms: int
    leverage: int
    margin: Decimal
    stop_price: Decimal | None
    stop_client_id: str | None
    take_profit_price: Decimal | None
    updated_ms: int
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal | None = None


class ClosePosition(_Op, frozen=True, tag="close_position"):
    run_id: str
    symbol: str
    time_ms: int


class TradeOp(_Op, frozen=True, tag="trade"):
    """A closed trade; `net_pnl` = gross − fees − funding, `return_pct` a fraction."""

    run_id: str
    symbol: str
    side: str
    entry_time_ms: int
    exit_time_ms: int
    entry_price: Decimal
    exit_price: Decimal
    quantity: Decimal
    leverage: int
    gross_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal
    return_pct: float
    exit_reason: str
    source: str = ""


class AccountSnapshot(_Op, frozen=True, tag="account"):
    run_id: str
    time_ms: int
    balance: Decimal
    equity: Decimal
    available: Decimal
    open_positions: int


class ExperienceOp(_Op, frozen=True, tag="experience"):
    """Features at entry and the model's prediction; the outcome comes with `OutcomeOp`.

    A feature that was NaN is None (JSON has no NaN)."""

    run_id: str
    symbol: str
    entry_time_ms: int
    model_id: str
    features: tuple[float | None, ...]
    prediction: float


class OutcomeOp(_Op, frozen=True, tag="outcome"):
    """What an experience's trade realised: `realised_return` a fraction, net of costs."""

    run_id: str
    symbol: str
    entry_time_ms: int
    realised_return: float
    exit_reason: str
    exit_time_ms: int


WriteOp = (
    StartRun
    | EndRun
    | SignalOp
    | OrderIntent
    | OrderUpdate
    | FillOp
    | PositionOp
    | ClosePosition
    | TradeOp
    | AccountSnapshot
    | ExperienceOp
    | OutcomeOp
)


def _order_side(side: Side) -> str:
    return "BUY" if side is Side.LONG else "SELL"


def signal_of(run_id: str, signal: Signal) -> SignalOp:
    return SignalOp(
        run_id,
        signal.symbol,
        signal.time_ms,
        signal.direction,
        signal.expected_return,
        signal.confidence,
        signal.source,
    )


def intent_of(run_id: str, order: OrderRequest) -> OrderIntent:
    return OrderIntent(
        run_id=run_id,
        client_id=order.client_id,
        symbol=order.symbol,
        side=_order_side(order.side),
        type=order.type.value,
        purpose=order.purpose.value,
        quantity=order.quantity,
        stop_price=order.stop_price,
        reduce_only=order.reduce_only,
        close_position=order.close_position,
        leverage=order.leverage,
        created_ms=order.created_ms,
    )


def fill_key(fill: Fill, trade_id: int | None = None) -> str:
    """The fill's identity within a run.

    With the venue's trade id (Binance's `t`, unique per symbol) it is `symbol:t<id>`.
    Without one it is built from the order and the execution itself (time, price,
    quantity), which is the same text every time the same fill is reported; two partial
    fills of one order at the same millisecond, price and quantity would share it.
    """
    if trade_id is not None:
        return f"{fill.symbol}:t{trade_id}"
    return f"{fill.client_id}:{fill.time_ms}:{fill.price}:{fill.quantity}"


def fill_of(run_id: str, fill: Fill, trade_id: int | None = None) -> FillOp:
    return FillOp(
        run_id=run_id,
        fill_key=fill_key(fill, trade_id),
        client_id=fill.client_id,
        symbol=fill.symbol,
        side=_order_side(fill.side),
        price=fill.price,
        quantity=fill.quantity,
        fee=fill.fee,
        time_ms=fill.time_ms,
        maker=fill.maker,
        liquidation=fill.liquidation,
        trade_id=trade_id,
    )


def position_of(
    run_id: str, position: Position, updated_ms: int, *, with_mark: bool = False
) -> PositionOp:
    """The position's row; `with_mark` adds its mark price and the exact unrealised PnL at
    that mark (for the periodic snapshot: a plan change alone leaves them out)."""
    mark = _mark(position.mark_price) if with_mark else None
    upnl = None
    if mark is not None:
        upnl = (mark - position.entry_price) * position.quantity * int(position.side)
    return PositionOp(
        run_id=run_id,
        symbol=position.symbol,
        side=position.side.name,
        quantity=position.quantity,
        entry_price=position.entry_price,
        entry_time_ms=position.entry_time_ms,
        leverage=position.leverage,
        margin=position.margin,
        stop_price=position.stop_price,
        stop_client_id=position.stop_client_id or None,
        take_profit_price=position.take_profit_price,
        updated_ms=updated_ms,
        mark_price=mark,
        unrealized_pnl=upnl,
    )


def _mark(price: float) -> Decimal | None:
    """A float mark as the Decimal of its shortest repr; None when there is none yet (0)."""
    return Decimal(repr(price)) if math.isfinite(price) and price > 0 else None


def trade_of(run_id: str, trade: TradeRecord) -> TradeOp:
    return TradeOp(
        run_id=run_id,
        symbol=trade.symbol,
        side=trade.side.name,
        entry_time_ms=trade.entry_time_ms,
        exit_time_ms=trade.exit_time_ms,
        entry_price=trade.entry_price,
        exit_price=trade.exit_price,
        quantity=trade.quantity,
        leverage=trade.leverage,
        gross_pnl=trade.gross_pnl,
        fees=trade.fees,
        funding=trade.funding,
        net_pnl=trade.net_pnl,
        return_pct=trade.return_pct,
        exit_reason=trade.exit_reason.value,
        source=trade.source,
    )


def experience_of(
    run_id: str,
    symbol: str,
    entry_time_ms: int,
    model_id: str,
    features: Iterable[float],
    prediction: float,
) -> ExperienceOp:
    """An experience row; NaN or infinite features become None (JSON cannot carry them)."""
    clean = tuple(float(x) if math.isfinite(x) else None for x in features)
    return ExperienceOp(run_id, symbol, entry_time_ms, model_id, clean, float(prediction))
