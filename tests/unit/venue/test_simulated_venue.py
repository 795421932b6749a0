"""The simulated venue on its own: conservative fills, exchange-rule validation with counted
rejections, funding at the settlement instants, liquidation, and order expiry when flat.

Orders are built by hand here (no engine), so each test names exactly the order it sends.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from slt.config import FeeConfig
from slt.domain import (
    CancelOrder,
    Candle,
    Event,
    Fill,
    FundingApplied,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderPurpose,
    OrderRejected,
    OrderRequest,
    OrderType,
    PlaceOrder,
    Side,
)
from slt.rules import bundled_rules, isolated_liquidation_price
from slt.venues.simulated import SimulatedVenue

RULES = bundled_rules()
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MINUTE = 60_000
HOUR = 60 * MINUTE
D = Decimal
BTC = "BTCUSDT"
NO_COSTS = FeeConfig(taker_rate=0, maker_rate=0, slippage_pct=0, funding_rate=0)


def venue(fees: FeeConfig = NO_COSTS, balance: str = "10000") -> SimulatedVenue:
    return SimulatedVenue(RULES, fees, D(balance))


def bar(t: int, o: float, h: float, lo: float, c: float, symbol: str = BTC) -> Candle:
    return Candle(symbol, t, t + MINUTE - 1, o, h, lo, c, 1.0)


def order(
    cid: str,
    side: Side,
    type: OrderType = OrderType.MARKET,
    *,
    qty: str | None = None,
    stop: str | None = None,
    purpose: OrderPurpose = OrderPurpose.ENTRY,
    reduce_only: bool = False,
    close_position: bool = False,
    leverage: int | None = None,
    symbol: str = BTC,
) -> PlaceOrder:
    return PlaceOrder(
        OrderRequest(
            client_id=cid,
            symbol=symbol,
            side=side,
            type=type,
            purpose=purpose,
            quantity=D(qty) if qty is not None else None,
            stop_price=D(stop) if stop is not None else None,
            reduce_only=reduce_only,
            close_position=close_position,
            leverage=leverage,
        )
    )


def fills(events: list[Event]) -> list[Fill]:
    return [e.fill for e in events if isinstance(e, OrderFilled)]


def only_fill(events: list[Event]) -> Fill:
    (fill,) = fills(events)
    return fill


def open_long(v: SimulatedVenue, qty: str = "0.1", price: float = 60000, lev: int = 5) -> Fill:
    """Queue a market buy at a close of `price` and fill it at the next open of `price`."""
    accepted = v.submit(order("e", Side.LONG, qty=qty, leverage=lev), T0, price)
    assert isinstance(accepted[0], OrderAccepted)
    return only_fill(v.on_open(bar(T0, price, price, price, price)))


def protect(v: SimulatedVenue, stop: str | None = None, target: str | None = None) -> None:
    if stop is not None:
        v.submit(
            order("sl", Side.SHORT, OrderType.STOP_MARKET, stop=stop, close_position=True),
            T0,
            60000,
        )
    if target is not None:
        v.submit(
            order("tp", Side.SHORT, OrderType.TAKE_PROFIT_MARKET, stop=target, close_position=True),
            T0,
            60000,
        )


# -- market orders ----------------------------------------------------------------------------


def test_market_order_never_fills_at_the_close_it_was_decided_on() -> None:
    """Decided at a close of 60000, it waits for the next candle and fills at its open plus
    adverse slippage, rounded onto the tick against us."""
    v = venue(FeeConfig(slippage_pct=0.0002, taker_rate=0.0005))
    events = v.submit(order("e", Side.LONG, qty="0.1", leverage=5), T0, 60000.0)
    assert [type(e) for e in events] == [OrderAccepted]
    assert fills(v.on_range(bar(T0, 60000, 60000, 60000, 60000))) == []
    fill = only_fill(v.on_open(bar(T0 + MINUTE, 60500, 60600, 60400, 60550)))
    assert fill.price == D("60512.1")  # 60500 × 1.0002 = 60512.1 exactly
    assert fill.time_ms == T0 + MINUTE
    assert fill.fee == D("3.02560500")  # 0.1 × 60512.1 × 0.0005
    assert v.balance == D("10000") - fill.fee


@pytest.mark.parametrize(("side", "expected"), [(Side.LONG, "60012.1"), (Side.SHORT, "59988.0")])
def test_slippage_rounds_against_the_taker(side: Side, expected: str) -> None:
    v = venue(FeeConfig(slippage_pct=0.0002))
    v.submit(order("e", side, qty="0.1", leverage=5), T0, 60000)
    assert only_fill(v.on_open(bar(T0, 60000.05, 60001, 59999, 60000))).price == D(expected)


def test_reduce_only_close_under_min_notional_is_accepted_and_fills() -> None:
    """BTCUSDT's minimum notional is 100 USDT; a 0.001 BTC (60 USDT) close must still go."""
    v = venue()
    open_long(v, qty="0.002")
    close = order("x", Side.SHORT, qty="0.001", purpose=OrderPurpose.EXIT, reduce_only=True)
    assert isinstance(v.submit(close, T0, 60000)[0], OrderAccepted)
    fill = only_fill(v.on_open(bar(T0 + MINUTE, 60000, 60000, 60000, 60000)))
    assert fill.quantity == D("0.001")
    assert v.positions[BTC].quantity == D("0.001")
    assert v.rejections.total() == 0


