"""No lookahead, feature by feature: row t computed on the candles up to t only equals row t
of the computation over the whole series (NaN == NaN), for many t on real data, including
the warm-up edges; and the primitives' events never move when the future is cut off."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain.candle import CandleSeries
from slt.features import DEFAULT_PARAMS, FEATURE_NAMES, compute_features
from slt.features.primitives import (
    atr,
    fair_value_gaps,
    liquidity,
    order_blocks,
    structure,
    swings,
)

Bits = Callable[[np.ndarray, np.ndarray], np.ndarray]
RandomWalk = Callable[..., CandleSeries]

EDGES = (0, 1, 2, 9, 10, 11, 12, 13, 14, 15, 16, 58, 59, 60, 2998, 2999, 3000)
"""Warm-up edges: pivots (10), ATR (13), ret_k (15), vol_z (59), mtf_trend (2999)."""


def _cut_points(n: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    spread = rng.choice(np.arange(3001, n), size=30 - len(EDGES), replace=False)
    return sorted({*EDGES, *spread.tolist(), n - 1})


@pytest.fixture(scope="module")
def truncations(
    sample: dict[str, CandleSeries],
) -> dict[str, tuple[np.ndarray, dict[int, np.ndarray]]]:
    """Per sample symbol: the full matrix and, per cut point t, the matrix of rows 0..t."""
    out = {}
    for k, (symbol, s) in enumerate(sample.items()):
        full = compute_features(s)
        cuts = {t: compute_features(s.slice(0, t + 1)) for t in _cut_points(len(s), k)}
        out[symbol] = (full, cuts)
    return out


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_feature_at_t_ignores_every_later_candle(
    name: str,
    truncations: dict[str, tuple[np.ndarray, dict[int, np.ndarray]]],
    bits_equal: Bits,
) -> None:
    j = FEATURE_NAMES.index(name)
    known = 0
    for symbol, (full, cuts) in truncations.items():
        assert len(cuts) >= 30
        for t, cut in cuts.items():
            assert cut.shape == (t + 1, len(FEATURE_NAMES))
            assert bits_equal(cut[t, j], full[t, j]), f"{symbol} t={t}: {cut[t, j]} vs {full[t, j]}"
            same = bits_equal(cut[:, j], full[: t + 1, j])
            assert same.all(), f"{symbol} cut at {t}: rows {np.flatnonzero(~same)[:5]} differ"
            known += int(not np.isnan(full[t, j]))
    assert known >= 60, f"{name}: too few known values at the cut points to mean anything"


@pytest.mark.integration
def test_no_lookahead_on_shared_real_data(
    shared_1m: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    for k, (name, s) in enumerate(shared_1m.items()):
        full = compute_features(s)
        rng = np.random.default_rng(100 + k)
        for t in rng.choice(np.arange(3000, len(s)), size=6, replace=False):
            cut = compute_features(s.slice(0, int(t) + 1))
            assert bits_equal(cut, full[: t + 1]).all(), f"{name} cut at {t}"


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 1200), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_changing_the_future_changes_no_earlier_row(
    random_walk: RandomWalk, bits_equal: Bits, n: int, seed: int, data: st.DataObject
) -> None:
    s = random_walk(n, seed, gap_rate=0.02)
    t = data.draw(st.integers(0, n - 2))
    other = random_walk(n, seed + 1)
    scale = s.close[t] / other.close[t]
    cols = {}
    for field in ("open", "high", "low", "close", "volume"):
        a = getattr(s, field).copy()
        b = getattr(other, field)
        a[t + 1 :] = b[t + 1 :] * (scale if field != "volume" else 1.0)
        cols[field] = a
    future = CandleSeries(s.symbol, "1m", s.open_time, **cols)
    p = DEFAULT_PARAMS
    assert bits_equal(compute_features(future, p)[: t + 1], compute_features(s, p)[: t + 1]).all()


def test_primitive_events_are_stamped_when_known(sample: dict[str, CandleSeries]) -> None:
    """Cutting the data after t leaves every event at bars <= t unchanged."""
    s = sample["DOGEUSDT"]
    h, lo, c = s.high, s.low, s.close

    def events(k: int) -> dict[str, np.ndarray]:
        hh, ll, cc = h[:k], lo[:k], c[:k]
        a = atr(hh, ll, cc)
        piv = swings(hh, ll, 5, 5)
        struct = structure(hh, ll, cc, 5, 5, piv)
        gaps = fair_value_gaps(hh, ll, a)
        blocks = order_blocks(hh, ll, cc, struct)
        liq = liquidity(hh, ll, cc, piv)
        return {
            "high_pivot": piv.high_pivot,
            "low_pivot": piv.low_pivot,
            "event": struct.event,
            "broken_pivot": struct.broken_pivot,
            "gap_created": gaps.created,
            "gap_top": gaps.top,
            "block_created": blocks.created,
            "block_candle": blocks.candle,
            "sweep": liq.sweep,
        }

    full = events(len(s))
    for t in (11, 500, 4321, 10_000, 15_555):
        cut = events(t + 1)
        for key, arr in cut.items():
            ref = full[key]
            if key.startswith(("gap_", "block_")):  # objects: those created up to t
                created = full["gap_created" if key.startswith("gap") else "block_created"]
                ref = ref[created <= t]
            else:
                ref = ref[: t + 1]
            np.testing.assert_array_equal(arr, ref, err_msg=f"{key} cut at {t}")
