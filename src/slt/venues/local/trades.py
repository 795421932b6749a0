"""The account's executions, as `GET /fapi/v1/userTrades` reports them.

Binance keeps every execution of an account and serves it back over REST; a client that was
not listening when a fill happened (crashed, disconnected) finds it there. The local exchange
therefore records each execution at the moment it books it (`Account.record_trade`, the only
place a trade id is handed out), with the numbers the user stream reported for it: the same
trade id, time, price, quantity, fee and realised PnL, so a fill read back over REST is the
same fill the stream announced.

Trade ids are account-wide and increasing (Binance's are per symbol); either way they increase
within a symbol, which is all `fromId` paging needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from slt.rules.rounding import CALC
from slt.venues.local import formats as fm
from slt.venues.local.orders import SIDE_NAMES

if TYPE_CHECKING:
    from slt.venues.local.account import Account


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution of one order (`side` +1 BUY / −1 SELL; `fee` a positive cost in USDT)."""

    trade_id: int
    symbol: str
    order_id: int
    side: int
    price: Decimal
    qty: Decimal
    fee: Decimal
    realized: Decimal
    maker: bool
    time: int


def trade_json(acct: Account, t: Trade) -> dict[str, Any]:
    """One row of GET /fapi/v1/userTrades, keys as Binance documents them.

    `commission` is a positive cost, as in the recorded live answer and the stream's `n`
    (binance-usdm-protocol.md §11.5); `quoteQty` has 5 decimals like `cumQuote`."""
    r = acct.symbol_rules(t.symbol)
    return {
        "buyer": t.side > 0,
        "commission": fm.money(t.fee),
        "commissionAsset": fm.ASSET,
        "id": t.trade_id,
        "maker": t.maker,
        "orderId": t.order_id,
        "price": fm.price(r, t.price),
        "qty": fm.qty(r, t.qty),
        "quoteQty": fm.fixed(CALC.multiply(t.price, t.qty), 5),
        "realizedPnl": fm.money(t.realized),
        "side": SIDE_NAMES[t.side],
        "positionSide": "BOTH",
        "symbol": t.symbol,
        "time": t.time,
    }
