"""Skip-equivalence and the ledger identity on real futures 1m candles of five symbols
(../shared/data/market/futures/{BTC,LTC,ADA,DOGE,AVAX}USDT-1m.csv.gz; skipped where absent).

Two windows of about 20k candles per symbol:

* `first-rows`: the first 20k rows of each file, taken literally. The files start on different
  days (ADA five days after BTC, DOGE three weeks after), so symbols start and end at different
  times and some barely overlap;
* `common`: 20k minutes from the latest first candle of the five, so all trade together;
  AVAX's file ends inside this window, so it stops early (with positions open at times).

Each window is run under several settings with and without skipping quiet candles: the trades,
final balance and rejected orders must be identical and the equity curves equal to 1e-9
relative; and the balance must move by exactly the trades' summed net PnL (Decimal).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from slt.backtest.driver import run_backtest
from slt.backtest.result import BacktestResult
from slt.config import Settings, load_settings
from slt.data.csv_import import parse_file
from slt.domain import CandleSeries
from slt.domain.candle import MINUTE_MS
from slt.rules import ExchangeRules, bundled_rules
from slt.strategy.baseline import EmaAtrBaseline

pytestmark = pytest.mark.integration

SYMBOLS = ("BTCUSDT", "LTCUSDT", "ADAUSDT", "DOGEUSDT", "AVAXUSDT")
ROWS = 20_000

SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "tight-stops-trailing": {
        "risk": {
            "stop_loss_pct": 0.003,
            "take_profit_pct": 0.006,
            "trailing_activation_pct": 0.002,
            "trailing_distance_pct": 0.001,
        }
    },
    "max-hold-10min": {"risk": {"max_hold_ms": 600_000}},
    "daily-halt-1pct": {"risk": {"daily_drawdown_halt": 0.01}},
}


@pytest.fixture(scope="module")
def files(shared_data: Path) -> dict[str, CandleSeries]:
    folder = shared_data / "market" / "futures"
    out = {}
    for symbol in SYMBOLS:
        parsed = parse_file(folder / f"{symbol}-1m.csv.gz")
        assert parsed.rejected == 0, f"{symbol}: {parsed.errors[:3]}"
        out[symbol] = parsed.series
    return out


@pytest.fixture(scope="module")
def windows(files: dict[str, CandleSeries]) -> dict[str, dict[str, CandleSeries]]:
    first = {s: ser.slice(0, ROWS) for s, ser in files.items()}
    start = max(int(ser.open_time[0]) for ser in files.values())
    stop = start + ROWS * MINUTE_MS
    common = {
        s: ser.slice(
            int(np.searchsorted(ser.open_time, start)), int(np.searchsorted(ser.open_time, stop))
        )
        for s, ser in files.items()
    }
    return {"first-rows": first, "common": common}


@pytest.fixture(scope="module")
def rules() -> ExchangeRules:
    return bundled_rules()


def _run(
    series: dict[str, CandleSeries], settings: Settings, rules: ExchangeRules, *, skip: bool
) -> BacktestResult:
    strategy = EmaAtrBaseline(settings.baseline)
    return run_backtest(series, strategy, settings, rules, run_id="real", skip_quiet=skip)


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("window", ["first-rows", "common"])
def test_skipping_is_exact_and_the_ledger_closes_on_real_data(
    window: str,
    setting: str,
    windows: dict[str, dict[str, CandleSeries]],
    rules: ExchangeRules,
) -> None:
    series = windows[window]
    assert (
        len({int(s.open_time[0]) for s in series.values()}) > 1
        or len({int(s.open_time[-1]) for s in series.values()}) > 1
    ), "the windows are meant to have uneven starts or ends"
    settings = load_settings(**SETTINGS[setting])
    skipped = _run(series, settings, rules, skip=True)
    full = _run(series, settings, rules, skip=False)

    assert len(full.trades) >= 40
    assert {t.symbol for t in full.trades} == set(SYMBOLS)
    for i, (a, b) in enumerate(zip(skipped.trades, full.trades, strict=False)):
        assert a == b, f"trade {i} differs with skipping:\n  skip: {a}\n  full: {b}"
    assert len(skipped.trades) == len(full.trades)
    assert skipped.trade_list_hash() == full.trade_list_hash()
    assert skipped.final_balance == full.final_balance
    assert skipped.rejected_orders == full.rejected_orders
    assert skipped.in_market_ms == full.in_market_ms
    np.testing.assert_array_equal(skipped.equity_time_ms, full.equity_time_ms)
    np.testing.assert_allclose(skipped.equity, full.equity, rtol=1e-9, atol=0.0)

    for result in (skipped, full):
        net = sum((t.net_pnl for t in result.trades), Decimal(0))
        assert result.final_balance - result.initial_balance == net
        assert all(t.net_pnl == t.gross_pnl - t.fees - t.funding for t in result.trades)