def test_opening_order_under_min_notional_is_rejected_and_counted() -> None:
    v = venue()
    (rejected,) = v.submit(order("e", Side.LONG, qty="0.001", leverage=5), T0, 60000)
    assert isinstance(rejected, OrderRejected) and rejected.code == -4164
    assert v.rejections["-4164"] == 1
    assert v.market == {} or not v.market.get(BTC)


@pytest.mark.parametrize(
    ("place", "code"),
    [
        (order("r", Side.SHORT, qty="0.01", reduce_only=True), -2022),  # nothing to reduce
        (order("e", Side.LONG, qty="1", leverage=5), -2019),  # 12 000 margin > 10 000
        (order("e", Side.LONG, qty="0.1", leverage=5, symbol="NOPEUSDT"), -1121),
        (order("e", Side.LONG, qty="0.0125", leverage=5), -1111),  # off the 0.001 step
        (order("e", Side.LONG, qty="0.1", leverage=126), -2027),  # above BTC's 125x bracket
    ],
)
def test_invalid_orders_are_rejected_with_binance_codes_and_counted(
    place: PlaceOrder, code: int
) -> None:
    v = venue()
    (event,) = v.submit(place, T0, 60000)
    assert isinstance(event, OrderRejected), event
    assert event.code == code
    assert v.rejections == {str(code): 1}
    assert not any(v.market.values())


def test_trigger_order_that_would_fire_at_once_is_rejected() -> None:
    v = venue()
    open_long(v)
    (event,) = v.submit(
        order("sl", Side.SHORT, OrderType.STOP_MARKET, stop="60100", close_position=True),
        T0,
        60000,
    )
    assert isinstance(event, OrderRejected) and event.code == -2021
    assert v.rejections["-2021"] == 1


def test_margin_check_counts_fees_and_existing_positions() -> None:
    v = venue(FeeConfig(taker_rate=0.0005, slippage_pct=0), balance="1000")
    # 0.08 BTC at 60 000, 5x: 960 margin + 2.4 fee fits; a second one does not.
    open_long(v, qty="0.08")
    (event,) = v.submit(order("e2", Side.LONG, qty="0.01", leverage=5), T0, 60000)
    assert isinstance(event, OrderRejected) and event.code == -2019


def test_entries_waiting_for_the_open_share_one_wallet() -> None:
    """Two entries decided at one close: on the exchange the first fills before the second is
    judged, so the second meets a wallet the first has used. Each needs 600 margin + 1.5 fee of
    1000; the second is refused until the first is cancelled, which gives its share back."""
    v = venue(FeeConfig(taker_rate=0.0005, slippage_pct=0), balance="1000")
    eth = "ETHUSDT"
    assert isinstance(
        v.submit(order("a", Side.LONG, qty="0.05", leverage=5), T0, 60000)[0], OrderAccepted
    )
    (refused,) = v.submit(order("b", Side.LONG, qty="1", leverage=5, symbol=eth), T0, 3000)
    assert isinstance(refused, OrderRejected) and refused.code == -2019
    assert v.submit(CancelOrder(BTC, "a"), T0, 60000) == [OrderCanceled(BTC, "a", T0)]
    (accepted,) = v.submit(order("b", Side.LONG, qty="1", leverage=5, symbol=eth), T0, 3000)
    assert isinstance(accepted, OrderAccepted)
    # once filled, its margin is held by the position instead: still no room for a third
    only_fill(v.on_open(bar(T0 + MINUTE, 3000, 3000, 3000, 3000, symbol=eth)))
    (third,) = v.submit(order("c", Side.LONG, qty="0.05", leverage=5), T0 + MINUTE, 60000)
    assert isinstance(third, OrderRejected) and third.code == -2019
    assert v.waiting_cost == {}


