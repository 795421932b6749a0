"""The terminal summary and the HTML report: what a trader needs is there, and safe to open."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rich.console import Console

from slt.backtest.metrics import compute_metrics
from slt.backtest.report_html import MAX_PLOT_POINTS, downsample_minmax, write_html_report
from slt.backtest.report_terminal import render_summary
from slt.backtest.result import BacktestResult
from slt.domain.candle import HOUR_MS, MINUTE_MS

from .conftest import T0, Build


def _summary(result: BacktestResult, width: int = 200) -> str:
    console = Console(record=True, width=width, color_system=None)
    render_summary(result, compute_metrics(result), console)
    return console.export_text()


def test_terminal_summary_shows_the_key_figures(scenario: BacktestResult) -> None:
    text = _summary(scenario)
    for label in (
        "Total return",
        "CAGR",
        "Sharpe",
        "Sortino",
        "Max drawdown",
        "Win rate",
        "Profit factor",
        "Expectancy",
        "Avg holding time",
        "Exposure",
        "Fees paid",
        "Funding paid",
        "Exits by reason",
        "Rejected orders",
    ):
        assert label in text, label
    assert "+15.50%" in text  # total return, formatted only at the edge
    assert "14.09%" in text  # max drawdown 1 - 945/1100
    assert "4.10" in text  # profit factor
    assert "partial_take_profit" in text and "min_notional" in text
    assert "scenario-<1>&" in text


def test_terminal_summary_says_na_for_undefined_figures(build: type[Build]) -> None:
    text = _summary(build.result())
    assert "n/a" in text
    assert "nan" not in text.lower().replace("n/a", "")
    assert "no exits" in text and "none" in text


def test_terminal_summary_fits_a_narrow_console(scenario: BacktestResult) -> None:
    assert "Profit factor" in _summary(scenario, width=60)


def test_infinite_profit_factor_is_reported_as_such(build: type[Build]) -> None:
    assert "∞" in _summary(build.result(trades=[build.trade(net="3")]))


def test_html_report_is_self_contained(scenario: BacktestResult, tmp_path: Path) -> None:
    out = write_html_report(scenario, compute_metrics(scenario), tmp_path / "sub" / "r.html")
    assert out.is_file()
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.IGNORECASE)
    assert "Plotly.newPlot" in page
    assert len(page) > 1_000_000  # the library itself is inline
    assert page.count("Plotly.newPlot") >= 3


def test_html_report_lists_every_trade(scenario: BacktestResult, tmp_path: Path) -> None:
    page = write_html_report(scenario, compute_metrics(scenario), tmp_path / "r.html").read_text(
        encoding="utf-8"
    )
    trade_table = page[page.index('<table class="trades">') :]
    rows = trade_table.count("<tr>") - 1  # header
    assert rows == len(scenario.trades)
    for trade in scenario.trades:
        assert trade.symbol in trade_table
        assert trade.exit_reason.value in trade_table
    assert "partial_take_profit → take_profit" in trade_table
    assert "2024-01-01 01:00" in trade_table  # entry time in UTC


def test_html_report_escapes_run_text(scenario: BacktestResult, tmp_path: Path) -> None:
    page = write_html_report(scenario, compute_metrics(scenario), tmp_path / "r.html").read_text(
        encoding="utf-8"
    )
    assert "scenario-&lt;1&gt;&amp;" in page
    assert "scenario-<1>" not in page
    assert "risk.max_positions" in page  # nested config flattened into the header
    assert "2024-01-01 → 2024-01-05" in page


def test_html_report_without_trades(build: type[Build], tmp_path: Path) -> None:
    result = build.result()
    page = write_html_report(result, compute_metrics(result), tmp_path / "r.html").read_text(
        encoding="utf-8"
    )
    assert "No trades." in page


def test_long_curve_is_thinned_for_plotting_only(build: type[Build], tmp_path: Path) -> None:
    n = 60_000
    t = T0 + np.arange(n, dtype=np.int64) * MINUTE_MS
    rng = np.random.default_rng(7)
    eq = 1000.0 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    eq[31_337] = eq.min() * 0.5  # a one-sample crash must survive thinning
    pt, pv = downsample_minmax(t, eq)
    assert len(pv) <= MAX_PLOT_POINTS
    assert pv.min() == eq.min() and pv.max() == eq.max()
    assert t[31_337] in pt
    result = build.result(times=t.tolist(), equity=eq.tolist(), in_market_ms=HOUR_MS)
    out = write_html_report(result, compute_metrics(result), tmp_path / "big.html")
    assert out.stat().st_size < 15_000_000


def test_terminal_summary_prints_run_text_verbatim(build: type[Build]) -> None:
    text = _summary(build.result(rejected={"[bold]odd[/bold]": 1}))
    assert "[bold]odd[/bold]" in text


def test_unrecovered_drawdown_says_so(build: type[Build]) -> None:
    text = _summary(
        build.result(times=[T0, T0 + HOUR_MS, T0 + 2 * HOUR_MS], equity=[1000.0, 1100.0, 900.0])
    )
    assert "not recovered" in text
