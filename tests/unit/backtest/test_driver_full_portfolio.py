"""Signals that find the portfolio full with nothing to rotate out of are skipped exactly.

With `max_positions` positions open, a signal for another symbol makes the engine ask
`rotation_victim`; when the answer is None it does nothing at that close. The waker passes over
such signal steps. These runs keep the portfolio full often (few slots), with rotation made
impossible, rare or frequent, and compare the skipping run with the candle-by-candle run
(`skip_quiet=False`) as the other skipping tests do; each case checks that such steps were
really passed over, and the frequent-rotation case that rotations still happen.
"""

from __future__ import annotations

from typing import Any

import pytest

from slt.backtest import waker as waker_module
from slt.backtest.driver import run_backtest
from slt.config import load_settings
from slt.domain import CandleSeries, ExitReason
from slt.rules import ExchangeRules
from slt.strategy.baseline import EmaAtrBaseline

from .test_driver_skipping import assert_same_run

# A signal-rich baseline: several times more signals than the default, so slots are contested.
BASELINE = {"fast": 9, "slow": 21, "atr_period": 7, "band_atr": 0.2, "min_atr_pct": 0.0}

CASES: dict[str, dict[str, Any]] = {
    "one-slot-never-rotate": {"max_positions": 1, "rotation_min_edge": 10.0},
    "two-slots-default-edge": {"max_positions": 2},
    "one-slot-rotate-often": {"max_positions": 1, "rotation_min_edge": 0.0},
}


@pytest.mark.parametrize("name", list(CASES))
def test_full_portfolio_signal_steps_are_skipped_exactly(
    name: str,
    sample: dict[str, CandleSeries],
    rules: ExchangeRules,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(risk=CASES[name], baseline=BASELINE)
    passed = {"steps": 0}
    original = waker_module.Waker._none_rotates

    def counting(self: waker_module.Waker, step: int, symbols: tuple[str, ...]) -> bool:
        verdict = original(self, step, symbols)
        passed["steps"] += verdict
        return verdict

    monkeypatch.setattr(waker_module.Waker, "_none_rotates", counting)
    strategy = EmaAtrBaseline(settings.baseline)
    skipped = run_backtest(sample, strategy, settings, rules, skip_quiet=True)
    full = run_backtest(sample, strategy, settings, rules, skip_quiet=False)
    assert len(full.trades) >= 20
    assert passed["steps"] >= 10, "no signal step was passed over: the case tests nothing"
    if name == "one-slot-rotate-often":
        assert any(t.exit_reason is ExitReason.ROTATION for t in full.trades)
    assert_same_run(skipped, full)
