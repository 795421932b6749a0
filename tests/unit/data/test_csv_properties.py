"""Property tests: whatever mix of good and broken rows a file holds, the parser keeps exactly
the good ones (bit for bit) and names exactly the broken lines."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from slt.data.csv_import import parse_text
from slt.data.source import decode_bytes

T0 = 1_749_551_700_000
MIN = 60_000
HEADERS = {
    6: "open_time,open,high,low,close,volume",
    12: "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore",
}
MUTATIONS = ("text", "nan", "inf", "neg_volume", "zero_price", "misaligned", "inverted", "body")

prices = st.floats(min_value=1e-8, max_value=1e7, allow_nan=False, allow_infinity=False)
fractions = st.floats(min_value=0.01, max_value=1.0)
volumes = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)


@st.composite
def candles(draw: st.DrawFn) -> tuple[float, float, float, float, float]:
    o, c = draw(prices), draw(prices)
    h = max(o, c) + draw(st.floats(min_value=0.0, max_value=1e6))
    lo = min(o, c) * draw(fractions)
    return o, h, lo, c, draw(volumes)


def render(t: int, values: tuple[float, ...], width: int, micro: bool) -> str:
    stamp = t * 1000 if micro else t
    cells = [str(stamp), *(repr(v) for v in values)]
    if width == 12:
        cells += [str(stamp + MIN - 1), "1.0", "3", "0.5", "0.5", "0"]
    return ",".join(cells)


def mutate(kind: str, t: int, v: tuple[float, float, float, float, float]) -> tuple[int, list[str]]:
    o, h, lo, c, vol = v
    cells = [repr(x) for x in v]
    if kind == "text":
        cells[3] = "abc"
    elif kind == "nan":
        cells[0] = "nan"
    elif kind == "inf":
        cells[1] = "inf"
    elif kind == "neg_volume":
        cells[4] = repr(-(vol + 1.0))
    elif kind == "zero_price":
        cells[2] = "0.0"
    elif kind == "misaligned":
        t += 1
    elif kind == "inverted":
        cells[1], cells[2] = repr(lo * 0.5), repr(h * 2.0)
    elif kind == "body":
        cells[1] = repr(max(o, c) * 0.5)
        cells[2] = repr(min(lo, max(o, c) * 0.25))
    return t, cells


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(candles(), st.none() | st.sampled_from(MUTATIONS)), min_size=1, max_size=40
    ),
    width=st.sampled_from([6, 12]),
    header=st.booleans(),
    micro=st.booleans(),
)
def test_good_rows_kept_exactly_and_bad_lines_named(
    rows: list[tuple[tuple[float, float, float, float, float], str | None]],
    width: int,
    header: bool,
    micro: bool,
) -> None:
    lines = [HEADERS[width]] if header else []
    expected: dict[int, tuple[float, ...]] = {}
    bad_lines: list[int] = []
    for i, (values, kind) in enumerate(rows):
        t = T0 + i * MIN
        if kind is None:
            lines.append(render(t, values, width, micro))
            expected[t] = values
            continue
        t, cells = mutate(kind, t, values)
        stamp = t * 1000 if micro else t
        extra = [str(stamp), "1.0", "3", "0.5", "0.5", "0"] if width == 12 else []
        lines.append(",".join([str(stamp), *cells, *extra]))
        bad_lines.append(len(lines))
    parsed = parse_text("\n".join(lines) + "\n", source="mem", symbol="BTCUSDT", interval="1m")

    assert [e.line for e in parsed.errors] == bad_lines
    assert parsed.series.open_time.tolist() == sorted(expected)
    s = parsed.series
    for i, t in enumerate(s.open_time.tolist()):
        got = (s.open[i], s.high[i], s.low[i], s.close[i], s.volume[i])
        assert all(
            math.copysign(1, a) == math.copysign(1, b) and a == b
            for a, b in zip(got, expected[t], strict=True)
        )
    assert parsed.rows_read == len(rows)
    assert parsed.rows_read == len(s) + parsed.rejected + parsed.duplicates
    assert parsed.time_unit == ("none" if not expected else "us" if micro else "ms")


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(candles(), min_size=1, max_size=30),
    data=st.data(),
)
def test_shuffled_and_repeated_rows_give_the_same_series(
    values: list[tuple[float, float, float, float, float]], data: st.DataObject
) -> None:
    lines = [render(T0 + i * MIN, v, 6, False) for i, v in enumerate(values)]
    repeats = data.draw(st.lists(st.sampled_from(lines), max_size=20))
    shuffled = data.draw(st.permutations(lines + repeats))
    parsed = parse_text("\n".join(shuffled), source="mem", symbol="BTCUSDT", interval="1m")
    assert parsed.series.open_time.tolist() == [T0 + i * MIN for i in range(len(values))]
    assert parsed.duplicates == len(repeats)
    assert parsed.errors == () and parsed.gaps == ()
    assert parsed.series.close.tolist() == [v[3] for v in values]


@settings(max_examples=60, deadline=None)
@given(keep=st.lists(st.booleans(), min_size=2, max_size=60))
def test_gaps_cover_exactly_the_missing_open_times(keep: list[bool]) -> None:
    times = [T0 + i * MIN for i, k in enumerate(keep) if k]
    text = "\n".join(f"{t},1.0,2.0,0.5,1.5,3.0" for t in times)
    if not times:
        return
    parsed = parse_text(text, source="mem", symbol="BTCUSDT", interval="1m")
    missing = {
        t for g in parsed.gaps for t in range(g.first_missing_ms, g.last_missing_ms + 1, MIN)
    }
    assert missing == set(range(times[0], times[-1] + 1, MIN)) - set(times)
    assert sum(g.missing for g in parsed.gaps) == len(missing)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_decoder(raw: bytes) -> None:
    from slt.data.errors import DataImportError

    try:
        decode_bytes(raw, "mem", "BTCUSDT-1m.csv")
    except DataImportError as exc:
        assert "mem" in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789,.-e\n naxif", max_size=300))
def test_arbitrary_text_is_parsed_or_refused_cleanly(text: str) -> None:
    from slt.data.errors import DataImportError

    try:
        parsed = parse_text(text, source="mem", symbol="BTCUSDT", interval="1m")
    except DataImportError as exc:
        assert str(exc).startswith("mem")
        return
    assert parsed.rows_read == len(parsed.series) + parsed.rejected + parsed.duplicates
