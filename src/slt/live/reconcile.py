"""Make the engine's view agree with the exchange after a (re)start or a user-stream gap.

The exchange is the truth: a restart must never leave the Brain believing it is flat while
the exchange holds a position, nor waiting for an order the exchange never took. Pure: the
shell fetches positions, open orders and open algo orders (a few weight units) and applies
the answer. Every difference becomes a note the Brain logs.

* Positions: one the engine knows on the same side keeps its plan (entry time, stop, target,
  trailing state) with the exchange's quantity and entry price; one the engine does not know
  (or knows on the other side) is adopted with the exchange's numbers, entry time taken from
  the database when it remembers the position (so its time exit holds across a restart that
  lost the engine's state), else from the exchange's last update of it; one the exchange no
  longer holds is dropped (it was closed while the Brain was away; the wallet balance below
  accounts for it).
* Orders: the engine keeps the orders the exchange still has open; ours (`slt-` client ids)
  the engine lost track of are adopted; other clients' orders are left alone.
* Entries in flight that are no longer open are dropped (a fill shows up as a position).
* A position without a resting stop gets one at once (the engine's usual stop distance from
  its entry; if the price is already beyond it, the exchange refuses the stop and the engine
  exits at market — the same rule as when a stop cannot rest).
* The wallet balance is the exchange's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from slt.config import RiskConfig
from slt.domain import (
    Command,
    ExitReason,
    OrderPurpose,
    OrderRequest,
    OrderType,
    Position,
    Side,
)
from slt.domain.orders import CLIENT_ID_PREFIX
from slt.engine.state import EngineState
from slt.engine.tx import Tx
from slt.risk.exits import protective_prices
from slt.rules import ExchangeRules, isolated_liquidation_price

replace = msgspec.structs.replace
Row = Mapping[str, Any]
EntryTimes = Mapping[str, tuple[Side, int]]
"""symbol → (side, entry time ms) of positions the database holds open: a position adopted
from the exchange keeps its real entry time (and so its time exit) when the engine lost it."""


@dataclass(frozen=True, slots=True)
class ExchangeView:
    """What the exchange says, as its REST answers give it."""

    time_ms: int
    wallet_balance: Decimal | None
    positions: Sequence[Row]
    orders: Sequence[Row]
    algo_orders: Sequence[Row]


@dataclass(frozen=True, slots=True)
class Reconciled:
    state: EngineState
    commands: list[Command]
    notes: list[str] = field(default_factory=list)


def _purpose(client_id: str) -> OrderPurpose | None:
    if not client_id.startswith(CLIENT_ID_PREFIX):
        return None
    try:
        return OrderPurpose(client_id.rsplit("-", 1)[-1])
    except ValueError:
        return None


def _open_orders(view: ExchangeView) -> dict[str, OrderRequest]:
    """Our open orders on the exchange as engine orders, by client id."""
    out: dict[str, OrderRequest] = {}
    for row, cid_key, type_key, qty_key, price_key in (
        *((r, "clientOrderId", "type", "origQty", "stopPrice") for r in view.orders),
        *((r, "clientAlgoId", "orderType", "quantity", "triggerPrice") for r in view.algo_orders),
    ):
        cid = str(row.get(cid_key, ""))
        purpose = _purpose(cid)
        if purpose is None:
            continue
        try:
            otype = OrderType(str(row.get(type_key)))
        except ValueError:
            continue
        close_position = bool(row.get("closePosition"))
        qty = Decimal(str(row.get(qty_key) or "0"))
        price = Decimal(str(row.get(price_key) or "0"))
        out[cid] = OrderRequest(
            client_id=cid,
            symbol=str(row["symbol"]),
            side=Side.LONG if row.get("side") == "BUY" else Side.SHORT,
            type=otype,
            purpose=purpose,
            quantity=None if close_position or qty == 0 else qty,
            stop_price=price if price > 0 else None,
            reduce_only=bool(row.get("reduceOnly")),
            close_position=close_position,
        )
    return out


def _held(view: ExchangeView) -> dict[str, Row]:
    return {
        str(r["symbol"]): r for r in view.positions if Decimal(str(r.get("positionAmt", "0"))) != 0
    }


def reconcile(
    local: EngineState,
    view: ExchangeView,
    rules: ExchangeRules,
    risk: RiskConfig,
    entry_times: EntryTimes | None = None,
) -> Reconciled:
    notes: list[str] = []
    open_ids = _open_orders(view)
    held = _held(view)
    tx = Tx(local)
    tx.time_ms = max(tx.time_ms, view.time_ms)
    if view.wallet_balance is not None and view.wallet_balance != local.balance:
        notes.append(f"wallet balance {local.balance} → {view.wallet_balance} (exchange)")
        tx.balance = view.wallet_balance

    kept_orders = [o for o in local.orders if o.client_id in open_ids]
    for o in local.orders:
        if o.client_id not in open_ids:
            notes.append(f"order {o.client_id} on {o.symbol} is no longer open: dropped")
    known = {o.client_id for o in kept_orders} | {p.order.client_id for p in local.pending}
    for cid, o in open_ids.items():
        if cid not in known and o.purpose is not OrderPurpose.ENTRY:
            notes.append(f"order {cid} on {o.symbol} was open on the exchange only: adopted")
            kept_orders.append(o)
    tx.orders = kept_orders
    tx.pending = [p for p in local.pending if p.order.client_id in open_ids]
    for p in local.pending:
        if p.order.client_id not in open_ids:
            notes.append(f"entry {p.order.client_id} on {p.symbol} is no longer open: dropped")

    positions: list[Position] = []
    for pos in local.positions:
        row = held.get(pos.symbol)
        if row is None:
            notes.append(f"{pos.symbol} position is closed on the exchange: dropped")
            tx.orders = [o for o in tx.orders if o.symbol != pos.symbol]
            continue
        amount = Decimal(str(row["positionAmt"]))
        if (amount > 0) != (pos.side is Side.LONG):
            continue  # the other side: adopted below with the exchange's numbers
        qty, entry = abs(amount), Decimal(str(row["entryPrice"]))
        if qty != pos.quantity or entry != pos.entry_price:
            notes.append(
                f"{pos.symbol} position {pos.quantity}@{pos.entry_price} → {qty}@{entry} (exchange)"
            )
            pos = replace(pos, quantity=qty, entry_price=entry)
        if pos.closing_reason is not None and not any(
            o.symbol == pos.symbol and o.purpose is OrderPurpose.EXIT for o in tx.orders
        ):
            pos = replace(pos, closing_reason=None)  # the exit never landed: still open
        positions.append(pos)
    have = {p.symbol for p in positions}
    for symbol, row in held.items():
        if symbol in have or symbol not in rules:
            if symbol not in rules:
                notes.append(f"{symbol} position held on the exchange has no rules: left alone")
            continue
        stored = (entry_times or {}).get(symbol)
        positions.append(_adopt(row, local.position(symbol), view.time_ms, rules, stored))
        notes.append(f"{symbol} position {row['positionAmt']}@{row['entryPrice']} adopted")
    tx.positions = positions

    for pos in list(tx.positions):
        stop = next(
            (
                o
                for o in tx.orders
                if o.symbol == pos.symbol and o.purpose is OrderPurpose.STOP_LOSS
            ),
            None,
        )
        if stop is not None:
            if stop.client_id != pos.stop_client_id and stop.stop_price is not None:
                tx.set_position(
                    replace(pos, stop_client_id=stop.client_id, stop_price=stop.stop_price)
                )
            continue
        if pos.closing_reason is not None:
            continue
        prices = protective_prices(
            risk, rules.get(pos.symbol), pos.side, pos.entry_price, pos.quantity
        )
        price = pos.stop_price if pos.stop_price > 0 else prices.stop
        notes.append(f"{pos.symbol} position had no resting stop: placing one at {price}")
        order = tx.place_stop(pos.symbol, pos.side, price)
        tx.set_position(replace(pos, stop_price=price, stop_client_id=order.client_id))
    return Reconciled(tx.freeze(), tx.commands, notes)


def _adopt(
    row: Row,
    local: Position | None,
    now_ms: int,
    rules: ExchangeRules,
    known: tuple[Side, int] | None = None,
) -> Position:
    """A position the engine did not know (or knew on the other side), from the exchange;
    `known` is the database's (side, entry time) of it, used when the side agrees."""
    symbol = str(row["symbol"])
    amount = Decimal(str(row["positionAmt"]))
    side = Side.LONG if amount > 0 else Side.SHORT
    qty, entry = abs(amount), Decimal(str(row["entryPrice"]))
    leverage = int(str(row.get("leverage") or "1"))
    margin = qty * entry / leverage
    entry_time = int(row.get("updateTime") or 0) or now_ms
    if local is not None and local.side is side:
        entry_time = local.entry_time_ms
    elif known is not None and known[0] is side:
        entry_time = known[1]
    mark = float(str(row.get("markPrice") or entry))
    return Position(
        symbol=symbol,
        side=side,
        quantity=qty,
        entry_price=entry,
        entry_time_ms=entry_time,
        leverage=leverage,
        margin=margin,
        initial_quantity=qty,
        stop_price=Decimal(0),
        take_profit_price=None,
        partial_price=None,
        stop_client_id="",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=mark,
        mark_price=mark,
        liquidation_price=isolated_liquidation_price(
            rules.get(symbol),
            side=int(side),
            quantity=qty,
            entry_price=entry,
            wallet_balance=margin,
        ),
        expected_return=0.0,
        confidence=0.0,
        source="reconciled",
    )
