"""A taking order must stay inside the PERCENT_PRICE band around the mark price (-4131); the
replay's mark equals the last price unless a test sets a premium to pull them apart."""

from __future__ import annotations

from decimal import Decimal

from .conftest_trading import flat, rig


def test_market_orders_beyond_the_mark_band_are_refused_with_4131() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 10)})
    assert r.ex.market.mark_price("BTCUSDT") == r.ex.market.last_price("BTCUSDT")
    r.ex.market.mark_premium["BTCUSDT"] = -0.06  # mark 6 % under last: BUYs take too high
    assert r.code(side="BUY", type="MARKET", quantity="0.010") == -4131
    sell = r.order(side="SELL", type="MARKET", quantity="0.010", newOrderRespType="RESULT")
    assert sell.status == "FILLED"  # selling above mark is inside the band
    r.ex.market.mark_premium["BTCUSDT"] = 0.06  # mark 6 % over last: SELLs take too low
    assert r.code(side="SELL", type="MARKET", quantity="0.010") == -4131
    r.ex.market.mark_premium["BTCUSDT"] = 0.04  # within the 5 % band
    assert r.order(side="SELL", type="MARKET", quantity="0.010").status == "FILLED"
    assert r.ex.account.position("BTCUSDT").amount == Decimal("-0.020")  # the BUY never filled
