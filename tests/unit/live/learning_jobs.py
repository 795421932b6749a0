"""Jobs and feature functions for the live learner's training child in tests.

A spawned child imports them by module and name, so they live in a plain module that the
`jobs` fixture (tests/unit/live/conftest.py) puts on `sys.path` (test modules are not
importable by name).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from slt.domain import CandleSeries
from slt.domain.candle import F64
from slt.features import DEFAULT_PARAMS, compute_features

Report = Callable[[str, int, int], None]

LEAK_BARS = 30
GATE_ENV = "SLT_TEST_LEARNING_GATE"
"""A file path: `fail_when_released` waits until it exists (the child inherits the variable)."""


def fail_slowly(job: object, report: Report) -> None:
    """A job that takes a while, then fails as a real one can."""
    time.sleep(1.5)
    raise ValueError("the job broke on purpose")


def fail_at_once(job: object, report: Report) -> None:
    """A job that fails as soon as it starts."""
    raise ValueError("the job broke on purpose")


def fail_when_released(job: object, report: Report) -> None:
    """A job that runs until the test creates the file named by `GATE_ENV`, then fails: the
    test decides when it ends, with no timing involved (the 120 s bound only ends a lost test)."""
    gate = Path(os.environ[GATE_ENV])
    deadline = time.monotonic() + 120
    while not gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the job")
        time.sleep(0.005)
    raise ValueError("the job broke on purpose")


def peeking_features(series: CandleSeries) -> F64:
    """The real features with a deliberate leak in the first column: the return from the next
    open to the close `LEAK_BARS` later (the label's horizon). A challenger trained on it scores
    an IC no honest model reaches, which its checks must block."""
    out = compute_features(series, DEFAULT_PARAMS)
    o, c = series.open, series.close
    leak = np.full(len(series), np.nan)
    leak[: -LEAK_BARS - 1] = c[LEAK_BARS + 1 :] / o[1:-LEAK_BARS] - 1.0
    out[:, 0] = leak
    return out
