"""Fills the Brain did not hear: read back from the exchange's account history after a restart.

The Brain learns of fills only from the user-data stream, and the ledger writes each one before
the engine acts on it. A fill that happens while the Brain is dead (killed between a stop's
placement and its trigger, say) is never on the stream the next Brain listens to:
reconciliation puts the engine's positions right from the exchange, but the fill itself would
be missing from the database. The exchange keeps every execution (`GET /fapi/v1/userTrades`)
and every order (`GET /fapi/v1/allOrders`), so the restarted Brain asks for them and stores
what it finds.

`missing_fills` only reads; the caller stores. Every returned `Fill` carries the venue's trade
id, and the ledger's key for a fill with a trade id is `fill_key(fill, fill.trade_id)` =
`SYMBOL:t<id>`, the same key a fill from the stream gets (translate.py sets `trade_id` from
`t`). So the contract is: store each returned fill with insert-once semantics under
`fill_key(fill, fill.trade_id)`; a fill the stream already delivered (same trade id) is then
not stored twice, and calling `missing_fills` again over an overlapping span is harmless. That
holds only if stream fills are stored under the same key, i.e. with their trade id
(`fill_of(run, fill, fill.trade_id)`); a fill stored under the composite key (no trade id)
would be stored a second time.

How the Brain calls it, after a restart (and after a `StreamGap`), once the user stream is
connected again so nothing falls between the two:
    since_ms = time of the last fill stored for the run (else the run's start) − a minute
    now_ms   = await rest.market_time_ms(symbol)   # the venue's clock; the local exchange's
                                                   # serverTime is wall time, not market time
    for fill in await missing_fills(rest, symbols, since_ms, now_ms): store it once (above)
`symbols` are the run's symbols (at least every symbol with a stored open position or an order
of the run). Reconciliation, not these fills, puts the engine's positions right.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from slt.domain import Fill, Side
from slt.live.translate import LIQUIDATION_PREFIXES

FEE_ASSET = "USDT"


class AccountHistory(Protocol):
    """What `missing_fills` needs of the venue (`slt.venues.binance.rest.BinanceRest`)."""

    async def user_trades(
        self, symbol: str, start_ms: int, end_ms: int | None = None
    ) -> list[dict[str, Any]]: ...

    async def all_orders(
        self, symbol: str, start_ms: int, end_ms: int | None = None
    ) -> list[dict[str, Any]]: ...

    async def order_by_id(self, symbol: str, order_id: int) -> dict[str, Any] | None: ...


async def missing_fills(
    rest: AccountHistory, symbols: Iterable[str], since_ms: int, now_ms: int
) -> list[Fill]:
    """The account's executions on `symbols` with `since_ms` ≤ time ≤ `now_ms`, as `Fill`s,
    oldest first (by time, then trade id).

    Each fill has `trade_id` (the execution's id), `client_id` (the clientOrderId the exchange
    reports for its order: for a triggered conditional order that is the id of the regular
    order the trigger placed, which may differ from the algo order's clientAlgoId the engine
    placed it under), `fee` (the trade's `commission` when paid in USDT, else 0, as the stream
    translator does), `maker`, and `liquidation` (client id with one of Binance's liquidation
    prefixes, `LIQUIDATION_PREFIXES`). A fill whose order the exchange no longer reports (older
    than 90 days) has client id "".

    Storing contract (module docstring): insert each one once under
    `fill_key(fill, fill.trade_id)`; the fills the stream already delivered come back too and
    must be skipped by that key, not by time. `since_ms` may therefore safely reach back before
    the last fill the Brain stored (the time of that fill, or the time the Brain last stopped
    listening, minus some slack); spans longer than 7 days are read in 7-day windows (weight 5
    per window and symbol for trades, the same again for orders, plus 1 per order created
    before `since_ms` that filled after it)."""
    fills: list[Fill] = []
    for symbol in dict.fromkeys(symbols):
        trades = await rest.user_trades(symbol, since_ms, now_ms)
        trades = [t for t in trades if since_ms <= int(t["time"]) <= now_ms]
        if not trades:
            continue
        client_ids = await _client_ids(rest, symbol, trades, since_ms, now_ms)
        fills.extend(_fill(t, client_ids.get(int(t["orderId"]), "")) for t in trades)
    fills.sort(key=lambda f: (f.time_ms, f.trade_id or 0))
    return fills


async def _client_ids(
    rest: AccountHistory,
    symbol: str,
    trades: list[dict[str, Any]],
    since_ms: int,
    now_ms: int,
) -> dict[int, str]:
    """orderId → clientOrderId for the orders of `trades`: from allOrders over the same span,
    then one order lookup for each order created earlier (a resting order filled later)."""
    wanted = {int(t["orderId"]) for t in trades}
    found = {
        int(o["orderId"]): str(o["clientOrderId"])
        for o in await rest.all_orders(symbol, since_ms, now_ms)
        if int(o["orderId"]) in wanted
    }
    for order_id in sorted(wanted - found.keys()):
        order = await rest.order_by_id(symbol, order_id)
        if order is not None:
            found[order_id] = str(order["clientOrderId"])
    return found


def _dec(value: object) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _fill(trade: Mapping[str, Any], client_id: str) -> Fill:
    fee = _dec(trade.get("commission", "0"))
    return Fill(
        client_id=client_id,
        symbol=str(trade["symbol"]),
        side=Side.LONG if trade["side"] == "BUY" else Side.SHORT,
        price=_dec(trade["price"]),
        quantity=_dec(trade["qty"]),
        fee=fee if trade.get("commissionAsset", FEE_ASSET) == FEE_ASSET else Decimal(0),
        time_ms=int(trade["time"]),
        maker=bool(trade.get("maker", False)),
        liquidation=client_id.startswith(LIQUIDATION_PREFIXES),
        trade_id=int(trade["id"]),
    )
