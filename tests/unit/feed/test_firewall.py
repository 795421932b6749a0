"""The Feed's firewall accepts every well-formed, in-order candle, rejects each kind of bad one
with its own reason, reports gaps exactly, and a rejected candle never changes its state."""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain import Candle
from slt.feed import ACCEPTED, Firewall, Reason, Verdict

M = 60_000
T0 = 1_700_000_040_000  # aligned to the minute
SYMS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def bar(
    t: int = T0,
    o: float = 100.0,
    h: float = 101.0,
    lo: float = 99.0,
    c: float = 100.5,
    v: float = 10.0,
    symbol: str = "BTCUSDT",
    step: int = M,
) -> Candle:
    return Candle(symbol, t, t + step - 1, o, h, lo, c, v)


def with_(candle: Candle, **changes: Any) -> Candle:
    return msgspec.structs.replace(candle, **changes)


def fw(**kw: Any) -> Firewall:
    return Firewall(SYMS, **kw)


# ---- exact examples, one or more per reason --------------------------------------------------

PREV = bar()  # accepted first, close 100.5
NEXT = bar(T0 + M)

CASES: list[tuple[str, Candle, Reason]] = [
    ("float open_time", with_(NEXT, open_time=float(T0 + M)), Reason.SCHEMA),
    ("bool close_time", with_(NEXT, close_time=True), Reason.SCHEMA),
    ("string price", with_(NEXT, close="100.5"), Reason.SCHEMA),
    ("None volume", with_(NEXT, volume=None), Reason.SCHEMA),
    ("symbol not str", with_(NEXT, symbol=b"BTCUSDT"), Reason.SCHEMA),
    ("close_time off by one", with_(NEXT, close_time=T0 + 2 * M), Reason.SCHEMA),
    ("misaligned open", bar(T0 + M + 1), Reason.SCHEMA),
    ("wrong interval", bar(T0 + 5 * M, step=5 * M), Reason.SCHEMA),
    ("negative time", bar(-M), Reason.SCHEMA),
    ("unknown symbol", with_(NEXT, symbol="DOGEUSDT"), Reason.UNKNOWN_SYMBOL),
    ("lowercase symbol", with_(NEXT, symbol="btcusdt"), Reason.UNKNOWN_SYMBOL),
    ("NaN close", with_(NEXT, close=math.nan), Reason.PRICE),
    ("inf high", with_(NEXT, high=math.inf), Reason.PRICE),
    ("zero low", with_(NEXT, low=0.0), Reason.PRICE),
    ("negative open", with_(NEXT, open=-100.0), Reason.PRICE),
    ("high below close", with_(NEXT, high=100.4), Reason.OHLC),
    ("high below open", with_(NEXT, open=100.8, high=100.7), Reason.OHLC),
    ("low above open", with_(NEXT, low=100.1), Reason.OHLC),
    ("low above close", with_(NEXT, open=100.9, close=100.2, low=100.3), Reason.OHLC),
    ("high below low", with_(NEXT, high=98.0, low=102.0), Reason.OHLC),
    ("negative volume", with_(NEXT, volume=-1.0), Reason.VOLUME),
    ("NaN volume", with_(NEXT, volume=math.nan), Reason.VOLUME),
    ("inf volume", with_(NEXT, volume=math.inf), Reason.VOLUME),
    ("same open time", with_(PREV, close=100.7), Reason.DUPLICATE),
    ("older open time", bar(T0 - M), Reason.OUT_OF_ORDER),
    ("high up 25 %", with_(NEXT, high=100.5 * 1.25), Reason.JUMP),
    ("low down 25 %", with_(NEXT, low=100.5 * 0.75), Reason.JUMP),
    ("all up 30 %", bar(T0 + M, 130.0, 131.0, 129.5, 130.5), Reason.JUMP),
    ("all down 30 % after 5 min", bar(T0 + 5 * M, 70.0, 71.0, 69.5, 70.5), Reason.JUMP),
]


