"""Properties of the account over random candles and random order flow: the wallet moves by
exactly realised PnL − fees + funding, every fill is on the tick grid at a price the replay
visited in the fill's minute, and event stamps never go back."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slt.venues.local.errors import ApiError

from .conftest_trading import MIN, T0, Row, rig, wallet_identity

TICK = Decimal("0.1")


@st.composite
def candles(draw: st.DrawFn, n: int = 40) -> list[Row]:
    """1m candles on the 0.1 grid, each opening where the last closed, near 100 000."""
    rows: list[Row] = []
    move = draw(st.sampled_from([300, 3_000, 12_000]))
    price = 1_000_000  # in ticks
    for _ in range(n):
        close = price + draw(st.integers(-move, move))
        high = max(price, close) + draw(st.integers(0, 2_000))
        low = min(price, close) - draw(st.integers(0, 2_000))
        rows.append((price / 10, high / 10, low / 10, close / 10))
        price = close
    return rows


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("market"), st.sampled_from(["BUY", "SELL"]), st.integers(2, 12)),
        st.tuples(st.just("limit"), st.sampled_from(["BUY", "SELL"]), st.integers(-2_000, 2_000)),
        st.tuples(st.just("stop"), st.sampled_from(["BUY", "SELL"]), st.integers(-3_000, 3_000)),
        st.tuples(st.just("wait"), st.just(""), st.integers(1, 90_000)),
    ),
    min_size=3,
    max_size=25,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(candles(), ACTIONS, st.sampled_from(["CROSSED", "ISOLATED"]), st.sampled_from([5, 20, 125]))
def test_the_ledger_balances_and_fills_are_real_prices_on_the_grid(
    rows: list[Row], actions: list[tuple[str, str, int]], margin: str, leverage: int
) -> None:
    r = rig({"BTCUSDT": rows}, balance=2_000, margin_type=margin, leverage=leverage)
    start = r.acct.wallet
    now = r.acct.now
    events: list[dict] = []
    for kind, side, n in actions:
        try:
            last = r.acct.last_price("BTCUSDT")
            if kind == "market":
                r.order(side=side, type="MARKET", quantity=f"0.00{n}" if n < 10 else f"0.0{n}")
            elif kind == "limit":
                r.order(
                    side=side,
                    type="LIMIT",
                    quantity="0.002",
                    price=last + n * TICK,
                    timeInForce="GTC",
                )
            elif kind == "stop":
                kind_ = "STOP_MARKET" if (n > 0) == (side == "BUY") else "TAKE_PROFIT_MARKET"
                r.algo(side=side, type=kind_, triggerPrice=last + n * TICK, quantity="0.002")
            else:
                now = min(now + n, T0 + len(rows) * MIN)
                r.at(now)
        except ApiError:
            pass
        events.extend(r.acct.drain_events())
    r.at(T0 + len(rows) * MIN)
    events.extend(r.acct.drain_events())

    # the ledger: wallet change == realised − fees + funding, to the last unit
    assert r.acct.wallet - start == wallet_identity(r.acct, start, events)

    xs = {e["o"]["x"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"}
    event(f"fills: {'TRADE' in xs}, liquidation: {'CALCULATED' in xs}")
    stamps = [(e["E"], e["T"]) for e in events]
    assert stamps == sorted(stamps) and all(e >= t for e, t in stamps)
    for e in events:
        if e["e"] != "ORDER_TRADE_UPDATE" or e["o"]["x"] not in ("TRADE",):
            continue
        price = Decimal(e["o"]["L"])
        assert price % TICK == 0
        t = e["o"]["T"]
        # the candles overlapping the minute that ended at t (or the one forming at t)
        first = max((t - MIN - T0) // MIN, 0)
        last_row = min((t - T0) // MIN, len(rows) - 1)
        window = rows[first : last_row + 1]
        lo = min(c[2] for c in window)
        hi = max(c[1] for c in window)
        assert Decimal(repr(lo)) <= price <= Decimal(repr(hi)), (price, lo, hi, t)
