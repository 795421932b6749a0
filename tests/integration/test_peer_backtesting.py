"""Peer test: our backtester and backtesting.py agree trade for trade on real candles.

Both engines replay four weeks of real BTCUSDT 1m futures candles with the SAME direction array
(the baseline strategy's EMA-crossover signals, computed once by our strategy and handed to
backtesting.py through `Strategy.I`), so what is compared is execution, not indicator code.
The strategy is always in the market after its first signal and reverses on every cross.

How the two engines are made to mean the same thing:

* fills: a signal decided at bar i's close fills at bar i+1's open in both (backtesting.py's
  default `trade_on_close=False`; our venue's market orders); slippage 0 here, no spread there;
* reversal: our signal-reversal exit and the opposite entry both fill at that next open;
  backtesting.py with `exclusive_orders=True` closes the open trade and opens the new one there;
* fees: 0.05 % of fill notional per side in both (backtesting.py's `commission` is charged at
  entry and again at exit, `abs(size) × price × rate`); funding off (backtesting.py has none);
* size: one whole BTC per entry (`sizing="fixed_quantity"`), because backtesting.py sizes in
  whole units; cash is large enough that neither engine ever scales an order down;
* everything else of ours is neutralised by configuration: leverage 1, the stop-loss 50 % and
  the take-profit 90 % away, no partial take-profit, trailing, time exit, drawdown halt or
  cooldown, and the baseline's ATR band and filters off so every EMA cross is a signal.

End of data. We close what is open at the LAST candle's close, at time last open + 1 interval,
with reason end_of_data. backtesting.py's `finalize_trades=True` re-runs its broker on the last
bar, so it would close at that bar's OPEN, stamped with its open time. To align, backtesting.py
gets one extra flat bar after the data (open = high = low = close = the last close, stamped
last open + 1 interval, direction 0): its finalize then closes exactly where and when we do.

One difference is deliberately kept out of the main comparison: a reversal decided at the last
candle's close. There is no next open to fill at; backtesting.py (on the extra bar) opens and
at once closes a zero-length trade. Our engine fills the reversal exit and the new entry at the
last close but then leaves that new position open, outside the trade list, with its entry fee
charged. `test_reversal_on_the_last_candle_closes_everything` pins that defect; the main test
ends its window on a candle without a signal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy

from slt.backtest.driver import run_backtest
from slt.backtest.result import BacktestResult
from slt.config import Settings, load_settings
from slt.domain import CandleSeries, ExitReason
from slt.rules import bundled_rules
from slt.strategy.baseline import EmaAtrBaseline

pytestmark = [
    pytest.mark.integration,
    # backtesting.py's own statistics code calls a pandas API that pandas has deprecated.
    pytest.mark.filterwarnings("ignore:DatetimeIndex.dayofweek is deprecated"),
]

SYMBOL = "BTCUSDT"
WINDOW = 4 * 7 * 24 * 60
"""Four weeks of 1m candles: about 770 trades, a few seconds in both engines."""
QUANTITY = 1
"""Whole base units per entry, so backtesting.py's integer sizing is exact."""
CASH = 1_000_000.0
"""Far above one BTC's notional at leverage 1: no order is ever scaled down or refused."""
FEE_RATE = 0.0005
"""Binance VIP 0 taker fee, per side, as a fraction of fill notional."""


