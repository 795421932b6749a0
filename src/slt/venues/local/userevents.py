"""User-data stream events with Binance's field names (binance-usdm-protocol.md §10).

Each builder returns the event body without `E`/`T`; `EventQueue.emit` stamps both in market
time (E ≥ T, never decreasing) and queues the event for the stream hub, which takes them with
`Account.drain_events()`. Numbers are strings formatted as in the REST answers.

Sequence for an order that fills at once: ORDER_TRADE_UPDATE x=NEW, then x=TRADE with the fill,
then ACCOUNT_UPDATE m=ORDER with the wallet and the changed position. A triggered algo order:
ALGO_UPDATE X=TRIGGERED (with `ai`, the order it placed), that order's NEW / TRADE and
ACCOUNT_UPDATE, then ALGO_UPDATE X=FINISHED.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from slt.venues.local import formats as fm
from slt.venues.local.orders import SIDE_NAMES, ZERO, AlgoOrder, Order

if TYPE_CHECKING:
    from slt.venues.local.account import Account


def order_update(
    acct: Account,
    o: Order,
    execution: str,
    t: int,
    *,
    last_qty: Decimal = ZERO,
    last_price: Decimal = ZERO,
    fee: Decimal = ZERO,
    realized: Decimal = ZERO,
    maker: bool = False,
    trade_id: int = 0,
    order_type: str | None = None,
    expire_reason: str = "0",
) -> dict[str, Any]:
    """ORDER_TRADE_UPDATE (§10.2) for `o` in its current state; `execution` is `x`."""
    r = acct.symbol_rules(o.symbol)
    return {
        "e": "ORDER_TRADE_UPDATE",
        "o": {
            "s": o.symbol,
            "c": o.client_id,
            "S": SIDE_NAMES[o.side],
            "o": order_type or o.type,
            "f": o.tif,
            "q": fm.qty(r, o.qty),
            "p": fm.price(r, o.price),
            "ap": fm.price(r, o.avg_price),
            "sp": fm.price(r, o.stop_price),
            "x": execution,
            "X": o.status,
            "i": o.order_id,
            "l": fm.qty(r, last_qty),
            "z": fm.qty(r, o.executed),
            "L": fm.price(r, last_price),
            "N": fm.ASSET,
            "n": fm.money(fee),
            "T": t,
            "t": trade_id,
            "b": "0",
            "a": "0",
            "m": maker,
            "R": o.reduce_only,
            "wt": o.working_type,
            "ot": o.orig_type,
            "ps": "BOTH",
            "cp": o.close_position,
            "rp": fm.money(realized),
            "pP": o.price_protect,
            "si": 0,
            "ss": 0,
            "V": o.stp,
            "pm": "NONE",
            "gtd": o.gtd,
            "er": expire_reason,
        },
    }


def position_row(acct: Account, symbol: str) -> dict[str, str]:
    pos = acct.position(symbol)
    iso = acct.isolated(symbol)
    return {
        "s": symbol,
        "pa": fm.qty(acct.symbol_rules(symbol), pos.amount),
        "ep": fm.plain(pos.entry),
        "bep": fm.plain(pos.entry * (1 + pos.side * acct.taker_rate)) if pos.amount else "0",
        "cr": fm.money(pos.realized),
        "up": fm.money(acct.unrealized(symbol)),
        "mt": "isolated" if iso else "cross",
        "iw": fm.money(pos.isolated_wallet),
        "ps": "BOTH",
    }


def account_update(
    acct: Account, reason: str, symbols: list[str], balance_change: Decimal = ZERO
) -> dict[str, Any]:
    """ACCOUNT_UPDATE (§10.3): the wallet, and the positions in `symbols` (only changed ones)."""
    return {
        "e": "ACCOUNT_UPDATE",
        "a": {
            "m": reason,
            "B": [
                {
                    "a": fm.ASSET,
                    "wb": fm.money(acct.wallet),
                    "cw": fm.money(acct.cross_wallet()),
                    "bc": fm.money(balance_change),
                }
            ],
            "P": [position_row(acct, s) for s in symbols],
        },
    }


def algo_update(acct: Account, a: AlgoOrder) -> dict[str, Any]:
    """ALGO_UPDATE (§10.6) for `a` in its current state."""
    r = acct.symbol_rules(a.symbol)
    return {
        "e": "ALGO_UPDATE",
        "o": {
            "caid": a.client_algo_id,
            "aid": a.algo_id,
            "at": "CONDITIONAL",
            "o": a.order_type,
            "s": a.symbol,
            "S": SIDE_NAMES[a.side],
            "ps": "BOTH",
            "f": a.tif,
            "q": fm.qty(r, a.qty),
            "X": a.status,
            "ai": str(a.actual_order_id) if a.actual_order_id else "",
            "ap": fm.price(r, a.actual_price),
            "aq": fm.qty(r, ZERO),
            "act": "0",
            "tp": fm.price(r, a.trigger_price),
            "p": fm.price(r, a.price),
            "V": a.stp,
            "wt": a.working_type,
            "pm": "NONE",
            "cp": a.close_position,
            "pP": a.price_protect,
            "R": a.reduce_only,
            "tt": a.trigger_time,
            "gtd": 0,
            "rm": a.reject_reason,
        },
    }


def leverage_update(symbol: str, leverage: int) -> dict[str, Any]:
    """ACCOUNT_CONFIG_UPDATE for a leverage change (§10.5)."""
    return {"e": "ACCOUNT_CONFIG_UPDATE", "ac": {"s": symbol, "l": leverage}}


class EventQueue:
    """The account's user-data events in the order they happened, stamped in market time."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._last_e = 0
        self._last_t = 0

    def emit(self, body: Mapping[str, Any], t: int) -> None:
        """Queue `body` at market time `t`: E ≥ T, both never decreasing."""
        tt = max(t, self._last_t)
        e = max(tt, self._last_e)
        self._last_t, self._last_e = tt, e
        event = {"e": body["e"], "E": e, "T": tt}
        event.update((k, v) for k, v in body.items() if k != "e")
        self._events.append(event)

    def drain(self) -> list[dict[str, Any]]:
        out, self._events = self._events, []
        return out
