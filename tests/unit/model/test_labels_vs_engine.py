"""The label kernel against the real engine and simulated venue, on the bundled real candles.

A tiny strategy enters at chosen bars (alternating long and short, spaced so every trade has
closed before the next signal); each closed trade's realised return must equal the label of
its signal bar. The one systematic difference is funding: the venue charges the configured
constant rate at each settlement, labels leave it out (see `slt.model.labels`), so the engine's
return is compared with its funding added back. Tick rounding, slippage, fees, the partial,
breakeven, trailing and time exits are all reproduced, so the tolerance is float noise.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from slt.backtest.driver import run_backtest
from slt.config import Settings, load_settings
from slt.domain import Candle, CandleSeries, ExitReason, Side, Signal
from slt.model.labels import LabelParams, forward_labels
from slt.rules import ExchangeRules
from slt.strategy.base import SignalColumns

QUANTITY = {"BTCUSDT": 0.002, "LTCUSDT": 2.0, "DOGEUSDT": 1000.0, "ADAUSDT": 400.0}
"""Even step multiples above min notional, so the partial closes exactly half, as the label."""

NO_PROTECTIONS = {"max_consecutive_losses": 1_000_000, "cooldown_ms": 0, "daily_drawdown_halt": 1.0}

CASES: dict[str, tuple[dict[str, object], int]] = {
    # name: (overrides, bars between signals)
    "default": ({"risk": {}}, 125),
    "tight": (
        {
            "risk": {
                "stop_loss_pct": 0.003,
                "take_profit_pct": 0.006,
                "trailing_activation_pct": 0.002,
                "trailing_distance_pct": 0.001,
                "max_hold_ms": 30 * 60_000,
            }
        },
        33,
    ),
    "no-partial-no-slippage": (
        {
            "risk": {
                "stop_loss_pct": 0.004,
                "take_profit_pct": 0.004,
                "partial_take_profit": False,
                "trailing_activation_pct": 0.003,
                "trailing_distance_pct": 0.002,
                "max_hold_ms": 15 * 60_000,
            },
            "fees": {"slippage_pct": 0.0},
        },
        17,
    ),
}


class EnterAt:
    """Signals at fixed rows: +1 / −1 at the close of those bars, nothing elsewhere."""

    name = "enter-at"

    def __init__(self, every: int, first: int = 50) -> None:
        self.every = every
        self.first = first

    def directions(self, n: int) -> np.ndarray:
        d = np.zeros(n, dtype=np.int64)
        rows = np.arange(self.first, n, self.every)
        d[rows] = np.where(np.arange(rows.size) % 2 == 0, 1, -1)
        return d

    def batch(self, series: CandleSeries) -> SignalColumns:
        n = len(series)
        return SignalColumns(self.directions(n), np.full(n, 0.01), np.ones(n), np.full(n, 0.002))

    def incremental(self, symbol: str) -> _NoIncremental:
        return _NoIncremental()


class _NoIncremental:
    def update(self, candle: Candle) -> Signal | None:
        raise NotImplementedError("batch only: this strategy exists for a backtest test")


def _settings(symbol: str, overrides: dict[str, object]) -> Settings:
    risk = dict(overrides.get("risk", {}))  # type: ignore[call-overload]
    risk.update(NO_PROTECTIONS, sizing="fixed_quantity", fixed_quantity=QUANTITY[symbol])
    risk["signal_reversal_exit"] = False
    return load_settings(**{**overrides, "risk": risk})


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("symbol", sorted(QUANTITY))
def test_label_equals_engine_trade_return(
    case: str, symbol: str, sample: dict[str, CandleSeries], rules: ExchangeRules
) -> None:
    overrides, every = CASES[case]
    settings = _settings(symbol, overrides)
    series = sample[symbol]
    result = run_backtest({symbol: series}, EnterAt(every), settings, rules)
    horizon = settings.risk.max_hold_ms // series.interval_ms
    params = LabelParams.from_config(settings.risk, settings.fees, horizon)
    labels = forward_labels(series, params, tick=rules.get(symbol).tick_size)
    compared = 0
    reasons: set[ExitReason] = set()
    for trade in result.trades:
        row = int(np.searchsorted(series.open_time, trade.entry_time_ms)) - 1
        label = labels.long if trade.side is Side.LONG else labels.short
        end = labels.long_end if trade.side is Side.LONG else labels.short_end
        if trade.exit_reason is ExitReason.END_OF_DATA:
            assert np.isnan(label[row]), "a trade cut by the end of data has no realised label"
            continue
        notional = trade.quantity * trade.entry_price
        unfunded = float((trade.gross_pnl - trade.fees) / notional)
        assert label[row] == pytest.approx(unfunded, abs=1e-9), (
            f"{symbol} {trade.side.name} at row {row}: label {label[row]!r}, engine "
            f"{unfunded!r} ({[leg.reason.value for leg in trade.exits]})"
        )
        assert series.open_time[end[row]] == trade.exit_time_ms
        funding = float(trade.funding / notional)
        assert trade.return_pct == pytest.approx(unfunded - funding, abs=1e-9)
        reasons.update(leg.reason for leg in trade.exits)
        compared += 1
    assert compared >= 50
    assert {ExitReason.STOP_LOSS, ExitReason.TIME_EXIT} <= reasons, reasons
    if case == "tight":
        assert {ExitReason.PARTIAL_TAKE_PROFIT, ExitReason.TRAILING_STOP} <= reasons, reasons


def test_prices_on_the_tick_grid_match_decimal_rounding() -> None:
    """Entry, stop and target of a label sit on the same grid values as the engine's Decimals."""
    tick = Decimal("0.10")
    from slt.model.labels import tick_grid

    assert tick_grid(tick) == (1.0, 10.0)
    assert tick_grid(Decimal("0.000010")) == (1.0, 100_000.0)
    assert tick_grid(Decimal("5E-5")) == (5.0, 100_000.0)
    assert tick_grid(None) == (0.0, 1.0)
