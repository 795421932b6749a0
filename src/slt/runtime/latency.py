"""Candle-to-order latency as the Brain measures it: the heartbeat's recent percentiles and
the whole-life record `bench/live_latency.py` reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

LATENCY_WINDOW = 1000
"""The heartbeat's latency percentiles cover the last this many orders."""


def latency_percentiles(latencies_ms: list[float]) -> tuple[float, float]:
    """Candle-received → order-sent p50 and p99 of the recent orders (0 before any)."""
    if not latencies_ms:
        return 0.0, 0.0
    p50, p99 = np.percentile(latencies_ms[-LATENCY_WINDOW:], [50, 99])
    return float(p50), float(p99)


def write_latencies(path: Path, latencies_ms: list[float]) -> None:
    """Every measured candle-to-order latency of this process's life (bench/live_latency.py
    reads them): appended, so a restarted Brain adds to its predecessor's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps([round(x, 4) for x in latencies_ms]) + "\n")
