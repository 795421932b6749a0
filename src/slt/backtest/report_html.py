"""A single self-contained HTML report of a backtest that opens offline.

The plotly library is embedded once, inline, so the file can be mailed, archived with the run
or opened on a machine without internet. All text that comes from the run (run id, symbols,
config values, reasons) is escaped before it reaches the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from slt.backtest.compare import Comparison
from slt.backtest.metrics import Metrics, drawdown_series
from slt.backtest.report.comparison_html import comparison_section, model_events_section
from slt.backtest.report.format import (
    Section,
    Tone,
    fmt_date,
    fmt_decimal,
    fmt_duration,
    fmt_money,
    fmt_pct,
    fmt_period,
    fmt_side,
    fmt_time,
    metric_sections,
)
from slt.backtest.report.htmlkit import MAX_PLOT_POINTS as MAX_PLOT_POINTS
from slt.backtest.report.htmlkit import cls as _cls
from slt.backtest.report.htmlkit import downsample_minmax as downsample_minmax
from slt.backtest.report.htmlkit import esc as _e
from slt.backtest.report.htmlkit import figure_html
from slt.backtest.report.htmlkit import minmax_indices as minmax_indices
from slt.backtest.report.htmlkit import utc_axis as _utc
from slt.backtest.result import BacktestResult
from slt.domain.enums import ExitReason
from slt.domain.position import TradeRecord

_GREEN, _RED, _BLUE, _GREY = "#1a9850", "#d73027", "#2c7fb8", "#9e9e9e"


def write_html_report(
    result: BacktestResult,
    metrics: Metrics,
    path: Path | str,
    comparison: Comparison | None = None,
) -> Path:
    """Write the report to `path` (parents created) and return the path written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(result, metrics, comparison), encoding="utf-8")
    return target


def render_html(
    result: BacktestResult, metrics: Metrics, comparison: Comparison | None = None
) -> str:
    """The whole report as one HTML document; with `comparison`, the baselines section (table,
    verdict, overlaid equity curves) follows the metrics, where a reader looks first."""
    charts = [
        ("Equity and drawdown", equity_figure(result), "equity-chart"),
        ("Exits by reason", exits_figure(metrics), "exits-chart"),
        ("Net PnL per symbol", symbol_pnl_figure(metrics), "symbol-pnl-chart"),
    ]
    # The plotly library goes into the first chart of the page only; the others reuse it.
    versus = comparison_section(comparison, include_plotlyjs=True) if comparison else ""
    chart_html = [
        f"<section><h2>{_e(title)}</h2>"
        f"{figure_html(fig, div_id, include_plotlyjs=i == 0 and not versus)}</section>"
        for i, (title, fig, div_id) in enumerate(charts)
    ]
    title = f"Backtest {result.run_id}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
            _header_html(result),
            _metrics_html(metric_sections(result, metrics)),
            versus,
            *chart_html,
            model_events_section(result.model_events),
            _trades_html(result.trades),
            "</body></html>",
        ]
    )