def test_cancel_removes_the_order_and_unknown_cancels_are_silent() -> None:
    v = venue()
    open_long(v)
    protect(v, stop="59000")
    assert v.submit(CancelOrder(BTC, "sl"), T0, 60000) == [OrderCanceled(BTC, "sl", T0)]
    assert v.submit(CancelOrder(BTC, "sl"), T0, 60000) == []
    assert fills(v.on_range(bar(T0 + MINUTE, 60000, 60000, 58000, 58500))) == []


# -- triggers ---------------------------------------------------------------------------------


def test_stop_fills_intrabar_at_its_price() -> None:
    v = venue()
    open_long(v)
    protect(v, stop="59400", target="61200")
    events = v.on_range(bar(T0 + MINUTE, 60000, 60100, 59300, 59500))
    fill = fills(events)[0]
    assert (fill.client_id, fill.price) == ("sl", D("59400"))
    assert BTC not in v.positions
    # the target expires with the position
    assert OrderCanceled(BTC, "tp", T0 + MINUTE) in events
    assert v.balance == D("10000") - D("0.1") * 600


def test_stop_is_assumed_first_when_stop_and_target_share_a_candle() -> None:
    v = venue()
    open_long(v)
    protect(v, stop="59400", target="61200")
    events = v.on_range(bar(T0 + MINUTE, 60000, 61500, 59000, 61000))
    assert [f.client_id for f in fills(events)] == ["sl"]
    assert fills(events)[0].price == D("59400")


def test_gap_through_the_stop_fills_at_the_open() -> None:
    v = venue()
    open_long(v)
    protect(v, stop="59400")
    fill = only_fill(v.on_range(bar(T0 + MINUTE, 59000, 59100, 58800, 58900)))
    assert fill.price == D("59000")


def test_gap_through_the_target_fills_at_the_better_open() -> None:
    v = venue()
    open_long(v)
    protect(v, target="61200")
    fill = only_fill(v.on_range(bar(T0 + MINUTE, 61500, 61600, 61400, 61500)))
    assert fill.price == D("61500")


def test_short_stop_and_target_mirror_the_long() -> None:
    v = venue()
    v.submit(order("e", Side.SHORT, qty="0.1", leverage=5), T0, 60000)
    v.on_open(bar(T0, 60000, 60000, 60000, 60000))
    v.submit(
        order("sl", Side.LONG, OrderType.STOP_MARKET, stop="60600", close_position=True), T0, 60000
    )
    v.submit(
        order("tp", Side.LONG, OrderType.TAKE_PROFIT_MARKET, stop="58800", close_position=True),
        T0,
        60000,
    )
    both = v.on_range(bar(T0 + MINUTE, 60000, 60700, 58700, 59000))
    assert [(f.client_id, f.price) for f in fills(both)] == [("sl", D("60600"))]


def test_scale_out_then_target_in_one_candle_fill_nearest_first() -> None:
    v = venue()
    open_long(v, qty="0.2")
    protect(v, target="61200")
    v.submit(
        order(
            "pt",
            Side.SHORT,
            OrderType.TAKE_PROFIT_MARKET,
            qty="0.1",
            stop="60600",
            purpose=OrderPurpose.PARTIAL_TAKE_PROFIT,
            reduce_only=True,
        ),
        T0,
        60000,
    )
    events = v.on_range(bar(T0 + MINUTE, 60000, 61300, 60000, 61250))
    assert [(f.client_id, f.price, f.quantity) for f in fills(events)] == [
        ("pt", D("60600"), D("0.1")),
        ("tp", D("61200"), D("0.1")),
    ]
    assert BTC not in v.positions


def test_stop_market_fills_get_slippage_too() -> None:
    v = venue(FeeConfig(slippage_pct=0.001, taker_rate=0))
    v.submit(order("e", Side.LONG, qty="0.1", leverage=5), T0, 60000)
    v.on_open(bar(T0, 60000, 60000, 60000, 60000))
    protect(v, stop="59000")
    fill = only_fill(v.on_range(bar(T0 + MINUTE, 60000, 60000, 58000, 58500)))
    assert fill.price == D("58941.0")  # 59000 × 0.999, a sell: rounded down


# -- liquidation ------------------------------------------------------------------------------


