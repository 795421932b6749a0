"""Orders and fills: the exchange-facing zone, so prices and quantities are exact `Decimal`s."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from slt.domain.enums import OrderPurpose, OrderType, Side

CLIENT_ID_PREFIX = "slt-"


class OrderRequest(msgspec.Struct, frozen=True, gc=False):
    """An order the engine wants on the exchange.

    `side` is the order side as a direction (LONG = BUY, SHORT = SELL). `quantity` is None only
    for `close_position` orders, which close whatever is left of the position when triggered.
    `stop_price` is the trigger for STOP_MARKET / TAKE_PROFIT_MARKET (Binance `triggerPrice`).
    `leverage` is set on entries: the venue adapter applies it to the symbol before sending.
    """

    client_id: str
    symbol: str
    side: Side
    type: OrderType
    purpose: OrderPurpose
    quantity: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    close_position: bool = False
    leverage: int | None = None
    created_ms: int = 0

    @property
    def binance_side(self) -> str:
        return "BUY" if self.side is Side.LONG else "SELL"


def client_order_id(seq: int, purpose: OrderPurpose) -> str:
    """Deterministic client order id (≤ 36 chars, Binance's alphabet) from the engine's sequence.

    The same engine state always yields the same id, so a retried submit is idempotent and a
    restarted process recognises its own orders by the `slt-` prefix.
    """
    return f"{CLIENT_ID_PREFIX}{seq:x}-{_SUFFIX[purpose]}"


_SUFFIX = {p: p.value for p in OrderPurpose}
"""Each purpose's value, read from a dict: every order built asks, and the enum's `value`
property costs several times a dict read."""


class Fill(msgspec.Struct, frozen=True, gc=False):
    """One execution. `fee` is a positive cost in the margin asset (USDT).

    `trade_id` is the venue's id of the execution (Binance's `t` on the stream, `id` in
    `GET /fapi/v1/userTrades`), unique per symbol: it is what lets a fill heard on the stream
    and the same fill read back over REST after a crash be recognised as one
    (`slt.storage.trading_ops.fill_key`). None when the venue did not say (simulated venues,
    fills saved before the field existed); it is last and optional so every existing caller
    and saved snapshot still decodes."""

    client_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    time_ms: int
    maker: bool = False
    liquidation: bool = False
    trade_id: int | None = None
