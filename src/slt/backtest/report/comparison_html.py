"""HTML sections for the baselines comparison and the model retrain log.

The overlay chart puts the four equity curves on one scale, equity over the initial balance
(1.0 = break-even), since a table of end figures hides when and how each run got there.
Curves are drawn as steps ("hv"): equity is constant between two samples of a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

from slt.backtest.compare import Comparison
from slt.backtest.report.comparison import (
    COMPARISON_COLUMNS,
    COMPARISON_TITLE,
    MODEL_EVENT_COLUMNS,
    MODEL_EVENTS_TITLE,
    Cell,
    comparison_rows,
    model_event_rows,
    random_note,
    strategy_label,
    verdict_tone,
)
from slt.backtest.report.format import Tone
from slt.backtest.report.htmlkit import (
    MAX_PLOT_POINTS,
    cls,
    downsample_minmax,
    esc,
    figure_html,
    utc_axis,
)
from slt.domain.model import ModelEvent

_COLORS = ("#2c7fb8", "#9e9e9e", "#fdae61", "#1a9850", "#756bb1")
_TONE_CLASS = {Tone.GOOD: "pos", Tone.BAD: "neg", Tone.NEUTRAL: ""}


def comparison_section(c: Comparison, *, include_plotlyjs: bool = False) -> str:
    """Table, verdict and overlaid equity curves of the strategy and its baselines."""
    table = _table(COMPARISON_COLUMNS, comparison_rows(c), "comparison")
    verdict = (
        f'<p class="verdict {_TONE_CLASS[verdict_tone(c)]}" id="verdict">'
        f"<strong>{esc(c.verdict.text)}</strong></p>"
    )
    chart = figure_html(comparison_figure(c), "comparison-chart", include_plotlyjs=include_plotlyjs)
    return (
        f"<section><h2>{esc(COMPARISON_TITLE)}</h2>{verdict}{table}"
        f'<p class="muted">{esc(random_note(c))}</p>{chart}</section>'
    )


def comparison_figure(c: Comparison) -> go.Figure:
    """Each run's equity divided by its initial balance on one shared UTC time axis."""
    fig = go.Figure()
    budget = max(2, MAX_PLOT_POINTS // max(1, len(c.rows())))
    for i, row in enumerate(c.rows()):
        r = row.result
        start = float(r.initial_balance)
        norm = np.asarray(r.equity, dtype=np.float64) / (start if start > 0 else 1.0)
        t, v = downsample_minmax(r.equity_time_ms, norm, budget)
        label = strategy_label(row.name) if i == 0 else row.name
        fig.add_trace(
            go.Scatter(
                x=utc_axis(t),
                y=v,
                name=esc(label),
                line={
                    "color": _COLORS[i % len(_COLORS)],
                    "width": 2.0 if i == 0 else 1.2,
                    "shape": "hv",
                },
            )
        )
    fig.add_hline(y=1.0, line={"color": "#bbbbbb", "width": 1, "dash": "dot"})
    fig.update_layout(
        height=420,
        margin={"t": 20, "b": 40},
        hovermode="x unified",
        yaxis_title="equity / initial balance",
        xaxis_title="time (UTC)",
    )
    return fig


def model_events_section(events: Sequence[ModelEvent]) -> str:
    """The retrain log of a self-learning run; empty when the strategy never retrained."""
    if not events:
        return ""
    promoted = sum(1 for e in events if e.promoted)
    table = _table(MODEL_EVENT_COLUMNS, model_event_rows(events), "model-events")
    return (
        f"<section><h2>{esc(MODEL_EVENTS_TITLE)}</h2>"
        f'<p class="muted">{len(events)} retrain(s), {promoted} promoted.</p>'
        f'<div class="scroll">{table}</div></section>'
    )


def _table(columns: Iterable[str], rows: Iterable[Sequence[Cell]], css: str) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td{cls(_cell_class(cell))}>{esc(cell.text)}</td>" for cell in row)
        + "</tr>"
        for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell_class(cell: Cell) -> str:
    tone = _TONE_CLASS[cell.tone]
    return tone or ("num" if cell.numeric else "")