def test_liquidation_takes_exactly_the_isolated_margin() -> None:
    v = venue(FeeConfig(taker_rate=0.0005, slippage_pct=0, funding_rate=0))
    entry = open_long(v, qty="0.1", lev=20)
    pos = v.positions[BTC]
    liq = isolated_liquidation_price(
        RULES.get(BTC), side=1, quantity=D("0.1"), entry_price=D("60000"), wallet_balance=D(300)
    )
    assert pos.liquidation_price == liq and liq is not None
    before = v.balance
    events = v.on_range(bar(T0 + MINUTE, 59000, 59000, float(liq) - 1, 57500))
    fill = only_fill(events)
    assert fill.liquidation
    assert fill.side is Side.SHORT and fill.quantity == D("0.1")
    assert BTC not in v.positions
    lost = before - v.balance
    assert abs(lost - pos.margin) <= D("0.00000001")
    assert v.balance == D("10000") - entry.fee - (before - v.balance)


def test_no_liquidation_while_price_stays_above_it() -> None:
    v = venue()
    open_long(v, qty="0.1", lev=20)
    liq = v.positions[BTC].liquidation_price
    assert liq is not None
    assert v.on_range(bar(T0 + MINUTE, 59000, 59000, float(liq) + 1, 58000)) == []
    assert BTC in v.positions


# -- funding ----------------------------------------------------------------------------------


def test_funding_is_settled_at_00_08_16_utc_on_open_positions() -> None:
    fees = FeeConfig(funding_rate=0.0001, taker_rate=0, slippage_pct=0)
    v = SimulatedVenue(RULES, fees, D("10000"))
    start = T0 + 7 * HOUR  # 07:00
    v.submit(order("e", Side.LONG, qty="0.1", leverage=5), start, 60000)
    v.on_open(bar(start, 60000, 60000, 60000, 60000))
    settled: list[FundingApplied] = []
    for hour in range(1, 26):
        t = start + hour * HOUR
        settled += [
            e
            for e in v.on_open(bar(t, 50000, 50000, 50000, 50000))
            if isinstance(e, FundingApplied)
        ]
    assert [e.time_ms for e in settled] == [
        T0 + 8 * HOUR,
        T0 + 16 * HOUR,
        T0 + 24 * HOUR,
        T0 + 32 * HOUR,
    ]
    assert all(e.amount == D("-0.5") for e in settled)  # 0.1 × 50 000 × 0.01 %, a long pays
    assert all(e.mark_price == D("50000") for e in settled)
    assert v.balance == D("10000") - 4 * D("0.5")


def test_short_receives_positive_funding_and_a_fresh_position_waits_for_the_next_instant() -> None:
    fees = FeeConfig(funding_rate=0.0001, taker_rate=0, slippage_pct=0)
    v = SimulatedVenue(RULES, fees, D("10000"))
    at_eight = T0 + 8 * HOUR
    v.submit(order("e", Side.SHORT, qty="0.1", leverage=5), at_eight, 60000)
    # opened at the 08:00 instant itself: it was not open at that settlement
    events = v.on_open(bar(at_eight, 60000, 60000, 60000, 60000))
    assert not any(isinstance(e, FundingApplied) for e in events)
    assert v.positions[BTC].next_funding_ms == T0 + 16 * HOUR
    (paid,) = [
        e
        for e in v.on_open(bar(T0 + 16 * HOUR, 60000, 60000, 60000, 60000))
        if isinstance(e, FundingApplied)
    ]
    assert paid.amount == D("0.6")


def test_reduce_only_orders_expire_when_the_position_is_closed() -> None:
    v = venue()
    open_long(v)
    protect(v, stop="59000", target="61200")
    v.submit(
        order("x", Side.SHORT, qty="0.1", purpose=OrderPurpose.EXIT, reduce_only=True), T0, 60000
    )
    events = v.on_open(bar(T0 + MINUTE, 60000, 60000, 60000, 60000))
    assert [f.client_id for f in fills(events)] == ["x"]
    canceled = {e.client_id for e in events if isinstance(e, OrderCanceled)}
    assert canceled == {"sl", "tp"}
    assert not v.resting.get(BTC)
    assert v.active_symbols() == set()


# -- orders sent in reaction to an intrabar fill ----------------------------------------------


def scale_out_setup(v: SimulatedVenue) -> None:
    open_long(v, qty="0.2")
    protect(v, stop="59400", target="61200")
    v.submit(
        order(
            "pt",
            Side.SHORT,
            OrderType.TAKE_PROFIT_MARKET,
            qty="0.1",
            stop="60600",
            purpose=OrderPurpose.PARTIAL_TAKE_PROFIT,
            reduce_only=True,
        ),
        T0,
        60000,
    )


