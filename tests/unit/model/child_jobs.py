"""Jobs for the training child process in tests.

A spawned child imports a job by module and name, so these live in a plain module that the
`child_jobs` fixture puts on `sys.path` (test modules themselves are not importable by name).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable

import numpy as np

from slt.domain import CandleSeries
from slt.domain.candle import F64

Report = Callable[[str, int, int], None]

STANDIN_NAMES = tuple(f"f{i}" for i in range(12))


def echo(arg: object, report: Report) -> object:
    report("echo", 1, 1)
    return arg


def address_space_limit(arg: object, report: Report) -> int:
    return resource.getrlimit(resource.RLIMIT_AS)[0]


def hog(nbytes: int, report: Report) -> int:
    """Allocate and touch `nbytes`: under the cap this raises MemoryError in the child."""
    block = np.ones(nbytes // 8, dtype=np.float64)
    return int(block.size)


def die(sig: int, report: Report) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(30)


def fail(message: str, report: Report) -> None:
    raise ValueError(message)


def sleep(seconds: float, report: Report) -> None:
    time.sleep(seconds)


def standin_features(series: CandleSeries) -> F64:
    """Twelve causal price features (returns, ranges, a noisy copy), NaN in a short warm-up.

    Stands in for `slt.features.compute_features` with the same contract (n, 12) float64.
    """
    close = series.close
    n = len(series)
    logc = np.log(close)
    out = np.full((n, 12), np.nan)
    for j, lag in enumerate((1, 2, 3, 5, 8, 13, 21, 34)):
        out[lag:, j] = logc[lag:] - logc[:-lag]
    out[:, 8] = (series.high - series.low) / close
    out[:, 9] = (close - series.open) / close
    out[:, 10] = np.log1p(series.volume)
    out[:, 11] = (series.open_time // 3_600_000) % 24
    return out


def peeking_features(series: CandleSeries) -> F64:
    """The stand-in features with a deliberate leak in the last column: the return from the
    next open to the close 5 bars later. A positive control: a pipeline that cannot find
    this is broken, and metrics that do not light up on it measure nothing."""
    out = standin_features(series)
    o, c = series.open, series.close
    leak = np.full(len(series), np.nan)
    leak[:-6] = c[6:] / o[1:-5] - 1.0
    out[:, 11] = leak
    return out
