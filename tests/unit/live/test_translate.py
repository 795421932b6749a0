"""User-data stream → engine events: fills once, under the id the engine knows."""

from __future__ import annotations

from decimal import Decimal

import orjson

from slt.domain import OrderCanceled, OrderFilled, OrderRejected, OrderRequest, Side
from slt.domain.enums import OrderPurpose, OrderType
from slt.live.translate import StreamTranslator
from slt.venues.binance.userstream import decode_user_event

STOP = OrderRequest(
    "slt-7-SL",
    "BTCUSDT",
    Side.SHORT,
    OrderType.STOP_MARKET,
    OrderPurpose.STOP_LOSS,
    stop_price=Decimal(99000),
    close_position=True,
)


def _order_event(c: str, i: int, x: str, status: str, last: str = "0", price: str = "0") -> bytes:
    o = {"s": "BTCUSDT", "c": c, "S": "SELL", "o": "MARKET", "x": x, "X": status, "i": i}
    o |= {"l": last, "L": price, "n": "0.05", "N": "USDT", "T": 5}
    return orjson.dumps({"e": "ORDER_TRADE_UPDATE", "E": 2, "T": 2, "o": o})


def _algo_event(status: str, ai: int | str = "") -> bytes:
    o = {"caid": "slt-7-SL", "aid": 3, "s": "BTCUSDT", "X": status, "ai": ai, "rm": "margin"}
    return orjson.dumps({"e": "ALGO_UPDATE", "E": 1, "T": 1, "o": o})


def test_a_triggered_stop_fills_under_its_own_client_id() -> None:
    t = StreamTranslator()
    lookup = {STOP.client_id: STOP}.get
    assert t.translate(decode_user_event(_algo_event("TRIGGERED", 41)), lookup) == []
    assert (
        t.translate(decode_user_event(_order_event("sltlocal-41", 41, "NEW", "NEW")), lookup) == []
    )
    (e,) = t.translate(
        decode_user_event(_order_event("sltlocal-41", 41, "TRADE", "FILLED", "0.010", "98990")),
        lookup,
    )
    assert isinstance(e, OrderFilled)
    f = e.fill
    assert (f.client_id, f.side, f.quantity, f.price, f.fee, f.time_ms) == (
        "slt-7-SL",
        Side.SHORT,
        Decimal("0.010"),
        Decimal(98990),
        Decimal("0.05"),
        5,
    )
    assert t.algo_of_order == {}  # forgotten once the order is done


def test_partial_fills_each_count_once_and_cancels_and_rejections_are_reported() -> None:
    t = StreamTranslator()
    lookup = {STOP.client_id: STOP}.get
    a = t.translate(
        decode_user_event(_order_event("slt-9-EN", 9, "TRADE", "PARTIALLY_FILLED", "0.004", "1")),
        lookup,
    )
    b = t.translate(
        decode_user_event(_order_event("slt-9-EN", 9, "TRADE", "FILLED", "0.006", "1")), lookup
    )
    assert [e.fill.quantity for e in a + b if isinstance(e, OrderFilled)] == [
        Decimal("0.004"),
        Decimal("0.006"),
    ]
    (gone,) = t.translate(
        decode_user_event(_order_event("slt-3-TP", 3, "EXPIRED", "EXPIRED")), lookup
    )
    assert isinstance(gone, OrderCanceled) and gone.client_id == "slt-3-TP"
    (rej,) = t.translate(decode_user_event(_algo_event("REJECTED")), lookup)
    assert isinstance(rej, OrderRejected) and rej.order == STOP and "margin" in rej.reason
    (can,) = t.translate(decode_user_event(_algo_event("CANCELED")), lookup)
    assert isinstance(can, OrderCanceled)


def test_a_liquidation_fill_is_marked() -> None:
    t = StreamTranslator()
    (e,) = t.translate(
        decode_user_event(_order_event("autoclose-123", 5, "TRADE", "FILLED", "1", "2")),
        lambda _: None,
    )
    assert isinstance(e, OrderFilled) and e.fill.liquidation
