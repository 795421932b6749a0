"""The candle assembler publishes each (stream, open time) at most once and in open-time order
whatever the interleaving; on a realistic stream (finals sometimes after the next candle's
first update, repeated finals) it publishes every candle exactly once, with the final's
fields or, when the final was late, the last forming snapshot, and counts what it dropped."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain import Candle
from slt.feed.assembler import LATE_MEMORY, CandleAssembler, Closed

M = 60_000
T0 = 1_700_000_040_000
STREAMS = ("btcusdt@kline_1m", "ethusdt@kline_1m")


def bar(k: int, close: float, symbol: str = "BTCUSDT") -> Candle:
    t = T0 + k * M
    return Candle(symbol, t, t + M - 1, 100.0, 200.0, 50.0, close, close)


Update = tuple[str, Candle, bool]


def run(updates: list[Update]) -> tuple[CandleAssembler, list[Closed]]:
    asm = CandleAssembler()
    out: list[Closed] = []
    for i, (stream, candle, final) in enumerate(updates):
        out += asm.update(stream, candle, final, T0 + i)
    return asm, out


def assert_once_in_order(out: list[Closed]) -> None:
    by_stream: dict[str, list[int]] = defaultdict(list)
    for c in out:
        by_stream[c.stream].append(c.candle.open_time)
    for times in by_stream.values():
        assert times == sorted(set(times)), times


any_update = st.tuples(
    st.sampled_from(STREAMS), st.integers(0, 12), st.integers(0, 5), st.booleans()
).map(lambda u: (u[0], bar(u[1], float(u[2])), u[3]))


@given(st.lists(any_update, max_size=80))
@settings(max_examples=300, deadline=None)  # a loaded machine must not fail a pure test
def test_any_interleaving_publishes_each_candle_at_most_once_in_order(
    updates: list[Update],
) -> None:
    asm, out = run(updates)
    assert_once_in_order(out)
    n = asm.counts
    finals = sum(1 for u in updates if u[2])
    # every final is published or counted as a duplicate or a late final; never lost silently
    assert n.closed == len(out)
    assert n.closed - n.early_closes + n.duplicates + n.late_finals == finals


@st.composite
def realistic(draw: st.DrawFn) -> tuple[list[Update], dict[tuple[str, int], float], int]:
    """Per stream: candles 0..n-1, each 1-3 forming updates then its final; some finals moved
    after the next candle's first update; some finals repeated later; streams interleaved.
    Returns the delivery, the expected close per (stream, open time), and the late count."""
    per_stream: list[list[Update]] = []
    expect: dict[tuple[str, int], float] = {}
    late_total = 0
    for stream in STREAMS:
        n = draw(st.integers(1, 8))
        forming = [draw(st.integers(1, 3)) for _ in range(n)]
        late = [draw(st.booleans()) and k + 1 < n for k in range(n)]
        events: list[Update] = []
        for k in range(n):
            for j in range(forming[k]):
                events.append((stream, bar(k, k * 10 + j), False))
                if j == 0 and k > 0 and late[k - 1]:
                    events.append((stream, bar(k - 1, (k - 1) * 10 + 9), True))
            if not late[k]:
                events.append((stream, bar(k, k * 10 + 9), True))
            expect[(stream, T0 + k * M)] = k * 10 + (forming[k] - 1 if late[k] else 9)
        late_total += sum(late)
        for _ in range(draw(st.integers(0, 3))):  # a final repeated after its original
            k = draw(st.integers(0, n - 1))
            first = next(i for i, e in enumerate(events) if e[2] and e[1].open_time == T0 + k * M)
            at = draw(st.integers(first + 1, len(events)))
            events.insert(at, (stream, bar(k, k * 10 + 9), True))
        per_stream.append(events)
    merged: list[Update] = []
    while any(per_stream):
        pick = draw(st.sampled_from([i for i, e in enumerate(per_stream) if e]))
        merged.append(per_stream[pick].pop(0))
    return merged, expect, late_total


@given(realistic())
@settings(max_examples=300, deadline=None)  # a loaded machine must not fail a pure test
def test_a_realistic_stream_yields_every_candle_exactly_once(
    case: tuple[list[Update], dict[tuple[str, int], float], int],
) -> None:
    updates, expect, late = case
    asm, out = run(updates)
    assert_once_in_order(out)
    got = {(c.stream, c.candle.open_time): c.candle.close for c in out}
    assert got == expect
    assert asm.counts.early_closes == late
    assert asm.counts.late_finals == late
    assert asm.counts.gaps == 0 and asm.counts.abandoned == 0


def test_final_then_duplicate_then_late_final() -> None:
    asm = CandleAssembler()
    s = STREAMS[0]
    assert asm.update(s, bar(0, 1), False, 1) == []
    [c0] = asm.update(s, bar(0, 2), True, 2)
    assert c0.candle.close == 2 and not c0.early
    assert asm.update(s, bar(0, 2), True, 3) == []  # duplicate
    assert asm.update(s, bar(1, 3), False, 4) == []
    [c1] = asm.update(s, bar(2, 4), False, 5)  # the final of 1 is late: close it early
    assert c1.early and c1.candle == bar(1, 3) and c1.received_ms == 5
    assert asm.update(s, bar(1, 9), True, 6) == []  # the late final: counted, dropped
    assert asm.update(s, bar(1, 9), True, 7) == []  # and a second copy is a duplicate
    assert asm.update(s, bar(0, 5), False, 8) == []  # forming update of a closed candle
    n = asm.counts
    assert (n.duplicates, n.late_finals, n.out_of_order, n.early_closes) == (2, 1, 1, 1)


def test_a_jump_abandons_the_snapshot_and_counts_the_gap() -> None:
    asm = CandleAssembler()
    s = STREAMS[0]
    asm.update(s, bar(0, 1), True, 1)
    asm.update(s, bar(1, 2), False, 2)
    [c] = asm.update(s, bar(4, 3), True, 3)
    assert c.candle.open_time == T0 + 4 * M
    assert asm.counts.abandoned == 1 and asm.counts.gaps == 1
    assert asm.counts.missing_candles == 3


def test_forget_prevents_an_early_close_from_a_lost_connection() -> None:
    asm = CandleAssembler()
    s = STREAMS[0]
    asm.update(s, bar(0, 1), False, 1)
    asm.forget([s])
    assert asm.forming(s) is None
    assert asm.update(s, bar(1, 2), False, 2) == []


def test_an_older_final_still_in_order_is_published() -> None:
    asm = CandleAssembler()
    s = STREAMS[0]
    asm.update(s, bar(0, 1), True, 1)
    asm.update(s, bar(2, 2), False, 2)  # jumped: candle 1 never seen forming
    [c] = asm.update(s, bar(1, 3), True, 3)
    assert c.candle.open_time == T0 + M and asm.last_closed(s) == T0 + M
    [c2] = asm.update(s, bar(2, 4), True, 4)
    assert c2.candle.close == 4


def test_late_memory_is_bounded() -> None:
    asm = CandleAssembler()
    s = STREAMS[0]
    for k in range(LATE_MEMORY + 3):
        asm.update(s, bar(k, k), False, k)
    assert asm.counts.early_closes == LATE_MEMORY + 2
    asm.update(s, bar(0, 0), True, 99)  # too old to be remembered as late: a duplicate
    assert asm.counts.duplicates == 1 and asm.counts.late_finals == 0
