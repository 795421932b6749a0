"""Buy-and-hold, checked by hand on a tiny series and against price relatives on the sample."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from slt.backtest.benchmarks import buy_and_hold
from slt.backtest.driver import BacktestError
from slt.backtest.metrics import compute_metrics
from slt.config import Settings, load_settings
from slt.domain import CandleSeries, ExitReason, Side
from slt.domain.candle import MINUTE_MS

from .conftest import T0


def _series(symbol: str, steps: list[int], opens: list[float], closes: list[float]) -> CandleSeries:
    o, c = np.asarray(opens), np.asarray(closes)
    return CandleSeries(
        symbol,
        "1m",
        np.asarray([T0 + k * MINUTE_MS for k in steps], dtype=np.int64),
        o,
        np.maximum(o, c) + 1,
        np.minimum(o, c) - 1,
        c,
        np.ones(len(steps)),
    )


def _settings() -> Settings:
    return load_settings(
        fees={"taker_rate": 0.001, "slippage_pct": 0.002}, backtest={"initial_balance": 1000.0}
    )


def test_two_symbols_by_hand() -> None:
    """A trades 4 minutes from 100 to 110; B starts a minute late, misses minute 2, and falls
    from 50 to 40. Each gets 500 USDT: cash until its first open, then qty × close."""
    series = {
        "AAAUSDT": _series("AAAUSDT", [0, 1, 2, 3], [100, 101, 104, 108], [101, 104, 108, 110]),
        "BBBUSDT": _series("BBBUSDT", [1, 3], [50, 44], [45, 40]),
    }
    result = buy_and_hold(series, _settings(), run_id="hold")

    a, b = result.trades
    assert (a.symbol, b.symbol) == ("AAAUSDT", "BBBUSDT")
    assert a.entry_price == Decimal("100.2") and a.exit_price == Decimal("109.78")
    assert b.entry_price == Decimal("50.1") and b.exit_price == Decimal("39.92")
    qty_a = Decimal(500) / (Decimal("100.2") * Decimal("1.001"))
    assert a.quantity == qty_a
    fee_in = (qty_a * Decimal("100.2") * Decimal("0.001")).quantize(Decimal("1e-8"))
    fee_out = (qty_a * Decimal("109.78") * Decimal("0.001")).quantize(Decimal("1e-8"))
    assert a.fees == fee_in + fee_out
    assert a.net_pnl == qty_a * (Decimal("109.78") - Decimal("100.2")) - fee_in - fee_out
    for t in (a, b):
        assert t.side is Side.LONG and t.leverage == 1 and t.funding == 0
        assert t.exit_reason is ExitReason.END_OF_DATA and t.source == "buy_and_hold"
        assert t.net_pnl == t.gross_pnl - t.fees
    assert (a.entry_time_ms, a.exit_time_ms) == (T0, T0 + 4 * MINUTE_MS)
    assert (b.entry_time_ms, b.exit_time_ms) == (T0 + MINUTE_MS, T0 + 4 * MINUTE_MS)

    # Growth per symbol: exit × (1 − slip) × (1 − fee) over entry × (1 + slip) × (1 + fee).
    grow_a = 110 * 0.998 * 0.999 / (100 * 1.002 * 1.001)
    grow_b = 40 * 0.998 * 0.999 / (50 * 1.002 * 1.001)
    assert result.final_balance == Decimal(1000) + a.net_pnl + b.net_pnl
    assert float(result.final_balance) == pytest.approx(500 * grow_a + 500 * grow_b, abs=1e-6)

    assert result.equity_time_ms.tolist() == [T0 + k * MINUTE_MS for k in range(5)]
    q_a, q_b = float(qty_a), float(b.quantity)
    expected = [
        1000.0,
        500 + q_a * 101,  # B not listed yet: its share is cash
        q_a * 104 + q_b * 45,
        q_a * 108 + q_b * 45,  # B has no candle at minute 2: its last close carries
        float(result.final_balance),
    ]
    np.testing.assert_allclose(result.equity, expected, rtol=0, atol=1e-6)
    assert result.equity[-1] == float(result.final_balance)
    assert result.in_market_ms == 4 * MINUTE_MS
    assert result.fees_paid == a.fees + b.fees and result.funding_paid == 0
    assert (result.start_ms, result.end_ms) == (T0, T0 + 4 * MINUTE_MS)
    assert compute_metrics(result).exposure == 1.0


def test_sample_final_equity_is_the_price_relatives_minus_costs(
    sample: dict[str, CandleSeries],
) -> None:
    settings = load_settings()
    result = buy_and_hold(sample, settings)
    slip, fee = settings.fees.slippage_pct, settings.fees.taker_rate
    share = settings.backtest.initial_balance / len(sample)
    cost = (1 - slip) * (1 - fee) / ((1 + slip) * (1 + fee))
    expected = sum(share * float(s.close[-1] / s.open[0]) * cost for s in sample.values())
    # Each of the 8 fees is rounded to 1e-8 USDT as the exchange books it: at most 4e-8 in all.
    assert float(result.final_balance) == pytest.approx(expected, rel=0, abs=5e-8)
    assert result.equity[-1] == float(result.final_balance)

    # Midway, every symbol is worth its share × close / entry cost.
    grid = sample["BTCUSDT"].open_time
    k = len(grid) // 2
    mid = sum(
        share * float(s.close[k] / s.open[0]) / ((1 + slip) * (1 + fee)) for s in sample.values()
    )
    assert result.equity[k + 1] == pytest.approx(mid, rel=0, abs=5e-8)
    assert result.equity_time_ms[k + 1] == int(grid[k]) + MINUTE_MS
    assert len(result.equity) == len(grid) + 1
    assert bool(np.all(np.diff(result.equity_time_ms) > 0))

    m = compute_metrics(result)
    assert m.trades == len(sample) and m.funding_paid == 0
    assert m.total_return == pytest.approx(expected / settings.backtest.initial_balance - 1)


def test_no_candles_is_refused() -> None:
    with pytest.raises(BacktestError):
        buy_and_hold({}, load_settings())
    empty = _series("AAAUSDT", [], [], [])
    with pytest.raises(BacktestError):
        buy_and_hold({"AAAUSDT": empty}, load_settings())
