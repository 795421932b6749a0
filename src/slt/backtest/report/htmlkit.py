"""Small HTML and plotting helpers shared by the report modules (escaping, thinning, axes)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import plotly.graph_objects as go

from slt.domain.candle import F64, I64

# Browsers stay responsive up to a few tens of thousands of points per trace; beyond that the
# curve is thinned for display only (the metrics always use every sample).
MAX_PLOT_POINTS = 20_000
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def esc(text: object) -> str:
    """Run-provided text made safe for the page (quotes included, for attributes)."""
    return html.escape(str(text), quote=True)


def cls(name: str) -> str:
    return f' class="{name}"' if name else ""


def minmax_indices(values: F64, max_points: int = MAX_PLOT_POINTS) -> I64:
    """Indices that keep each bucket's lowest and highest value, plus both ends.

    Plain striding would skip the bottom of a sharp dip and draw a shallower drawdown than the
    one reported; keeping the extremes of every bucket preserves the shape that matters.
    At most `max_points` indices are returned, ascending.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = max(1, (max_points - 2) // 2)
    starts = np.linspace(0, n, buckets + 1).astype(np.int64)[:-1]
    bucket_of = np.repeat(np.arange(buckets), np.diff(np.append(starts, n)))
    picks = [np.array([0, n - 1], dtype=np.int64)]
    for extreme in (np.minimum, np.maximum):
        per_bucket = extreme.reduceat(values, starts)
        hits = np.flatnonzero(values == per_bucket[bucket_of])
        first = np.r_[True, bucket_of[hits][1:] != bucket_of[hits][:-1]]
        picks.append(hits[first].astype(np.int64))
    return np.unique(np.concatenate(picks))


def downsample_minmax(
    time_ms: I64, values: F64, max_points: int = MAX_PLOT_POINTS
) -> tuple[I64, F64]:
    """`(time_ms, values)` thinned with `minmax_indices` for plotting."""
    idx = minmax_indices(values, max_points)
    return time_ms[idx], values[idx]


def utc_axis(time_ms: I64) -> Any:
    """Naive datetime64 values, which plotly draws as the UTC wall-clock times they are."""
    return np.asarray(time_ms, dtype=np.int64).astype("datetime64[ms]")


def figure_html(fig: go.Figure, div_id: str, *, include_plotlyjs: bool = False) -> str:
    """A figure as a `<div>`; the library is inlined by the first chart of a page only."""
    return str(
        fig.to_html(
            full_html=False, include_plotlyjs=include_plotlyjs, div_id=div_id, config=PLOT_CONFIG
        )
    )
