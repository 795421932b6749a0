"""Golden master: the default-settings backtest of the bundled sample, pinned.

The whole pipeline (CSV parsing, baseline signals, engine decisions, risk sizing and exits,
exchange rules, simulated fills, fees and funding) is run on the sample shipped with the
package (four symbols, two weeks of real 1m candles) with `load_settings()` defaults, and the
result must match the values below: the SHA-256 of the canonical trade list
(`BacktestResult.trade_list_hash()`), the number of trades and the final balance.

Any change of trading behaviour changes these values, on purpose or not. That is the point: a
refactoring must leave them alone, and a deliberate change of behaviour (a new default, a fix
in the engine, the venue, the rules or the strategy) must update them in its own commit whose
message says why the trades changed, after checking the new trades are the intended ones. To
get the new values, run this test and copy them from the failure message; never update them
in a commit that claims not to change behaviour.

SLT_* environment variables are cleared for this test so a developer's environment cannot move
the defaults under it.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from slt.backtest.driver import run_backtest
from slt.config import load_settings
from slt.data.csv_import import parse_file
from slt.data.sample import sample_files
from slt.rules import bundled_rules
from slt.strategy.baseline import EmaAtrBaseline

GOLDEN_TRADE_LIST_HASH = "439a306b66e255bf52135407277f11bd2a4402bae968a1c3de9b5f6f8679f7cd"
GOLDEN_TRADE_COUNT = 202
GOLDEN_FINAL_BALANCE = Decimal("7410.57139917")


def test_default_backtest_of_the_sample_matches_the_golden_master(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SLT_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    series = {}
    for path in sample_files():
        parsed = parse_file(path).series
        series[parsed.symbol] = parsed
    result = run_backtest(
        series, EmaAtrBaseline(settings.baseline), settings, bundled_rules(), run_id="golden"
    )

    got = (result.trade_list_hash(), len(result.trades), result.final_balance)
    want = (GOLDEN_TRADE_LIST_HASH, GOLDEN_TRADE_COUNT, GOLDEN_FINAL_BALANCE)
    assert got == want, (
        "trading behaviour changed. If intended, update the golden values in their own commit "
        "saying why:\n"
        f'GOLDEN_TRADE_LIST_HASH = "{got[0]}"\n'
        f"GOLDEN_TRADE_COUNT = {got[1]}\n"
        f'GOLDEN_FINAL_BALANCE = Decimal("{got[2]}")'
    )
    assert str(result.final_balance) == str(GOLDEN_FINAL_BALANCE)