def _series(shared_data: Path) -> CandleSeries:
    frame = pd.read_csv(shared_data / "market" / "futures" / f"{SYMBOL}-1m.csv.gz")
    return CandleSeries(
        SYMBOL,
        "1m",
        frame["open_time"].to_numpy(np.int64),
        *(frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")),
    )


def _settings() -> Settings:
    """Our engine reduced to what backtesting.py does: fixed size, next-open fills, fees only."""
    return load_settings(
        fees={"taker_rate": FEE_RATE, "slippage_pct": 0.0, "funding_rate": 0.0},
        risk={
            "sizing": "fixed_quantity",
            "fixed_quantity": float(QUANTITY),
            "min_leverage": 1,
            "max_leverage": 1,
            "max_margin_fraction": 1.0,
            "stop_loss_pct": 0.5,
            "take_profit_pct": 0.9,
            "partial_take_profit": False,
            "trailing_activation_pct": 5.0,
            "max_hold_ms": 10**13,
            "daily_drawdown_halt": 1.0,
            "cooldown_ms": 0,
        },
        baseline={"band_atr": 0.0, "min_atr_pct": 0.0, "max_atr_pct": 1e9},
        backtest={"initial_balance": CASH},
    )


class _FollowDirection(Strategy):
    """Buys on +1 and sells on −1 of a precomputed direction array, one whole unit each time."""

    direction: np.ndarray | None = None

    def init(self) -> None:
        self.signal = self.I(lambda: self.direction, name="direction", plot=False)

    def next(self) -> None:
        d = self.signal[-1]
        if d > 0:
            self.buy(size=QUANTITY)
        elif d < 0:
            self.sell(size=QUANTITY)


def _run_peer(series: CandleSeries, direction: np.ndarray) -> pd.Series:
    """backtesting.py on the series plus one flat settlement bar at the last close (see above)."""
    step = series.interval_ms
    last_close = float(series.close[-1])
    times = np.append(series.open_time, series.open_time[-1] + step)
    data = pd.DataFrame(
        {
            "Open": np.append(series.open, last_close),
            "High": np.append(series.high, last_close),
            "Low": np.append(series.low, last_close),
            "Close": np.append(series.close, last_close),
            "Volume": np.append(series.volume, 0.0),
        },
        index=pd.to_datetime(times, unit="ms"),
    )
    bt = Backtest(
        data,
        _FollowDirection,
        cash=CASH,
        commission=FEE_RATE,
        trade_on_close=False,
        exclusive_orders=True,
        finalize_trades=True,
    )
    return bt.run(direction=np.append(direction, 0).astype(np.float64))


def _to_ms(times: pd.Series) -> list[int]:
    return times.to_numpy(dtype="datetime64[ms]").astype(np.int64).tolist()


def _first_difference(ours: list[tuple[int, int, int]], peer: list[tuple[int, int, int]]) -> str:
    for i, (a, b) in enumerate(zip(ours, peer, strict=False)):
        if a != b:
            return f"trade {i}: ours (entry, exit, side) = {a}, backtesting.py = {b}"
    return f"ours has {len(ours)} trades, backtesting.py {len(peer)}"


def _window(series: CandleSeries, strategy: EmaAtrBaseline) -> tuple[CandleSeries, np.ndarray]:
    """The first WINDOW candles, shortened until the last one carries no signal.

    Signals are causal, so cutting candles off the end leaves every earlier signal unchanged.
    """
    n = min(WINDOW, len(series))
    direction = strategy.batch(series.slice(0, n)).direction
    while direction[n - 1] != 0:
        n -= 1
    return series.slice(0, n), direction[:n]


def test_same_trades_as_backtesting_py(shared_data: Path) -> None:
    """Same signals, same candles, same costs: an independent engine must book the same trades,
    so a difference points at our fills, fees or exits rather than at the strategy."""
    settings = _settings()
    strategy = EmaAtrBaseline(settings.baseline)
    series, direction = _window(_series(shared_data), strategy)

    ours = run_backtest({SYMBOL: series}, strategy, settings, bundled_rules())
    peer = _run_peer(series, direction)
    trades = peer["_trades"]

    assert ours.rejected_orders == {}
    assert len(ours.trades) > 100, "too few trades for a meaningful comparison"
    reasons = [t.exit_reason for t in ours.trades]
    assert set(reasons[:-1]) == {ExitReason.SIGNAL_REVERSAL}
    assert reasons[-1] is ExitReason.END_OF_DATA

    our_list = [(t.entry_time_ms, t.exit_time_ms, int(t.side)) for t in ours.trades]
    peer_list = list(
        zip(
            _to_ms(trades["EntryTime"]),
            _to_ms(trades["ExitTime"]),
            np.sign(trades["Size"]).astype(int).tolist(),
            strict=True,
        )
    )
    assert our_list == peer_list, _first_difference(our_list, peer_list)
    assert all(float(t.quantity) == QUANTITY for t in ours.trades)
    assert (trades["Size"].abs() == QUANTITY).all()

    # Same fills, so the same prices and the same money, up to float vs 8-decimal rounding.
    entry = [float(t.entry_price) for t in ours.trades]
    exit_ = [float(t.exit_price) for t in ours.trades]
    np.testing.assert_array_equal(entry, trades["EntryPrice"])
    np.testing.assert_array_equal(
        exit_[:-1], trades["ExitPrice"].iloc[:-1], err_msg="signal-reversal exit prices"
    )
    assert exit_[-1] == float(series.close[-1]), "end_of_data must fill at the last candle's close"
    assert exit_[-1] == trades["ExitPrice"].iloc[-1]
    np.testing.assert_allclose(
        [float(t.fees) for t in ours.trades], trades["Commission"], atol=1e-6
    )
    np.testing.assert_allclose([float(t.net_pnl) for t in ours.trades], trades["PnL"], atol=1e-6)

    our_final = float(ours.final_balance)
    peer_final = float(peer["Equity Final [$]"])
    assert our_final == pytest.approx(peer_final, rel=1e-3)
    assert our_final - CASH == pytest.approx(peer_final - CASH, abs=1e-3)
    assert _ledger_gap(ours) == 0.0, "every unit of the balance change belongs to a trade"


def _ledger_gap(result: BacktestResult) -> float:
    """Final balance − (initial balance + Σ net PnL of the trades): 0 when nothing is left open."""
    booked = sum(t.net_pnl for t in result.trades)
    return float(result.final_balance - result.initial_balance - booked)


def test_reversal_on_the_last_candle_closes_everything(shared_data: Path) -> None:
    """A reversal decided at the very last close must not leave money outside the trade list:
    the result promises realised trades only."""
    settings = _settings()
    strategy = EmaAtrBaseline(settings.baseline)
    full = _series(shared_data).slice(0, WINDOW)
    direction = strategy.batch(full).direction
    last_signal = int(np.nonzero(direction)[0][-1])
    series = full.slice(0, last_signal + 1)

    ours = run_backtest({SYMBOL: series}, strategy, settings, bundled_rules())

    end_ms = int(series.open_time[-1]) + series.interval_ms
    assert ours.trades[-1].exit_time_ms == end_ms, "the reversal exit fills at the last close"
    gap = _ledger_gap(ours)
    assert gap == 0.0, f"{gap:+.8f} USDT of the balance belongs to no recorded trade"