def equity_figure(result: BacktestResult) -> go.Figure:
    """Equity on top and drawdown below on one shared UTC time axis."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04
    )
    t, eq = result.equity_time_ms, np.asarray(result.equity, dtype=np.float64)
    dd = drawdown_series(t, eq)
    et, ev = downsample_minmax(t, eq)
    dt, dv = downsample_minmax(t, 0.0 - dd)  # 0.0 - x avoids plotting "-0%" at the peaks
    fig.add_trace(
        go.Scatter(x=_utc(et), y=ev, name="equity (USDT)", line={"color": _BLUE, "width": 1.5}),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=_utc(dt),
            y=dv,
            name="drawdown",
            fill="tozeroy",
            line={"color": _RED, "width": 1},
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="equity (USDT)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".1%", row=2, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    fig.update_layout(height=560, margin={"t": 20, "b": 40}, hovermode="x unified")
    return fig


def exits_figure(metrics: Metrics) -> go.Figure:
    """Exit legs and final exits per reason, so partial take-profits are visible beside closes."""
    legs, final = metrics.exit_legs_by_reason, metrics.final_exits_by_reason
    reasons = [r for r in ExitReason if r in legs or r in final]
    labels = [_e(r.value) for r in reasons]
    fig = go.Figure(
        [
            go.Bar(x=labels, y=[legs.get(r, 0) for r in reasons], name="exit legs"),
            go.Bar(x=labels, y=[final.get(r, 0) for r in reasons], name="final exit of trade"),
        ]
    )
    fig.update_layout(barmode="group", height=360, margin={"t": 20}, yaxis_title="count")
    return fig


def symbol_pnl_figure(metrics: Metrics) -> go.Figure:
    pnl = metrics.pnl_by_symbol
    values = [float(v) for v in pnl.values()]
    fig = go.Figure(
        go.Bar(
            x=[_e(s) for s in pnl],
            y=values,
            marker_color=[_GREEN if v > 0 else _RED if v < 0 else _GREY for v in values],
            name="net PnL (USDT)",
        )
    )
    fig.update_layout(height=360, margin={"t": 20}, yaxis_title="net PnL (USDT)")
    return fig


def _header_html(result: BacktestResult) -> str:
    symbols = ", ".join(result.symbols) or "none"
    facts = [
        ("Run id", result.run_id),
        ("Symbols", f"{len(result.symbols)}: {symbols}"),
        ("Interval", result.interval),
        ("Period (UTC)", f"{fmt_date(result.start_ms)} → {fmt_date(result.end_ms)}"),
        ("Exact span", fmt_period(result)),
        ("Candles processed", f"{result.candles_processed:,}"),
        ("Run time", f"{result.elapsed_s:.1f} s"),
        ("Trade list hash", result.trade_list_hash()),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    config_rows = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in flatten_config(result.config)
    )
    config = (
        f"<details><summary>Configuration ({len(result.config)} top-level keys)</summary>"
        f'<table class="kv">{config_rows}</table></details>'
        if config_rows
        else "<p class=muted>No configuration recorded.</p>"
    )
    return (
        f"<header><h1>Backtest {_e(result.run_id)}</h1>"
        f'<table class="kv">{rows}</table>{config}</header>'
    )


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, str]]:
    """Nested settings as dotted keys with compact values, in a stable order."""
    for key in sorted(config, key=str):
        value = config[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten_config(value, f"{name}.")
        elif isinstance(value, str):
            yield name, value
        else:
            yield name, json.dumps(value, default=str, sort_keys=True)


def _metrics_html(sections: Iterable[Section]) -> str:
    tables = []
    for section in sections:
        rows = "".join(
            f'<tr><th>{_e(r.label)}</th><td class="{_tone_class(r.tone)}">{_e(r.value)}</td></tr>'
            for r in section.rows
        )
        tables.append(
            f'<table class="kv metrics"><caption>{_e(section.title)}</caption>{rows}</table>'
        )
    return f'<section><h2>Metrics</h2><div class="grid">{"".join(tables)}</div></section>'


def _tone_class(tone: Tone) -> str:
    return {Tone.GOOD: "pos", Tone.BAD: "neg", Tone.NEUTRAL: "num"}[tone]


_TRADE_COLUMNS = (
    "#",
    "entry (UTC)",
    "exit (UTC)",
    "symbol",
    "side",
    "qty",
    "entry price",
    "exit price",
    "lev",
    "net PnL (USDT)",
    "return",
    "exit reason",
    "exit legs",
    "holding",
    "signal source",
)


def _trades_html(trades: Iterable[TradeRecord]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in _TRADE_COLUMNS)
    body = "".join(_trade_row(i, t) for i, t in enumerate(trades, start=1))
    if not body:
        body = f'<tr><td colspan="{len(_TRADE_COLUMNS)}" class=muted>No trades.</td></tr>'
    return (
        '<section><h2>Trades</h2><div class="scroll"><table class="trades">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


def _trade_row(i: int, t: TradeRecord) -> str:
    tone = "pos" if t.net_pnl > 0 else "neg" if t.net_pnl < 0 else "num"
    legs = " → ".join(leg.reason.value for leg in t.exits)
    cells = [
        (str(i), "num"),
        (fmt_time(t.entry_time_ms), ""),
        (fmt_time(t.exit_time_ms), ""),
        (t.symbol, ""),
        (fmt_side(t.side), ""),
        (fmt_decimal(t.quantity), "num"),
        (fmt_decimal(t.entry_price), "num"),
        (fmt_decimal(t.exit_price), "num"),
        (f"{t.leverage}x", "num"),
        (fmt_money(t.net_pnl, signed=True, digits=4), tone),
        (fmt_pct(t.return_pct, digits=3), tone),
        (t.exit_reason.value, ""),
        (legs, "muted"),
        (fmt_duration(t.holding_ms), "num"),
        (t.source, "muted"),
    ]
    return "<tr>" + "".join(f"<td{_cls(c)}>{_e(v)}</td>" for v, c in cells) + "</tr>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:1.5em;margin:0 0 8px}h2{font-size:1.15em;margin:28px 0 8px}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
table.kv th{font-weight:600;color:#555}caption{text-align:left;font-weight:700;padding:4px 0}
.grid{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:#1a7f37;text-align:right}.neg{color:#c62828;text-align:right}.muted{color:#888}
.scroll{max-height:640px;overflow:auto}
table.trades thead th{position:sticky;top:0;background:#fafafa}
details{margin-top:8px}summary{cursor:pointer;color:#555}
table.comparison td,table.model-events td{padding:4px 10px}
table.comparison tbody tr:first-child{font-weight:600;background:#f3f8fc}
.verdict{font-size:15px;max-width:1100px;white-space:normal;text-align:left}
"""
