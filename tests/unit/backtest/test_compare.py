"""The strategy against its baselines: the verdict rule, the runs behind it and both reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from rich.console import Console

from slt.backtest.benchmarks import buy_and_hold
from slt.backtest.compare import (
    BASELINE,
    BUY_AND_HOLD,
    RANDOM,
    Comparison,
    baseline_strategy,
    fee_share,
    judge,
    run_comparison,
)
from slt.backtest.metrics import Metrics, compute_metrics
from slt.backtest.report.comparison import comparison_rows
from slt.backtest.report_html import render_html
from slt.backtest.report_terminal import render_comparison, render_summary
from slt.backtest.result import BacktestResult
from slt.config import load_settings
from slt.domain import CandleSeries, ModelEvent
from slt.rules import ExchangeRules
from slt.strategy.random_entries import matching_rate

from .conftest import T0, Build

NAMES = (BUY_AND_HOLD, RANDOM, BASELINE)


def _m(total_return: float | None, sharpe: float | None) -> Metrics:
    base = compute_metrics(Build.result())
    return dataclasses.replace(base, total_return=total_return, sharpe=sharpe, trades=10)


def _against(*figures: tuple[float | None, float | None]) -> list[tuple[str, Metrics]]:
    return [(name, _m(r, s)) for name, (r, s) in zip(NAMES, figures, strict=True)]


def test_beating_all_three_says_so() -> None:
    v = judge(_m(0.05, 1.5), _against((0.01, 0.2), (-0.02, -0.5), (0.04, 1.4)))
    assert v.beats_all and all(x.beaten for x in v.versus)
    assert v.text.startswith("The strategy beat all three baselines on return and Sharpe")
    assert "buy-and-hold (return +5.00% vs +1.00%, Sharpe 1.50 vs 0.20)" in v.text
    assert "NOT" not in v.text


def test_beating_none_says_not_plainly() -> None:
    v = judge(_m(-0.032, -1.2), _against((0.011, 0.8), (-0.01, -0.3), (0.0, 0.1)))
    assert not v.beats_all and not any(x.beaten for x in v.versus)
    assert v.text.startswith("The strategy did NOT beat any of the three baselines.")
    assert (
        "It did NOT beat buy-and-hold on return and Sharpe "
        "(return -3.20% vs +1.10%, Sharpe -1.20 vs 0.80)." in v.text
    )


def test_mixed_result_names_what_was_and_was_not_beaten() -> None:
    """Higher return but lower Sharpe is not a win: more return bought with more risk."""
    v = judge(_m(0.03, 0.9), _against((0.01, 1.2), (0.02, 0.5), (0.04, 0.1)))
    assert [x.beaten for x in v.versus] == [False, True, False]
    assert [x.beat_return for x in v.versus] == [True, True, False]
    assert [x.beat_sharpe for x in v.versus] == [False, True, True]
    assert v.text.startswith("The strategy beat only one of the three baselines.")
    assert "did NOT beat buy-and-hold on Sharpe (" in v.text
    assert "It beat random entries on return and Sharpe" in v.text
    assert "did NOT beat EMA/ATR baseline on return (" in v.text


def test_undefined_sharpe_is_never_a_win() -> None:
    v = judge(_m(0.02, None), _against((0.01, 0.5), (0.0, None), (None, 0.2)))
    assert [x.beat_sharpe for x in v.versus] == [None, None, None]
    assert [x.beat_return for x in v.versus] == [True, True, False]
    assert not any(x.beaten for x in v.versus)
    assert "Sharpe (undefined, not comparable)" in v.text and "n/a" in v.text
    tie = judge(_m(0.02, 0.5), _against((0.02, 0.5), (0.02, 0.4), (0.01, 0.5)))
    assert not any(x.beaten for x in tie.versus), "a tie is not a win"


def test_fee_share_is_fees_over_gross_pnl(build: type[Build]) -> None:
    trades = [build.trade(net="8", fees="2"), build.trade(net="-1", fees="1")]  # gross 10 + 0
    assert fee_share(build.result(trades=trades, fees="3")) == pytest.approx(0.3)
    losing = [build.trade(net="-5", fees="2")]  # gross -3: no profit to take a share of
    assert fee_share(build.result(trades=losing, fees="2")) is None
    assert fee_share(build.result()) is None


@pytest.fixture(scope="module")
def compared(
    sample: dict[str, CandleSeries], rules: ExchangeRules
) -> tuple[Comparison, list[tuple[int, int]]]:
    """The baseline tested against the baselines on the sample, with its progress calls."""
    settings = load_settings()
    calls: list[tuple[int, int]] = []
    c = run_comparison(
        sample,
        baseline_strategy(sample, settings),
        settings,
        rules,
        progress=lambda done, total: calls.append((done, total)),
        run_id="cmp",
    )
    return c, calls


@pytest.fixture(scope="module")
def comparison(compared: tuple[Comparison, list[tuple[int, int]]]) -> Comparison:
    return compared[0]


def test_the_baseline_compared_with_itself_trades_identically(comparison: Comparison) -> None:
    baseline = comparison.baselines[2]
    assert baseline.name == BASELINE
    assert baseline.result.trade_list_hash() == comparison.result.trade_list_hash()
    assert baseline.result.final_balance == comparison.result.final_balance
    assert [v.beaten for v in comparison.verdict.versus][2] is False  # equal is not better
    assert comparison.metrics.trades > 20


def test_every_run_covers_the_same_candles(
    comparison: Comparison, sample: dict[str, CandleSeries]
) -> None:
    settings = load_settings()
    assert [r.name for r in comparison.baselines] == list(NAMES)
    for row in comparison.rows():
        r = row.result
        assert (r.start_ms, r.end_ms) == (comparison.result.start_ms, comparison.result.end_ms)
        assert r.symbols == comparison.result.symbols
        assert r.initial_balance == comparison.result.initial_balance
    hold = buy_and_hold(sample, settings)
    assert comparison.baselines[0].result.final_balance == hold.final_balance
    strategy = baseline_strategy(sample, settings)
    rate = matching_rate({s: strategy.batch(sample[s]) for s in sample})
    assert comparison.random_rate == rate
    random = comparison.baselines[1]
    assert {t.source for t in random.result.trades} == {"random"}
    assert 0.5 * comparison.metrics.trades < random.metrics.trades < 2 * comparison.metrics.trades


def test_progress_runs_once_across_the_three_engine_runs(
    compared: tuple[Comparison, list[tuple[int, int]]],
) -> None:
    calls: Sequence[tuple[int, int]] = compared[1]
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert len({t for _, t in calls}) == 1
    assert calls[-1][0] == calls[-1][1]
    assert any(d < calls[-1][1] / 3 for d in done) and any(d > 2 * calls[-1][1] / 3 for d in done)


def test_html_report_shows_the_table_verdict_and_overlay(comparison: Comparison) -> None:
    page = render_html(comparison.result, comparison.metrics, comparison)
    assert "Against the baselines" in page
    assert comparison.verdict.text in page
    for name in ("strategy: baseline-ema-atr", *NAMES):
        assert name in page, name
    assert 'id="comparison-chart"' in page
    assert page.count("Plotly.newPlot") == 4
    plain = render_html(comparison.result, comparison.metrics)
    assert "Against the baselines" not in plain and "Plotly.newPlot" in plain
    # The library is inlined exactly once either way (~4.5 MB).
    assert len(page) - len(plain) < 1_000_000


def test_terminal_report_shows_the_table_and_verdict(comparison: Comparison) -> None:
    console = Console(record=True, width=220, color_system=None)
    render_summary(comparison.result, comparison.metrics, console, comparison)
    text = console.export_text()
    assert "Against the baselines" in text
    for name in ("strategy: baseline-ema-atr", *NAMES):
        assert name in text, name
    assert " ".join(comparison.verdict.text.split()) in " ".join(text.split())
    assert "Model retrains" not in text


@pytest.mark.parametrize("width", [50, 80, 120, 220])
def test_no_layout_cuts_a_figure(comparison: Comparison, width: int) -> None:
    """Wide: runs as rows; narrower: transposed; narrowest: one table per run."""
    console = Console(record=True, width=width, color_system=None)
    render_comparison(comparison, console)
    text = console.export_text()
    assert "…" not in text
    for row in comparison_rows(comparison):
        for cell in row[1:]:
            assert cell.text in text, (width, cell.text)


def _with_events(result: BacktestResult) -> BacktestResult:
    events = (
        ModelEvent(T0, 40, "trades", "m-0002", "m-0001", True, {"ic": 0.0123, "sharpe": 1.5}),
        ModelEvent(T0 + 3_600_000, 80, "drift", "m-0003", "m-0002", False, {}, "<worse>"),
    )
    return dataclasses.replace(result, model_events=events)


def test_model_retrains_are_listed_when_there_are_any(scenario: BacktestResult) -> None:
    result = _with_events(scenario)
    console = Console(record=True, width=220, color_system=None)
    render_summary(result, compute_metrics(result), console)
    text = console.export_text()
    assert "Model retrains" in text
    for part in ("2024-01-01 00:00", "m-0002", "m-0001", "ic=0.0123", "sharpe=1.5", "<worse>"):
        assert part in text, part
    assert "challenger m-0002 promoted" in text and "m-0003 not promoted" in text
    assert "Model retrains: 2, 1 promoted" in text and "drift" in text
    page = render_html(result, compute_metrics(result))
    assert "Model retrains" in page and "2 retrain(s), 1 promoted." in page
    assert "&lt;worse&gt;" in page and "<worse>" not in page
    assert "Model retrains" not in render_html(scenario, compute_metrics(scenario))


def test_a_strategy_that_never_traded_is_told_so_before_any_comparison() -> None:
    idle = dataclasses.replace(_m(0.0, None), trades=0)
    v = judge(idle, _against((-0.03, -2.0), (0.0, None), (-0.1, -11.0)))
    assert v.text.startswith("The strategy made no trades in this period")
    assert "It did NOT beat buy-and-hold" in v.text
    busy = judge(dataclasses.replace(idle, trades=3), _against((0.01, 0.5), (0, 0), (0, 0)))
    assert "made no trades" not in busy.text