@pytest.mark.parametrize(("candle", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_reason(candle: Candle, reason: Reason) -> None:
    f = fw()
    assert f.check(PREV) is ACCEPTED
    before = f.last("BTCUSDT")
    v = f.check(candle)
    assert v == Verdict(reason)
    assert not v.ok and v.gap is None
    assert f.rejected == {reason: 1}
    assert f.last("BTCUSDT") == before  # state untouched
    assert f.check(NEXT) is ACCEPTED  # and the next good candle still passes
    assert f.accepted == 2 and f.checked == 3


def test_zero_volume_and_flat_bar_pass() -> None:
    f = fw()
    assert f.check(bar(o=1.0, h=1.0, lo=1.0, c=1.0, v=0.0)).ok
    assert f.check(bar(T0 + M, o=1, h=1, lo=1, c=1, v=0)).ok  # ints are numbers too


def test_jump_edges() -> None:
    f = fw(max_jump=0.2)
    f.check(bar(c=100.0, h=101.0))
    # exactly 20 % is allowed; just over is not
    assert f.check(bar(T0 + M, 100.0, 120.0, 99.0, 100.0)).ok
    assert f.check(bar(T0 + 2 * M, 100.0, 120.0001, 99.0, 100.0)) == Verdict(Reason.JUMP)


def test_jump_guard_off_after_long_gap_then_self_heals() -> None:
    f = fw(jump_window=5)
    f.check(bar(c=100.0, h=101.0))
    far = bar(T0 + 6 * M, 150.0, 151.0, 149.0, 150.0)  # 6 intervals later: not judged
    v = f.check(far)
    assert v.ok and v.gap == (T0 + M, T0 + 5 * M)
    # a genuine jump inside the window is rejected ...
    f2 = fw(jump_window=2)
    f2.check(bar(c=100.0, h=101.0))
    assert f2.check(bar(T0 + M, 150.0, 151.0, 149.0, 150.0)).reason is Reason.JUMP
    assert f2.check(bar(T0 + 2 * M, 150.0, 151.0, 149.0, 150.0)).reason is Reason.JUMP
    # ... until the reference is older than the window
    v = f2.check(bar(T0 + 3 * M, 150.0, 151.0, 149.0, 150.0))
    assert v.ok and v.gap == (T0 + M, T0 + 2 * M)
    assert f2.rejected == {"jump": 2} and f2.missing_candles == 2 and f2.gaps == 1


def test_first_candle_per_symbol_and_reset() -> None:
    f = fw()
    f.check(bar(c=100.0))
    assert f.check(bar(T0 - 10 * M, 1.0, 1.0, 1.0, 1.0, symbol="ETHUSDT")).ok  # own state
    f.reset("BTCUSDT")
    assert f.last("BTCUSDT") is None and f.last("ETHUSDT") is not None
    assert f.check(bar(T0 - M, 500.0, 500.0, 500.0, 500.0)).ok  # no order or jump check
    f.reset()
    assert f.last("ETHUSDT") is None
    assert f.accepted == 3


def test_gap_verdict_and_counters() -> None:
    f = fw()
    f.check(bar())
    v = f.check(bar(T0 + 4 * M))
    assert v.ok and v.gap == (T0 + M, T0 + 3 * M)
    v = f.check(bar(T0 + 6 * M))
    assert v.gap == (T0 + 5 * M, T0 + 5 * M)
    assert (f.gaps, f.missing_candles) == (2, 4)


def test_other_intervals() -> None:
    f = Firewall(["BTCUSDT"], 5 * M)
    assert f.check(bar(T0 - T0 % (5 * M), step=5 * M)).ok
    assert f.check(bar(T0, step=M)).reason is Reason.SCHEMA


@pytest.mark.parametrize(
    "kw",
    [
        {"symbols": []},
        {"interval_ms": 0},
        {"interval_ms": 60.0},
        {"max_jump": 0.0},
        {"max_jump": math.nan},
        {"jump_window": 0},
    ],
)
def test_bad_configuration_raises(kw: dict[str, Any]) -> None:
    args: dict[str, Any] = {"symbols": SYMS, **kw}
    with pytest.raises(ValueError):
        Firewall(**args)


# ---- properties --------------------------------------------------------------------------------


@st.composite
def walks(draw: st.DrawFn, max_skip: int = 1, n_max: int = 40) -> list[Candle]:
    """A valid random walk of one symbol: each bar opens near the last close; bodies and wicks
    up to 3 % each, so two bars together stay well inside the 20 % jump band.
    `max_skip` > 1 leaves holes of up to max_skip − 1 missing bars between candles."""
    symbol = draw(st.sampled_from(SYMS))
    n = draw(st.integers(1, n_max))
    price = draw(st.floats(1e-4, 1e5))
    t = draw(st.integers(0, 10**6)) * M
    small = st.floats(-0.03, 0.03)
    wick = st.floats(0.0, 0.03)
    out = []
    for _ in range(n):
        o = price
        c = o * (1.0 + draw(small))
        h = max(o, c) * (1.0 + draw(wick))
        lo = min(o, c) * (1.0 - draw(wick))
        out.append(Candle(symbol, t, t + M - 1, o, h, lo, c, draw(st.floats(0.0, 1e9))))
        price = c
        t += M * draw(st.integers(1, max_skip))
    return out


def _interleave(series: list[list[Candle]]) -> list[Candle]:
    by_symbol = {s[0].symbol: s for s in series}  # one walk per symbol
    return sorted((c for s in by_symbol.values() for c in s), key=lambda c: c.open_time)


@settings(deadline=None)  # a loaded machine must not fail a pure test
@given(st.lists(walks(), min_size=1, max_size=3))
def test_valid_walks_fully_accepted_without_gaps(series: list[list[Candle]]) -> None:
    candles = _interleave(series)
    f = fw()
    assert all(v is ACCEPTED for v in f.check_many(candles))
    assert f.accepted == len(candles) == f.checked
    assert not f.rejected and f.gaps == 0 and f.missing_candles == 0


@settings(deadline=None)  # a loaded machine must not fail a pure test
@given(walks(max_skip=4))
def test_gap_ranges_exact(candles: list[Candle]) -> None:
    f = fw()
    verdicts = f.check_many(candles)
    assert all(v.ok for v in verdicts)
    expected = [None] + [
        (a.open_time + M, b.open_time - M) if b.open_time - a.open_time > M else None
        for a, b in pairwise(candles)
    ]
    assert [v.gap for v in verdicts] == expected
    assert f.gaps == sum(g is not None for g in expected)
    missing = sum((b.open_time - a.open_time) // M - 1 for a, b in pairwise(candles))
    assert f.missing_candles == missing


def _corruptions(c: Candle) -> list[tuple[dict[str, Any], Reason]]:
    top, bottom = max(c.open, c.close), min(c.open, c.close)
    return [
        ({"open_time": c.open_time + 1}, Reason.SCHEMA),
        ({"close_time": c.close_time + M}, Reason.SCHEMA),
        ({"open_time": float(c.open_time)}, Reason.SCHEMA),
        ({"high": str(c.high)}, Reason.SCHEMA),
        ({"symbol": "XRPUSDT"}, Reason.UNKNOWN_SYMBOL),
        ({"open": math.nan}, Reason.PRICE),
        ({"high": math.inf}, Reason.PRICE),
        ({"low": -c.low}, Reason.PRICE),
        ({"close": 0.0}, Reason.PRICE),
        ({"high": top * 0.9}, Reason.OHLC),
        ({"low": bottom * 1.1}, Reason.OHLC),
        ({"close": c.high * 1.1}, Reason.OHLC),
        ({"open": c.low * 0.9}, Reason.OHLC),
        ({"volume": -1.0 - c.volume}, Reason.VOLUME),
        ({"volume": math.nan}, Reason.VOLUME),
        (
            {k: getattr(c, k) * 1.5 for k in ("open", "high", "low", "close")},
            Reason.JUMP,
        ),
    ]


@settings(deadline=None)  # a loaded machine must not fail a pure test
@given(walks(n_max=10).filter(lambda w: len(w) >= 3), st.data())
def test_single_corruption_rejected_and_next_accepted(candles: list[Candle], data: Any) -> None:
    i = data.draw(st.integers(1, len(candles) - 2))
    changes, reason = data.draw(st.sampled_from(_corruptions(candles[i])))
    f = fw()
    assert all(v.ok for v in f.check_many(candles[:i]))
    state = f.last(candles[i].symbol)
    assert f.check(with_(candles[i], **changes)) == Verdict(reason)
    assert f.last(candles[i].symbol) == state
    v = f.check(candles[i + 1])
    assert v.ok and v.gap == (candles[i].open_time, candles[i].open_time)
    assert all(v is ACCEPTED for v in f.check_many(candles[i + 2 :]))
    assert f.rejected == {reason: 1} and f.accepted == len(candles) - 1


@settings(deadline=None)  # a loaded machine must not fail a pure test
@given(walks(n_max=20).filter(lambda w: len(w) >= 2), st.data())
def test_replayed_candle_is_duplicate_or_out_of_order(candles: list[Candle], data: Any) -> None:
    j = data.draw(st.integers(1, len(candles)))  # insert the replay before candles[j]
    i = data.draw(st.integers(0, j - 1))  # a candle already accepted
    stream = [*candles[:j], candles[i], *candles[j:]]
    verdicts = fw().check_many(stream)
    expected = Reason.DUPLICATE if i == j - 1 else Reason.OUT_OF_ORDER
    assert verdicts[j] == Verdict(expected)
    assert all(v is ACCEPTED for k, v in enumerate(verdicts) if k != j)


@settings(deadline=None)  # a loaded machine must not fail a pure test
@given(walks(n_max=20).filter(lambda w: len(w) >= 3), st.data())
def test_swapped_neighbours(candles: list[Candle], data: Any) -> None:
    j = data.draw(st.integers(1, len(candles) - 2))
    stream = [*candles[:j], candles[j + 1], candles[j], *candles[j + 2 :]]
    verdicts = fw().check_many(stream)
    assert verdicts[j].ok and verdicts[j].gap == (candles[j].open_time, candles[j].open_time)
    assert verdicts[j + 1] == Verdict(Reason.OUT_OF_ORDER)
    assert all(v is ACCEPTED for v in verdicts[j + 2 :])


@st.composite
def noisy_streams(draw: st.DrawFn) -> list[Candle]:
    """Valid walks with random candles corrupted, replayed or dropped."""
    candles = _interleave(draw(st.lists(walks(max_skip=3), min_size=1, max_size=3)))
    out: list[Candle] = []
    for c in candles:
        action = draw(st.sampled_from(["keep", "keep", "corrupt", "replay", "drop"]))
        if action == "drop":
            continue
        if action == "corrupt":
            changes, _ = draw(st.sampled_from(_corruptions(c)))
            out.append(with_(c, **changes))
        out.append(c)
        if action == "replay" and out:
            out.append(draw(st.sampled_from(out)))
    return out


@settings(max_examples=200, deadline=None)  # a loaded machine must not fail a pure test
@given(noisy_streams())
def test_counters_add_up(candles: list[Candle]) -> None:
    f = fw()
    verdicts = f.check_many(candles)
    assert f.checked == len(candles) == f.accepted + sum(f.rejected.values())
    assert f.accepted == sum(v.ok for v in verdicts)
    for reason in Reason:
        assert f.rejected[reason] == sum(v.reason is reason for v in verdicts)
    assert set(f.rejected) <= set(Reason)
    gaps = [v.gap for v in verdicts if v.gap is not None]
    assert f.gaps == len(gaps)
    assert f.missing_candles == sum((b - a) // M + 1 for a, b in gaps)
