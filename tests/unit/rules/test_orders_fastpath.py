"""`check_order`'s fast path answers exactly what the full validation answers.

`quick_check` answers orders that pass every filter unchanged and hands everything else to the
full path. It is only allowed if no order can tell the two apart: the same verdict, code and
reason, the same Decimals down to their exponent (an order sent as '0.0100' must come back as
'0.0100'), and the same exception for inputs the full path refuses to judge. Orders are drawn
around each bundled symbol's own grids and bounds, so that on-grid and off-grid numbers, filter
edges, MIN_NOTIONAL edges and triggers at the mark all come up.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from slt.rules import OrderCheck, SymbolRules, bundled_rules, check_order
from slt.rules.orders import _full_check
from slt.rules.orders_fast import quick_check

D = Decimal
RULES = bundled_rules()
SYMBOLS = sorted(RULES)
ORDER_TYPES = ["MARKET", "LIMIT", "STOP_MARKET", "TAKE_PROFIT_MARKET", "OCO"]


def _number(draw: st.DrawFn, step: Decimal, low: Decimal, high: Decimal) -> Decimal | None:
    """A quantity or price near this grid and these bounds: on the grid, a hair off it, at or
    past a bound, zero or negative, or written with extra trailing zeros."""
    kind = draw(
        st.sampled_from(["grid", "grid", "grid", "off", "low", "high", "zero", "negative", "none"])
    )
    units = draw(st.integers(1, 200_000))
    if kind == "grid":
        value = units * step
        if draw(st.booleans()):  # same value, other spelling
            value = value.quantize(step / 100)
        return value
    if kind == "off":
        return units * step + step / draw(st.sampled_from([2, 3, 10, 1000]))
    if kind == "low":
        return low + draw(st.sampled_from([-step, D(0), step]))
    if kind == "high":
        return high + draw(st.sampled_from([-step, D(0), step]))
    if kind == "zero":
        return D(0)
    if kind == "negative":
        return -units * step
    return None


@st.composite
def orders(draw: st.DrawFn) -> tuple[SymbolRules, dict[str, Any]]:
    rules = RULES.get(draw(st.sampled_from(SYMBOLS)))
    order_type = draw(st.sampled_from(ORDER_TYPES))
    market = order_type == "MARKET"
    step = rules.market_step_size if market else rules.step_size
    min_qty, max_qty = (
        (rules.market_min_qty, rules.market_max_qty) if market else (rules.min_qty, rules.max_qty)
    )
    quantity = _number(draw, step, min_qty, max_qty)
    price = _number(draw, rules.tick_size, rules.min_price, rules.max_price)
    if quantity is not None and draw(st.booleans()):
        # near MIN_NOTIONAL at the reference price, where the notional test decides
        reference = price if price is not None and price > 0 else rules.tick_size * 1000
        near = (rules.min_notional / reference).quantize(step) + step * draw(st.integers(-2, 2))
        quantity = max(near, step) * draw(st.sampled_from([1, 1, 3, 1000]))
        if draw(st.booleans()):  # a float-sized entry: off the grid, for repair to round down
            quantity += step * D("0.37")
    anchor = price if price is not None and price > 0 else rules.tick_size * 10_000
    mark = anchor * draw(
        st.sampled_from([D("0.5"), D("0.99"), D("0.9999"), D(1), D("1.0001"), D("1.01"), D(2)])
    )
    if mark <= 0:
        mark = rules.tick_size
    order = {
        "side": draw(st.sampled_from([1, -1, 1, -1, 0, 2])),
        "order_type": order_type,
        "quantity": quantity,
        "price": price,
        "mark_price": mark,
        "reduce_only": draw(st.booleans()),
        "close_position": draw(st.booleans()),
        "max_quantity": draw(st.sampled_from([None, D(0), D("1e9")])),
        "repair": draw(st.booleans()),
    }
    if draw(st.booleans()):  # the shape the engine sends, so the numbers decide
        order["side"] = draw(st.sampled_from([1, -1]))
        if market:
            order["price"], order["close_position"] = None, False
        elif order["close_position"]:
            order["quantity"], order["reduce_only"] = None, False
    return rules, order


def _outcome(call: Any) -> tuple[str, ...]:
    try:
        check: OrderCheck = call()
    except Exception as exc:  # the full path's refusals must be the fast path's too
        return ("raised", type(exc).__name__, str(exc))
    return (
        str(check.ok),
        str(check.quantity),
        str(check.price),
        str(check.code),
        check.reason,
        str(check.repaired),
    )


def _full(rules: SymbolRules, order: dict[str, Any]) -> OrderCheck:
    if not order["mark_price"] > 0:
        raise ValueError(f"mark_price must be positive, got {order['mark_price']}")
    return _full_check(
        rules,
        int(order["side"]),
        order["order_type"],
        order["quantity"],
        order["price"],
        order["mark_price"],
        order["reduce_only"],
        order["close_position"],
        order["max_quantity"],
        order["repair"],
    )


@settings(max_examples=3000, deadline=None)
@given(case=orders())
@example(
    case=(
        RULES.get("BTCUSDT"),
        {
            "side": 1,
            "order_type": "MARKET",
            "quantity": D("0.0020"),
            "price": None,
            "mark_price": D("67000"),
            "reduce_only": False,
            "close_position": False,
            "max_quantity": None,
            "repair": False,
        },
    )
)
@example(
    case=(
        RULES.get("BTCUSDT"),
        {
            "side": -1,
            "order_type": "STOP_MARKET",
            "quantity": None,
            "price": D("67000.0"),
            "mark_price": D("67000.0"),  # the mark is at the trigger: would trigger at once
            "reduce_only": False,
            "close_position": True,
            "max_quantity": None,
            "repair": False,
        },
    )
)
def test_check_order_answers_what_the_full_validation_answers(
    case: tuple[SymbolRules, dict[str, Any]],
) -> None:
    rules, order = case
    fast = _outcome(lambda: check_order(rules, **order))
    full = _outcome(lambda: _full(rules, order))
    assert fast == full


@settings(max_examples=300, deadline=None)
@given(
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from([1, -1]),
    units=st.integers(1, 1000),
    trigger_units=st.integers(1_000, 1_000_000),
)
def test_valid_orders_take_the_fast_path(
    symbol: str, side: int, units: int, trigger_units: int
) -> None:
    """The orders a backtest sends most (protective triggers, entries on the grid) are answered
    by the fast path, so the comparison above does exercise it."""
    rules = RULES.get(symbol)
    trigger = trigger_units * rules.tick_size
    if not rules.min_price <= trigger <= rules.max_price:
        return
    # a BUY stop triggers when the mark rises to it, a SELL stop when it falls to it
    mark = trigger * D("0.9") if side == 1 else trigger * D("1.1")
    quick = quick_check(rules, side, "STOP_MARKET", None, trigger, mark, False, True)
    assert quick == OrderCheck(True, None, trigger, 0, "", False)
    quantity = rules.market_min_qty + units * rules.market_step_size
    mark = (rules.min_notional / quantity) * 2
    if quantity <= rules.market_max_qty:
        quick = quick_check(rules, side, "MARKET", quantity, None, mark, False, False)
        assert quick == OrderCheck(True, quantity, None, 0, "", False)
        # sized in floats, off the grid: repair rounds it down on the fast path too
        off = quantity + rules.market_step_size * D("0.37")
        quick = quick_check(rules, side, "MARKET", off, None, mark, False, False, True)
        assert quick is not None and quick.repaired and quick.quantity == quantity
        order = {
            "side": side,
            "order_type": "MARKET",
            "quantity": off,
            "price": None,
            "mark_price": mark,
            "reduce_only": False,
            "close_position": False,
            "max_quantity": None,
            "repair": True,
        }
        assert _outcome(lambda: quick) == _outcome(lambda: _full(rules, order))