def test_order_sent_after_an_intrabar_fill_is_judged_at_that_fill() -> None:
    """The scale-out filled at 60 600 inside a candle that opened at 59 800; a breakeven stop at
    60 000 sent in reaction is below the market of that moment and must rest, although the
    caller still passes the candle's open as the mark."""
    v = venue()
    scale_out_setup(v)
    t = T0 + MINUTE
    events = v.on_range(bar(t, 59800, 60700, 59700, 60300))
    assert [f.client_id for f in fills(events)] == ["pt"]
    v.submit(CancelOrder(BTC, "sl"), t, 59800)
    (answer,) = v.submit(
        order("be", Side.SHORT, OrderType.STOP_MARKET, stop="60000", close_position=True), t, 59800
    )
    assert isinstance(answer, OrderAccepted)
    # at the close (a later time) the caller's mark counts again
    (late,) = v.submit(
        order("be2", Side.SHORT, OrderType.STOP_MARKET, stop="60400", close_position=True),
        t + MINUTE,
        60300,
    )
    assert isinstance(late, OrderRejected) and late.code == -2021


def test_without_acknowledgements_only_what_changes_the_book_is_answered() -> None:
    """`acknowledge=False` (the backtest driver's venue): an order accepted as sent answers
    nothing, yet it is held exactly as an acknowledged one; refusals, cancels and fills are
    answered as always."""
    v = SimulatedVenue(RULES, NO_COSTS, D("10000"), acknowledge=False)
    assert v.submit(order("e", Side.LONG, qty="0.1", leverage=5), T0, 60000.0) == []
    assert only_fill(v.on_open(bar(T0, 60000, 60000, 60000, 60000))).client_id == "e"
    stop = order("sl", Side.SHORT, OrderType.STOP_MARKET, stop="59000", close_position=True)
    assert v.submit(stop, T0, 60000) == []
    assert [o.client_id for o in v.resting[BTC]] == ["sl"]
    (refused,) = v.submit(
        order("x", Side.LONG, OrderType.STOP_MARKET, stop="59000", close_position=True), T0, 60000
    )
    assert isinstance(refused, OrderRejected) and refused.code == -2021
    assert v.submit(CancelOrder(BTC, "sl"), T0, 60000) == [OrderCanceled(BTC, "sl", T0)]
    assert v.resting[BTC] == []


def test_order_for_a_position_a_later_fill_of_the_candle_closed_rests_and_expires() -> None:
    """Scale-out and target both fill in one candle. The stop sent in reaction to the scale-out
    reaches a flat book: on the exchange it rested, then expired with the position, so it is
    accepted and cancelled, not counted as a rejection."""
    v = venue()
    scale_out_setup(v)
    t = T0 + MINUTE
    events = v.on_range(bar(t, 60000, 61300, 60000, 61250))
    assert [f.client_id for f in fills(events)] == ["pt", "tp"]
    answer = v.submit(
        order("be", Side.SHORT, OrderType.STOP_MARKET, stop="60000", close_position=True), t, 60000
    )
    assert [type(e) for e in answer] == [OrderAccepted, OrderCanceled]
    assert v.rejections.total() == 0
    # without such a fill in this candle, reducing a flat book is a rejection as usual
    (later,) = v.submit(
        order("x", Side.SHORT, qty="0.1", purpose=OrderPurpose.EXIT, reduce_only=True),
        t + MINUTE,
        61250,
    )
    assert isinstance(later, OrderRejected) and later.code == -2022


def test_off_grid_trigger_price_is_rejected_not_silently_kept() -> None:
    v = venue()
    open_long(v)
    (event,) = v.submit(
        order("sl", Side.SHORT, OrderType.STOP_MARKET, stop="59000.05", close_position=True),
        T0,
        60000,
    )
    assert isinstance(event, OrderRejected) and event.code in (-1111, -4014)
    assert not v.resting.get(BTC)


def test_adding_to_a_position_is_checked_against_the_bracket_of_the_total() -> None:
    """BTCUSDT allows 125x up to 50 000 notional and 100x above: 0.8 BTC at 60 000 (48 000) is
    fine at 125x, but adding 0.1 BTC more makes 54 000 and needs at most 100x."""
    v = venue(balance="100000")
    open_long(v, qty="0.8", lev=125)
    (event,) = v.submit(order("e2", Side.LONG, qty="0.1", leverage=125), T0, 60000)
    assert isinstance(event, OrderRejected) and event.code == -2027
