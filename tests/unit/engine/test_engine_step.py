"""`Engine.step` on hand-made events, without a venue: how an entry is sized and levered, and
how the engine answers rejections, cancels and fills it did not expect. Plain values in, plain
values out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import FeeConfig, RiskConfig
from slt.domain import (
    Bar,
    BarsClosed,
    CancelOrder,
    Candle,
    Command,
    ExitReason,
    Fill,
    Notice,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderPurpose,
    OrderRejected,
    OrderRequest,
    OrderType,
    PlaceOrder,
    RecordTrade,
    Side,
    Signal,
)
from slt.engine.engine import Engine
from slt.engine.state import EngineState
from slt.rules import Rounding, bundled_rules, check_order, isolated_liquidation_price

D = Decimal
RULES = bundled_rules()
BTC = "BTCUSDT"
T0 = 1_704_067_200_000
MINUTE = 60_000
NO_COSTS = FeeConfig(taker_rate=0, maker_rate=0, slippage_pct=0, funding_rate=0)


def closed(symbol: str, price: float, t: int, signal: Signal | None = None) -> BarsClosed:
    c = Candle(symbol, t, t + MINUTE - 1, price, price, price, price, 1.0)
    return BarsClosed(t + MINUTE, (Bar(c, signal),))


def entry_order(commands: list[Command]) -> OrderRequest | None:
    for c in commands:
        if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.ENTRY:
            return c.order
    return None


def placed(commands: list[Command]) -> list[OrderRequest]:
    return [c.order for c in commands if isinstance(c, PlaceOrder)]


def opened(engine: Engine, side: Side = Side.LONG) -> EngineState:
    """A 0.166 BTC position from 60 000 with its stop, target and scale-out resting."""
    state = engine.initial_state(D("10000"))
    sig = Signal(BTC, T0 + MINUTE, int(side), 0.01, 0.8, 0.005)
    state, cmds = engine.step(state, closed(BTC, 60000.0, T0, sig))
    order = entry_order(cmds)
    assert order is not None
    fill = Fill(order.client_id, BTC, side, D("60000"), order.quantity or D(0), D(0), T0 + MINUTE)
    state, _ = engine.step(state, OrderFilled(fill))
    assert state.position(BTC) is not None
    return state


def by_purpose(state: EngineState, purpose: OrderPurpose) -> OrderRequest:
    (order,) = [o for o in state.orders if o.purpose is purpose]
    return order


# -- entry sizing and leverage --------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT", "BNBUSDT"]),
    balance=st.one_of(
        st.integers(min_value=40, max_value=300), st.integers(min_value=300, max_value=2_000_000)
    ),
    price_factor=st.floats(min_value=0.2, max_value=5.0),
    direction=st.sampled_from([1, -1]),
    confidence=st.floats(min_value=0.0, max_value=1.0),
    sl=st.floats(min_value=0.002, max_value=0.1),
    sizing=st.sampled_from(["fixed_risk", "kelly"]),
    atr=st.floats(min_value=0.0005, max_value=0.05),
)
def test_entry_risks_at_most_the_budget_and_liquidates_beyond_the_stop(
    symbol: str,
    balance: int,
    price_factor: float,
    direction: int,
    confidence: float,
    sl: float,
    sizing: str,
    atr: float,
) -> None:
    """Whatever the account and market, an entry the engine sends: passes the exchange's own
    validation unchanged; loses at most `risk_per_trade` of equity at the stop (or, when it had
    to be raised to the minimum notional, at most `max_risk_per_trade`); uses a leverage within
    the bracket and cap whose liquidation lies beyond the stop plus the buffer; and locks no more
    than `max_margin_fraction` of equity."""
    base = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0, "SOLUSDT": 150.0}.get(symbol, 1.0)
    rules = RULES.get(symbol)
    price = float(rules.round_price(D(repr(base * price_factor)), Rounding.DOWN))
    if price <= 0:
        return
    cfg = RiskConfig(stop_loss_pct=sl, sizing=sizing)
    engine = Engine(RULES, cfg, FeeConfig())
    state = engine.initial_state(D(balance))
    sig = Signal(symbol, T0 + MINUTE, direction, 0.01, confidence, atr)
    _, cmds = engine.step(state, closed(symbol, price, T0, sig))
    order = entry_order(cmds)
    if order is None:
        assert any(isinstance(c, Notice) and c.kind.startswith("rejected:") for c in cmds)
        return
    qty, lev = order.quantity, order.leverage
    assert qty is not None and lev is not None
    entry = D(repr(price))
    verdict = check_order(
        rules,
        side=direction,
        order_type="MARKET",
        quantity=qty,
        price=None,
        mark_price=entry,
        repair=False,
    )
    assert verdict.ok, verdict.reason
    equity = float(balance)
    loss_at_stop = float(qty) * price * sl
    assert loss_at_stop <= equity * cfg.max_risk_per_trade * (1 + 1e-9)
    bumped = float(qty - rules.market_step_size) * price < float(rules.min_notional)
    if not bumped:
        assert loss_at_stop <= equity * cfg.risk_per_trade * (1 + 1e-9)
    assert 1 <= lev <= min(cfg.max_leverage, rules.max_leverage_for(qty * entry))
    stop = entry * (1 - direction * D(repr(sl)))
    liq = isolated_liquidation_price(
        rules, side=direction, quantity=qty, entry_price=entry, wallet_balance=qty * entry / lev
    )
    limit = stop - direction * D(repr(cfg.liquidation_buffer_pct)) * entry
    assert liq is None or (liq <= limit if direction == 1 else liq >= limit)
    margin_and_fee = qty * entry / lev + qty * entry * D(repr(FeeConfig().taker_rate))
    assert float(margin_and_fee) <= cfg.max_margin_fraction * equity * (1 + 1e-9)


def test_small_account_is_raised_to_min_notional_only_within_max_risk() -> None:
    """70 USDT at 1 % risk and a 1 % stop wants 70 USDT of BTC, under the 100 USDT minimum:
    0.002 BTC (120 USDT, 1.7 % risk) is allowed by the 2 % ceiling; at 40 USDT it is not."""
    engine = Engine(RULES, RiskConfig(), FeeConfig())
    sig = Signal(BTC, T0 + MINUTE, 1, 0.01, 0.8, 0.005)
    _, cmds = engine.step(engine.initial_state(D("70")), closed(BTC, 60000.0, T0, sig))
    order = entry_order(cmds)
    assert order is not None and order.quantity == D("0.002")
    _, cmds = engine.step(engine.initial_state(D("40")), closed(BTC, 60000.0, T0, sig))
    assert entry_order(cmds) is None
    assert [c.kind for c in cmds if isinstance(c, Notice)] == ["rejected:min_notional"]


def test_entry_is_a_market_order_for_the_next_open() -> None:
    """The engine never names the decision close as a fill price: the entry is a MARKET order."""
    engine = Engine(RULES, RiskConfig(), FeeConfig())
    state, cmds = engine.step(
        engine.initial_state(D("10000")),
        closed(BTC, 60000.0, T0, Signal(BTC, T0 + MINUTE, 1, 0.01, 0.8, 0.005)),
    )
    order = entry_order(cmds)
    assert order is not None
    assert order.type is OrderType.MARKET and order.stop_price is None
    assert order.quantity == D("0.166") and order.leverage == 6
    assert state.pending and state.positions == ()


def test_signals_below_the_thresholds_are_ignored() -> None:
    engine = Engine(RULES, RiskConfig(min_expected_return=0.005, min_confidence=0.6), FeeConfig())
    state = engine.initial_state(D("10000"))
    for sig in (
        Signal(BTC, T0 + MINUTE, 1, 0.004, 0.9, 0.005),
        Signal(BTC, T0 + MINUTE, 1, 0.01, 0.5, 0.005),
        Signal(BTC, T0 + MINUTE, 0, 0.01, 0.9, 0.005),
    ):
        _, cmds = engine.step(state, closed(BTC, 60000.0, T0, sig))
        assert entry_order(cmds) is None


def test_accepted_changes_nothing() -> None:
    engine = Engine(RULES, RiskConfig(), NO_COSTS)
    state = opened(engine)
    after, cmds = engine.step(state, OrderAccepted(state.orders[0], T0))
    assert after is state and cmds == []


# -- rejections -----------------------------------------------------------------------------------


def test_a_refused_stop_never_leaves_the_position_naked() -> None:
    engine = Engine(RULES, RiskConfig(), NO_COSTS)
    state = opened(engine)
    stop = by_purpose(state, OrderPurpose.STOP_LOSS)
    state, cmds = engine.step(state, OrderRejected(stop, T0 + MINUTE, -2021, "would trigger"))
    (exit_,) = placed(cmds)
    assert exit_.purpose is OrderPurpose.EXIT and exit_.reduce_only
    assert exit_.quantity == D("0.166")
    pos = state.position(BTC)
    assert pos is not None and pos.closing_reason is ExitReason.STOP_LOSS
    canceled = {c.client_id for c in cmds if isinstance(c, CancelOrder)}
    assert canceled == {o.client_id for o in opened(engine).orders if o.client_id != stop.client_id}


def test_a_refused_exit_restores_the_stop() -> None:
    engine = Engine(RULES, RiskConfig(), NO_COSTS)
    state = opened(engine)
    state, cmds = engine.step(state, OrderRejected(state.orders[0], T0, -2021, "x"))
    (exit_,) = placed(cmds)
    state, cmds = engine.step(state, OrderRejected(exit_, T0 + MINUTE, -1013, "filter"))
    (stop,) = placed(cmds)
    assert stop.purpose is OrderPurpose.STOP_LOSS and stop.stop_price == D("59400")
    pos = state.position(BTC)
    assert pos is not None and pos.closing_reason is None and pos.stop_client_id == stop.client_id


@pytest.mark.parametrize("purpose", [OrderPurpose.STOP_LOSS, OrderPurpose.EXIT])
def test_nothing_to_reduce_is_not_answered_with_more_orders(purpose: OrderPurpose) -> None:
    """-2022: the exchange holds no position, so the fill that flattened it is on its way.
    Sending another exit or stop would only be refused again (an endless order storm)."""
    engine = Engine(RULES, RiskConfig(), NO_COSTS)
    state = opened(engine)
    if purpose is OrderPurpose.EXIT:
        state, cmds = engine.step(state, OrderRejected(state.orders[0], T0, -2021, "x"))
        (order,) = placed(cmds)
    else:
        order = by_purpose(state, OrderPurpose.STOP_LOSS)
    state, cmds = engine.step(state, OrderRejected(order, T0 + MINUTE, -2022, "ReduceOnly"))
    assert placed(cmds) == []
    assert all(not isinstance(c, CancelOrder) for c in cmds)
    assert state.position(BTC) is not None


def test_a_fill_racing_our_cancel_is_still_booked_by_its_purpose() -> None:
    """We cancelled the target and sent an exit, but the target filled first: the position is
    closed as a take-profit, and the wallet moves by exactly that fill."""
    engine = Engine(RULES, RiskConfig(), NO_COSTS)
    state = opened(engine)
    target = by_purpose(state, OrderPurpose.TAKE_PROFIT)
    state, _ = engine.step(
        state, OrderRejected(by_purpose(state, OrderPurpose.STOP_LOSS), T0, -2021, "x")
    )
    assert state.order(target.client_id) is None  # cancelled on our side
    fill = Fill(target.client_id, BTC, Side.SHORT, D("61200"), D("0.166"), D("1"), T0 + 2 * MINUTE)
    state, cmds = engine.step(state, OrderFilled(fill))
    (record,) = [c.trade for c in cmds if isinstance(c, RecordTrade)]
    assert record.exit_reason is ExitReason.TAKE_PROFIT
    assert record.net_pnl == D("0.166") * 1200 - 1
    assert state.balance == D("10000") + record.net_pnl
    assert state.positions == ()


def test_a_stranger_fill_costs_its_fee_and_is_reported() -> None:
    engine = Engine(RULES, RiskConfig(), NO_COSTS)
    state = opened(engine)
    fill = Fill("web_abc", BTC, Side.SHORT, D("60000"), D("0.1"), D("3"), T0 + MINUTE)
    after, cmds = engine.step(state, OrderFilled(fill))
    assert after.balance == state.balance - 3
    assert after.positions == state.positions
    assert [c.kind for c in cmds if isinstance(c, Notice)] == ["unknown_fill"]


def test_a_confirmed_cancel_drops_an_entry_in_flight() -> None:
    engine = Engine(RULES, RiskConfig(), FeeConfig())
    state, cmds = engine.step(
        engine.initial_state(D("10000")),
        closed(BTC, 60000.0, T0, Signal(BTC, T0 + MINUTE, 1, 0.01, 0.8, 0.005)),
    )
    order = entry_order(cmds)
    assert order is not None and state.pending
    state, cmds = engine.close_all(state, T0 + MINUTE, ExitReason.END_OF_DATA)
    assert [c for c in cmds if isinstance(c, CancelOrder)] == [CancelOrder(BTC, order.client_id)]
    assert state.pending  # until the venue confirms
    state, _ = engine.step(state, OrderCanceled(BTC, order.client_id, T0 + MINUTE))
    assert state.pending == () and state.available() == 10000.0
