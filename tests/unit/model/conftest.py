"""Shared fixtures for the model layer: the bundled real candles, exchange rules, and a
hand-made candle builder for label examples."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import sample_files
from slt.domain import CandleSeries
from slt.rules import ExchangeRules, bundled_rules

# As in the training child (slt.model.worker): OpenMP threads sleep at barriers instead of
# spinning, so multi-threaded fits stay fast on a machine busy with other work.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MINUTE = 60_000


def make_series(
    bars: Sequence[tuple[float, float, float, float]],
    *,
    symbol: str = "TESTUSDT",
    start_ms: int = T0,
    times: Sequence[int] | None = None,
) -> CandleSeries:
    """A 1m series from (open, high, low, close) rows, one minute apart unless `times`."""
    a = np.asarray(bars, dtype=np.float64).reshape(-1, 4)
    ot = (
        np.asarray(times, dtype=np.int64)
        if times is not None
        else start_ms + MINUTE * np.arange(a.shape[0], dtype=np.int64)
    )
    return CandleSeries(
        symbol,
        "1m",
        ot,
        a[:, 0].copy(),
        a[:, 1].copy(),
        a[:, 2].copy(),
        a[:, 3].copy(),
        np.ones(a.shape[0]),
    )


@pytest.fixture(scope="session")
def sample() -> dict[str, CandleSeries]:
    """The bundled sample (4 symbols of real 1m candles), keyed by symbol."""
    out: dict[str, CandleSeries] = {}
    for path in sample_files():
        series = parse_file(path).series
        out[series.symbol] = series
    return out


@pytest.fixture(scope="session")
def rules() -> ExchangeRules:
    return bundled_rules()


@pytest.fixture
def child_jobs(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The `child_jobs` module, importable by name in a spawned child (sys.path is inherited)."""
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("child_jobs")


@pytest.fixture
def standin(child_jobs):  # type: ignore[no-untyped-def]
    """A FeatureSpec over the stand-in features of `child_jobs` (12 causal price columns),
    usable in a spawned training child."""
    from slt.model.features import FeatureSpec

    return FeatureSpec(
        names=child_jobs.STANDIN_NAMES,
        schema_version=0,
        schema_hash="standin-" + "0" * 56,
        compute=child_jobs.standin_features,
    )


@pytest.fixture
def peeking(child_jobs):  # type: ignore[no-untyped-def]
    """Like `standin`, but one column peeks at the future (see `child_jobs.peeking_features`)."""
    from slt.model.features import FeatureSpec

    return FeatureSpec(
        names=child_jobs.STANDIN_NAMES,
        schema_version=0,
        schema_hash="peeking-" + "0" * 56,
        compute=child_jobs.peeking_features,
    )


def random_walk(symbol: str, n: int, seed: int, *, start_ms: int = T0) -> CandleSeries:
    """A 1m random walk with realistic wicks and volume: nothing in it is predictable."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0012, n)))
    opens = np.r_[100.0, close[:-1]]
    wick = np.abs(rng.normal(0, 0.0006, (2, n)))
    return CandleSeries(
        symbol,
        "1m",
        start_ms + MINUTE * np.arange(n, dtype=np.int64),
        opens,
        np.maximum(opens, close) * (1 + wick[0]),
        np.minimum(opens, close) * (1 - wick[1]),
        close,
        rng.lognormal(3, 1, n),
    )
