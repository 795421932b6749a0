"""Signals dropped while entries are paused are skipped without changing anything.

The waker jumps over a signal step when every signal there is for a symbol without a position
and entries are paused at that close (a cooldown after a losing streak, or the day's drawdown
halt). These runs make pauses frequent and long, and compare the skipping run with the
candle-by-candle run (`skip_quiet=False`) as the skipping tests do; each case checks that its
pause really happens and that signals fell inside it.
"""

from __future__ import annotations

from typing import Any

import pytest

from slt.backtest import waker as waker_module
from slt.backtest.driver import run_backtest
from slt.config import load_settings
from slt.domain import CandleSeries
from slt.rules import ExchangeRules
from slt.strategy.baseline import EmaAtrBaseline

from .test_driver_skipping import assert_same_run

CASES: dict[str, dict[str, Any]] = {
    "cooldown-after-every-loss": {"max_consecutive_losses": 1, "cooldown_ms": 6 * 3_600_000},
    "tight-daily-halt": {"daily_drawdown_halt": 0.003},
    "both": {
        "max_consecutive_losses": 2,
        "cooldown_ms": 3 * 3_600_000,
        "daily_drawdown_halt": 0.005,
        "max_positions": 1,
    },
}


@pytest.mark.parametrize("name", list(CASES))
def test_paused_signal_steps_are_skipped_exactly(
    name: str,
    sample: dict[str, CandleSeries],
    rules: ExchangeRules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(risk=CASES[name])
    passed = {"signals": 0}
    original = waker_module.Waker._next_signal

    def counting(self: waker_module.Waker, i: int) -> int:
        got = original(self, i)
        order = self.tl.signal_order
        first = order[i] if i < len(order) else len(self.tl)
        passed["signals"] += sum(1 for step in order[i:] if first <= step < got)
        return got

    monkeypatch.setattr(waker_module.Waker, "_next_signal", counting)
    strategy = EmaAtrBaseline(settings.baseline)
    skipped = run_backtest(sample, strategy, settings, rules, skip_quiet=True)
    full = run_backtest(sample, strategy, settings, rules, skip_quiet=False)
    assert len(full.trades) >= 20
    assert passed["signals"] >= 10, "no signal fell in a pause: the case tests nothing"
    assert_same_run(skipped, full)
