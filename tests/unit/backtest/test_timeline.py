"""The time grid's arithmetic fast path must answer exactly what the searches would."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from slt.backtest.timeline import Timeline
from slt.domain import CandleSeries
from slt.domain.candle import MINUTE_MS
from slt.strategy.base import SignalColumns

T0 = 1_700_000_040_000


def _series(symbol: str, open_time: np.ndarray) -> CandleSeries:
    n = open_time.size
    price = np.full(n, 100.0)
    return CandleSeries(symbol, "1m", open_time, price, price, price, price, np.ones(n))


def _signals(n: int) -> SignalColumns:
    z = np.zeros(n)
    return SignalColumns(np.zeros(n, dtype=np.int64), z, z, z)


def _timeline(times_by_symbol: dict[str, np.ndarray]) -> Timeline:
    series = {s: _series(s, t) for s, t in times_by_symbol.items()}
    return Timeline.build(series, {s: _signals(t.size) for s, t in times_by_symbol.items()})


def test_a_full_shared_grid_is_regular_and_a_gap_is_not() -> None:
    full = T0 + MINUTE_MS * np.arange(100, dtype=np.int64)
    assert _timeline({"AUSDT": full, "BUSDT": full}).regular
    gapped = np.delete(full, 40)
    assert not _timeline({"AUSDT": gapped, "BUSDT": gapped}).regular
    assert not _timeline({"AUSDT": full, "BUSDT": gapped}).regular


@given(
    n=st.integers(1, 300),
    probes=st.lists(st.integers(-5 * MINUTE_MS, 310 * MINUTE_MS), min_size=1, max_size=30),
    steps=st.lists(st.integers(0, 310), min_size=1, max_size=30),
)
def test_regular_lookups_equal_the_searches(n: int, probes: list[int], steps: list[int]) -> None:
    tl = _timeline({"AUSDT": T0 + MINUTE_MS * np.arange(n, dtype=np.int64)})
    assert tl.regular
    searched = replace(tl, regular=False)
    for offset in probes:
        t = T0 + offset
        assert tl.step_at_or_after(t) == searched.step_at_or_after(t)
    for g in steps:
        assert tl.next_segment_end("AUSDT", g) == searched.next_segment_end("AUSDT", g)
        if g < n:
            assert tl.next_close_day_step(g) == searched.next_close_day_step(g)
