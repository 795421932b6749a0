"""Matching on the replayed path: market and limit fills with their fees, IOC/FOK/GTX, resting
fills, reduce-only following the position, algo and legacy triggers, isolated and cross
liquidation at the prices slt.rules gives, funding at 00/08/16 UTC, and event stamps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from slt.rules import bundled_rules, isolated_liquidation_price
from slt.venues.local.errors import ApiError

from .conftest_trading import MIN, T0, flat, rig

D = Decimal
# minute 0 flat at 100 000; minute 1 falls: open 100 000 → high 100 200 → low 98 000 → close 98 500
FALL = [*flat(100_000.0, 1), (100_000.0, 100_200.0, 98_000.0, 98_500.0), *flat(98_500.0, 3)]
# minute 1 rises: open 100 000 → low 99 800 → high 102 000 → close 101 500
RISE = [*flat(100_000.0, 1), (100_000.0, 102_000.0, 99_800.0, 101_500.0), *flat(101_500.0, 3)]


def trades(events: list[dict]) -> list[dict]:
    return [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["x"] == "TRADE"]


def test_market_order_fills_at_once_at_the_last_price_as_taker() -> None:
    r = rig({"BTCUSDT": FALL})
    o = r.order(side="BUY", type="MARKET", quantity="0.002")
    assert (o.status, o.avg_price, o.executed) == ("FILLED", D("100000.0"), D("0.002"))
    assert r.acct.wallet == D(10_000) - D("0.1")  # 200 × 0.05 %
    pos = r.acct.position("BTCUSDT")
    assert (pos.amount, pos.entry) == (D("0.002"), D("100000"))
    (t,) = trades(r.acct.drain_events())
    assert (t["L"], t["l"], t["n"], t["m"], t["X"]) == (
        "100000.00",
        "0.002",
        "0.10000000",
        False,
        "FILLED",
    )


def test_resting_limit_fills_at_its_price_as_maker_when_the_path_reaches_it() -> None:
    r = rig({"BTCUSDT": FALL})
    o = r.order(side="BUY", type="LIMIT", quantity="0.002", price="99000", timeInForce="GTC")
    assert o.status == "NEW"
    r.at(T0 + MIN)
    assert o.status == "NEW"  # minute 0 never went below 100 000
    r.at(T0 + 2 * MIN)
    assert (o.status, o.avg_price) == ("FILLED", D("99000"))
    assert r.acct.wallet == D(10_000) - D("0.0396")  # 198 × 0.02 %
    t = trades(r.acct.drain_events())[0]
    assert (t["m"], t["T"], t["L"]) == (True, T0 + 2 * MIN, "99000.00")


def test_a_crossing_limit_takes_at_the_better_of_limit_and_last() -> None:
    r = rig({"BTCUSDT": FALL})
    buy = r.order(side="BUY", type="LIMIT", quantity="0.002", price="100500", timeInForce="GTC")
    assert (buy.status, buy.avg_price) == ("FILLED", D("100000.0"))
    sell = r.order(side="SELL", type="LIMIT", quantity="0.002", price="99500", timeInForce="FOK")
    assert (sell.status, sell.avg_price) == ("FILLED", D("100000.0"))
    assert r.acct.wallet == D(10_000) - D("0.2")
    assert not r.acct.held()


def test_ioc_that_cannot_take_expires_and_gtx_that_can_rest_rests() -> None:
    r = rig({"BTCUSDT": FALL})
    ioc = r.order(side="BUY", type="LIMIT", quantity="0.002", price="99000", timeInForce="IOC")
    assert ioc.status == "EXPIRED" and not r.acct.open_orders()
    xs = [e["o"]["x"] for e in r.acct.drain_events()]
    assert xs == ["NEW", "EXPIRED"]
    gtx = r.order(side="BUY", type="LIMIT", quantity="0.002", price="99000", timeInForce="GTX")
    assert gtx.status == "NEW"
    r.at(T0 + 3 * MIN)
    assert gtx.status == "FILLED"


def test_reduce_only_orders_shrink_with_the_position_and_expire_when_it_is_flat() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)})
    r.order(side="BUY", type="MARKET", quantity="0.003")
    ro = r.order(
        side="SELL",
        type="LIMIT",
        quantity="0.003",
        price="101000",
        timeInForce="GTC",
        reduceOnly="true",
    )
    r.order(side="SELL", type="MARKET", quantity="0.002")
    assert (ro.status, ro.qty) == ("NEW", D("0.001"))
    r.order(side="SELL", type="MARKET", quantity="0.001", reduceOnly="true")
    assert ro.status == "EXPIRED" and not r.acct.held()


def test_algo_stop_triggers_where_the_path_meets_it_and_closes_the_position() -> None:
    r = rig({"BTCUSDT": FALL})
    r.order(side="BUY", type="MARKET", quantity="0.002")
    stop = r.algo(side="SELL", type="STOP_MARKET", triggerPrice="98800", closePosition="true")
    r.acct.drain_events()
    r.at(T0 + 4 * MIN)
    assert (stop.status, stop.actual_price) == ("FINISHED", D("98800"))
    assert not r.acct.held()
    events = r.acct.drain_events()
    kinds = [(e["e"], e["o"].get("X") if "o" in e else e["a"]["m"]) for e in events]
    assert kinds == [
        ("ALGO_UPDATE", "TRIGGERED"),
        ("ORDER_TRADE_UPDATE", "NEW"),
        ("ORDER_TRADE_UPDATE", "FILLED"),
        ("ACCOUNT_UPDATE", "ORDER"),
        ("ALGO_UPDATE", "FINISHED"),
    ]
    fill = events[2]["o"]
    assert (fill["o"], fill["ot"], fill["L"], fill["rp"], fill["cp"]) == (
        "MARKET",
        "STOP_MARKET",
        "98800.00",
        "-2.40000000",
        True,
    )
    assert events[0]["o"]["ai"] == str(fill["i"])


def test_reduce_only_algo_with_nothing_to_reduce_is_rejected_at_its_trigger() -> None:
    r = rig({"BTCUSDT": RISE})
    a = r.algo(side="SELL", type="TAKE_PROFIT_MARKET", triggerPrice="101000", closePosition="true")
    r.order(side="BUY", type="MARKET", quantity="0.002")
    r.order(side="SELL", type="MARKET", quantity="0.002")
    assert a.status == "EXPIRED"  # the position it would close went flat
    b = r.algo(
        side="SELL",
        type="TAKE_PROFIT_MARKET",
        triggerPrice="101000",
        quantity="0.002",
        reduceOnly="true",
    )
    r.at(T0 + 3 * MIN)
    assert (b.status, b.reject_reason) == ("REJECTED", "Reduce Only reject")


def test_stop_limit_algo_places_a_limit_order_at_its_trigger() -> None:
    r = rig({"BTCUSDT": RISE})
    a = r.algo(side="BUY", type="STOP", triggerPrice="101000", price="101100", quantity="0.002")
    r.at(T0 + 3 * MIN)
    assert a.status == "FINISHED"
    o = r.acct.orders["BTCUSDT"][a.actual_order_id]
    assert (o.type, o.orig_type, o.status, o.avg_price) == ("LIMIT", "STOP", "FILLED", D("101000"))


def test_legacy_stop_market_triggers_on_the_path() -> None:
    r = rig({"BTCUSDT": RISE}, legacy_conditional=True)
    o = r.order(side="BUY", type="STOP_MARKET", quantity="0.002", stopPrice="101000")
    r.at(T0 + 3 * MIN)
    assert (o.status, o.type, o.orig_type, o.avg_price) == (
        "FILLED",
        "MARKET",
        "STOP_MARKET",
        D("101000"),
    )
    assert r.acct.position("BTCUSDT").amount == D("0.002")


def test_isolated_liquidation_at_the_rules_price_loses_the_isolated_wallet() -> None:
    r = rig({"BTCUSDT": FALL})
    r.acct.set_margin_type("BTCUSDT", "ISOLATED")
    r.acct.set_leverage("BTCUSDT", 100)
    r.order(side="BUY", type="MARKET", quantity="0.010")
    pos = r.acct.position("BTCUSDT")
    assert pos.isolated_wallet == D("10")  # 1000 / 100
    rules = bundled_rules().get("BTCUSDT")
    liq = isolated_liquidation_price(
        rules, side=1, quantity=D("0.010"), entry_price=D("100000"), wallet_balance=D("10")
    )
    assert liq is not None and r.acct.liquidation_price("BTCUSDT") == liq
    r.acct.drain_events()
    r.at(T0 + 4 * MIN)
    assert not r.acct.held()
    assert r.acct.wallet == D(10_000) - D("0.5") - D("10")  # open fee, then the isolated wallet
    (liquidation,) = [e["o"] for e in r.acct.drain_events() if e["e"] == "ORDER_TRADE_UPDATE"]
    assert (liquidation["o"], liquidation["x"], liquidation["X"]) == (
        "LIQUIDATION",
        "CALCULATED",
        "FILLED",
    )
    assert liquidation["c"].startswith("autoclose-")
    assert D(liquidation["L"]) == rules.round_price(
        liq, __import__("slt.rules").rules.Rounding.DOWN
    )


def test_cross_liquidation_price_is_the_one_way_formula_of_the_wallet() -> None:
    r = rig({"BTCUSDT": FALL}, balance=15, leverage=100)
    r.order(side="BUY", type="MARKET", quantity="0.010")
    wb = D(15) - D("0.5")
    expected = (wb + 0 - D("0.010") * D(100_000)) / (D("0.010") * D("0.004") - D("0.010"))
    liq = r.acct.liquidation_price("BTCUSDT")
    assert liq is not None and abs(liq - expected) < D("1e-20")
    r.at(T0 + 4 * MIN)
    assert not r.acct.held() and r.acct.wallet >= 0


def test_funding_is_settled_at_08_utc_with_the_mark_and_the_rate() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 500)}, funding_rate="0.0001")
    r.order(side="BUY", type="MARKET", quantity="0.002")
    r.acct.drain_events()
    r.at(T0 + 8 * 60 * MIN + MIN)
    (funding,) = [e for e in r.acct.drain_events() if e["e"] == "ACCOUNT_UPDATE"]
    assert funding["a"]["m"] == "FUNDING_FEE" and funding["T"] == T0 + 8 * 60 * MIN
    assert funding["a"]["B"][0]["bc"] == "-0.02000000" and funding["a"]["P"] == []
    assert r.acct.wallet == D(10_000) - D("0.1") - D("0.02")


def test_isolated_funding_names_the_position() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 500)}, margin_type="ISOLATED")
    r.order(side="SELL", type="MARKET", quantity="0.002")
    r.acct.drain_events()
    r.at(T0 + 8 * 60 * MIN)
    (funding,) = [e for e in r.acct.drain_events() if e["e"] == "ACCOUNT_UPDATE"]
    assert funding["a"]["B"][0]["bc"] == "0.02000000"
    assert funding["a"]["P"][0]["iw"] == "10.02000000"  # 200 / 20 + the funding received


def test_event_times_never_go_back_and_e_is_at_least_t() -> None:
    r = rig({"BTCUSDT": FALL, "ETHUSDT": flat(2500.0, 5)})
    r.order(side="BUY", type="MARKET", quantity="0.002")
    r.order(
        symbol="ETHUSDT",
        side="BUY",
        type="LIMIT",
        quantity="0.010",
        price="2499",
        timeInForce="GTC",
    )
    r.algo(side="SELL", type="STOP_MARKET", triggerPrice="98800", closePosition="true")
    r.at(T0 + 4 * MIN)
    events = r.acct.drain_events()
    assert len(events) > 5
    stamps = [(e["E"], e["T"]) for e in events]
    assert all(e >= t for e, t in stamps)
    assert stamps == sorted(stamps)


OTU_KEYS = set(
    [
        "s",
        "c",
        "S",
        "o",
        "f",
        "q",
        "p",
        "ap",
        "sp",
        "x",
        "X",
        "i",
        "l",
        "z",
        "L",
        "N",
        "n",
        "T",
        "t",
        "b",
        "a",
        "m",
        "R",
        "wt",
        "ot",
        "ps",
        "cp",
        "rp",
        "pP",
        "si",
        "ss",
        "V",
        "pm",
        "gtd",
        "er",
    ]
)
ALGO_UPDATE_KEYS = set(
    [
        "caid",
        "aid",
        "at",
        "o",
        "s",
        "S",
        "ps",
        "f",
        "q",
        "X",
        "ai",
        "ap",
        "aq",
        "act",
        "tp",
        "p",
        "V",
        "wt",
        "pm",
        "cp",
        "pP",
        "R",
        "tt",
        "gtd",
        "rm",
    ]
)


def test_user_events_carry_every_binance_field() -> None:
    r = rig({"BTCUSDT": FALL}, margin_type="ISOLATED")
    r.order(side="BUY", type="MARKET", quantity="0.002")
    r.algo(side="SELL", type="STOP_MARKET", triggerPrice="98800", closePosition="true")
    r.at(T0 + 4 * MIN)
    events = r.acct.drain_events()
    for e in events:
        assert list(e)[:3] == ["e", "E", "T"]
        if e["e"] == "ORDER_TRADE_UPDATE":
            assert set(e["o"]) == OTU_KEYS
        elif e["e"] == "ALGO_UPDATE":
            assert set(e["o"]) == ALGO_UPDATE_KEYS
        else:
            assert e["e"] == "ACCOUNT_UPDATE" and e["a"]["m"] == "ORDER"
            (b,) = e["a"]["B"]
            (p,) = e["a"]["P"]
            assert set(b) == {"a", "wb", "cw", "bc"}
            assert set(p) == {"s", "pa", "ep", "bep", "cr", "up", "mt", "iw", "ps"}
            assert p["mt"] == "isolated"
    opened, closed = [e["a"]["P"][0] for e in events if e["e"] == "ACCOUNT_UPDATE"]
    assert (opened["pa"], opened["ep"], opened["iw"]) == ("0.002", "100000", "10.00000000")
    assert (closed["pa"], closed["cr"], closed["iw"]) == ("0.000", "-2.40000000", "0.00000000")


def test_gtd_orders_rest_until_their_good_till_date_then_expire() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 30)})
    now = r.acct.now
    gtd = {"side": "BUY", "type": "LIMIT", "quantity": "0.002", "price": "99000"}
    for bad, code in (("", -1102), ("soon", -1102), (str(now + 600_000), -1130)):
        with pytest.raises(ApiError) as err:
            r.order(**gtd, timeInForce="GTD", goodTillDate=bad)
        assert err.value.code == code
    until = now + 15 * MIN + 999  # kept to the second
    o = r.order(**gtd, timeInForce="GTD", goodTillDate=until)
    assert o.gtd == now + 15 * MIN
    r.at(now + 15 * MIN - 1)
    assert o.status == "NEW"
    r.acct.drain_events()
    r.at(now + 20 * MIN)
    assert o.status == "EXPIRED"
    (e,) = r.acct.drain_events()
    assert (e["o"]["x"], e["o"]["gtd"], e["T"]) == ("EXPIRED", now + 15 * MIN, now + 15 * MIN)
    with pytest.raises(ApiError) as err:
        r.algo(
            side="BUY",
            type="STOP_MARKET",
            triggerPrice="101000",
            quantity="0.002",
            timeInForce="GTD",
        )
    assert err.value.code == -1115
