"""Reconciliation: the exchange wins, every difference is named, nothing is left unprotected."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import RiskConfig
from slt.domain import ExitReason, OrderPurpose, OrderType, PlaceOrder, Position, Side
from slt.engine.state import EngineState
from slt.live.reconcile import ExchangeView, reconcile
from slt.rules import bundled_rules

RULES = bundled_rules()
RISK = RiskConfig()
NOW = 1_750_000_000_000


def _position(symbol: str = "BTCUSDT", side: Side = Side.LONG, qty: str = "0.010") -> Position:
    return Position(
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        entry_price=Decimal("100000"),
        entry_time_ms=NOW - 3_600_000,
        leverage=5,
        margin=Decimal("200"),
        initial_quantity=Decimal(qty),
        stop_price=Decimal("99000"),
        take_profit_price=Decimal("102000"),
        partial_price=None,
        stop_client_id="slt-5-SL",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=100000.0,
        mark_price=100000.0,
        liquidation_price=None,
        expected_return=0.01,
        confidence=0.5,
        source="test",
    )


def _row(
    symbol: str, amount: str, entry: str = "100000", update: int = NOW - 60_000
) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "positionAmt": amount,
        "entryPrice": entry,
        "leverage": "5",
        "markPrice": entry,
        "updateTime": update,
    }


def _algo(
    cid: str, symbol: str = "BTCUSDT", kind: str = "STOP_MARKET", price: str = "99000"
) -> dict[str, Any]:
    return {
        "clientAlgoId": cid,
        "symbol": symbol,
        "side": "SELL",
        "orderType": kind,
        "quantity": "0",
        "triggerPrice": price,
        "closePosition": True,
        "reduceOnly": False,
    }


def _view(
    positions: Sequence[dict[str, Any]] = (),
    algo: Sequence[dict[str, Any]] = (),
    orders: Sequence[dict[str, Any]] = (),
    balance: str | None = "10000",
) -> ExchangeView:
    return ExchangeView(NOW, Decimal(balance) if balance else None, positions, orders, algo)


def test_agreement_changes_nothing_and_sends_nothing() -> None:
    pos = _position()
    local = EngineState(
        balance=Decimal(10000),
        positions=(pos,),
        orders=(*_orders(pos),),
    )
    done = reconcile(local, _view([_row("BTCUSDT", "0.010")], [_algo("slt-5-SL")]), RULES, RISK)
    assert done.notes == [] and done.commands == []
    assert done.state.positions == local.positions and done.state.orders == local.orders


def _orders(pos: Position) -> tuple[Any, ...]:
    from slt.domain import OrderRequest

    return (
        OrderRequest(
            "slt-5-SL",
            pos.symbol,
            pos.side.opposite,
            OrderType.STOP_MARKET,
            OrderPurpose.STOP_LOSS,
            stop_price=pos.stop_price,
            close_position=True,
        ),
    )


def test_a_position_the_engine_forgot_is_adopted_and_gets_a_stop() -> None:
    done = reconcile(
        EngineState(balance=Decimal(10000)), _view([_row("ETHUSDT", "-0.5", "3000")]), RULES, RISK
    )
    (pos,) = done.state.positions
    assert pos.symbol == "ETHUSDT" and pos.side is Side.SHORT and pos.quantity == Decimal("0.5")
    assert pos.entry_time_ms == NOW - 60_000  # the exchange's last update of it
    (cmd,) = done.commands
    assert isinstance(cmd, PlaceOrder) and cmd.order.purpose is OrderPurpose.STOP_LOSS
    assert cmd.order.side is Side.LONG and cmd.order.stop_price is not None
    assert cmd.order.stop_price > Decimal(3000)  # a short's stop is above its entry
    assert pos.stop_client_id == cmd.order.client_id
    assert any("adopted" in n for n in done.notes)


def test_a_position_closed_while_away_is_dropped_with_its_orders() -> None:
    pos = _position()
    local = EngineState(balance=Decimal(10000), positions=(pos,), orders=_orders(pos))
    done = reconcile(local, _view([], [], balance="9900"), RULES, RISK)
    assert done.state.positions == () and done.state.orders == ()
    assert done.state.balance == Decimal(9900)
    assert done.commands == []


def test_the_exchange_quantity_wins_but_the_plan_and_entry_time_stay() -> None:
    pos = _position(qty="0.010")
    local = EngineState(balance=Decimal(10000), positions=(pos,), orders=_orders(pos))
    done = reconcile(
        local, _view([_row("BTCUSDT", "0.004", "100100")], [_algo("slt-5-SL")]), RULES, RISK
    )
    (got,) = done.state.positions
    assert got.quantity == Decimal("0.004") and got.entry_price == Decimal("100100")
    assert got.entry_time_ms == pos.entry_time_ms and got.stop_client_id == "slt-5-SL"


def test_other_clients_orders_are_left_alone_and_ours_adopted() -> None:
    mine = _algo("slt-9-TP", kind="TAKE_PROFIT_MARKET", price="102000")
    theirs = _algo("web_abc123")
    done = reconcile(
        EngineState(balance=Decimal(10000)),
        _view([_row("BTCUSDT", "0.010")], [mine, theirs, _algo("slt-8-SL")]),
        RULES,
        RISK,
    )
    ids = {o.client_id for o in done.state.orders}
    assert ids == {"slt-9-TP", "slt-8-SL"}
    assert done.commands == []  # the adopted stop protects it
    assert done.state.positions[0].stop_client_id == "slt-8-SL"


@settings(max_examples=60, deadline=None)
@given(
    held=st.dictionaries(
        st.sampled_from(["BTCUSDT", "ETHUSDT", "LTCUSDT", "ADAUSDT"]),
        st.sampled_from(["0.5", "-0.5", "2", "-2"]),
        max_size=4,
    ),
    known=st.sets(st.sampled_from(["BTCUSDT", "ETHUSDT", "LTCUSDT", "ADAUSDT"]), max_size=4),
)
def test_after_reconciling_the_engine_holds_exactly_what_the_exchange_holds(
    held: dict[str, str], known: set[str]
) -> None:
    prices = {"BTCUSDT": "100000", "ETHUSDT": "3000", "LTCUSDT": "80", "ADAUSDT": "0.5"}
    positions = tuple(_position(s, qty="1") for s in sorted(known))
    local = EngineState(balance=Decimal(10000), positions=positions)
    view = _view([_row(s, a, prices[s]) for s, a in held.items()])
    done = reconcile(local, view, RULES, RISK)
    got = {p.symbol: int(p.side) * p.quantity for p in done.state.positions}
    assert got == {s: Decimal(a) for s, a in held.items()}
    # and every position has a resting stop (kept or placed now)
    stops = {o.symbol for o in done.state.orders if o.purpose is OrderPurpose.STOP_LOSS}
    assert stops == set(held)
