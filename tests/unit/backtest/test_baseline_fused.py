"""The baseline's one-pass column kernel equals the indicator-by-indicator computation.

`EmaAtrBaseline.batch` computes every column in one compiled loop; `batch_by_steps` is the same
computation as the composition of `ema`, `wilder_atr`, `regime_changes` and numpy arithmetic.
Both must agree bit for bit (NaN payloads included) on any series and any configuration,
including flat candles whose ATR is zero (a division by zero that must give what numpy gives).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import BaselineConfig
from slt.domain import CandleSeries
from slt.strategy.baseline import EmaAtrBaseline


def _series(closes: list[float], spreads: list[float]) -> CandleSeries:
    close = np.asarray(closes, dtype=np.float64)
    spread = np.asarray(spreads[: close.size], dtype=np.float64)
    n = close.size
    return CandleSeries(
        "TESTUSDT",
        "1m",
        np.arange(n, dtype=np.int64) * 60_000,
        close.copy(),
        close + spread,
        close - spread / 2,
        close,
        np.ones(n),
    )


def _assert_same_bits(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), what


prices = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
# Zero half-ranges (flat candles) are frequent, so ATR = 0 and 0/0 get exercised.
half_ranges = st.one_of(
    st.just(0.0), st.floats(min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False)
)


@settings(max_examples=150, deadline=None)
@given(
    closes=st.lists(prices, min_size=1, max_size=120),
    spreads=st.lists(half_ranges, min_size=120, max_size=120),
    fast=st.integers(min_value=2, max_value=20),
    extra=st.integers(min_value=1, max_value=30),
    atr_period=st.integers(min_value=2, max_value=20),
    band=st.floats(min_value=0.0, max_value=3.0),
    min_atr=st.floats(min_value=0.0, max_value=0.01),
    max_atr=st.floats(min_value=0.01, max_value=1.0),
    horizon=st.integers(min_value=1, max_value=500),
)
def test_fused_columns_equal_the_step_by_step_columns(
    closes: list[float],
    spreads: list[float],
    fast: int,
    extra: int,
    atr_period: int,
    band: float,
    min_atr: float,
    max_atr: float,
    horizon: int,
) -> None:
    cfg = BaselineConfig(
        fast=fast,
        slow=fast + extra,
        atr_period=atr_period,
        band_atr=band,
        min_atr_pct=min_atr,
        max_atr_pct=max_atr,
    )
    strategy = EmaAtrBaseline(cfg, horizon_bars=horizon)
    series = _series(closes, spreads)
    fused = strategy.batch(series)
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = strategy.batch_by_steps(series)
    for field in ("direction", "expected_return", "confidence", "atr_pct"):
        _assert_same_bits(getattr(fused, field), getattr(plain, field), field)


def test_fused_columns_equal_on_the_bundled_sample(sample: dict[str, CandleSeries]) -> None:
    """Real candles, the default configuration and a signal-rich one."""
    configs = [
        BaselineConfig(),
        BaselineConfig(fast=9, slow=21, atr_period=7, band_atr=0.2, min_atr_pct=0.0),
    ]
    for cfg in configs:
        strategy = EmaAtrBaseline(cfg)
        for series in sample.values():
            fused, plain = strategy.batch(series), strategy.batch_by_steps(series)
            assert np.count_nonzero(fused.direction) > 0
            for field in ("direction", "expected_return", "confidence", "atr_pct"):
                _assert_same_bits(getattr(fused, field), getattr(plain, field), field)
