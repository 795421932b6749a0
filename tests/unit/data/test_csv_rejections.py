"""Every row rule rejects the row with its line number; duplicates and gaps are reported."""

from __future__ import annotations

import pytest

from slt.data.csv_import import parse_file
from slt.data.validate import Gap

HEADER = "open_time,open,high,low,close,volume"
T0 = 1_749_551_700_000
MIN = 60_000


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (f"{T0 + MIN},abc,11,9,10,1", "open 'abc' is not a number"),
        (f"{T0 + MIN},10,11,9,,1", "close '' is not a number"),
        (f"{T0 + MIN}.0,10,11,9,10,1", "is not an integer"),
        (f"x{T0 + MIN},10,11,9,10,1", "is not an integer"),
        (f"{T0 + MIN},10,11,9,10,1_000", "volume '1_000' is not a number"),
        (f"{T0 + MIN},nan,11,9,10,1", "open is NaN or infinite"),
        (f"{T0 + MIN},10,inf,9,10,1", "high is NaN or infinite"),
        (f"{T0 + MIN},10,11,9,10,-inf", "volume is NaN or infinite"),
        (f"{T0 + MIN},10,9,11,10,1", "high 9.0 is below low 11.0"),
        (f"{T0 + MIN},10,10.5,9,10.8,1", "high 10.5 is below max(open, close) 10.8"),
        (f"{T0 + MIN},9,11,9.5,10,1", "low 9.5 is above min(open, close) 9.0"),
        (f"{T0 + MIN},0,11,0,10,1", "non-positive price: open 0.0, low 0.0"),
        (f"{T0 + MIN},-1,-0.5,-2,-1,1", "non-positive price"),
        (f"{T0 + MIN},10,11,9,10,-0.001", "negative volume -0.001"),
        (f"{T0 + 30_000},10,11,9,10,1", "is not aligned to 1m (60000 ms)"),
        (f"{(T0 + MIN) * 1000 + 500},10,11,9,10,1", "(µs) is not aligned to 1m"),
        ("0,10,11,9,10,1", "open_time 0 is not a positive UTC timestamp"),
        (f"-{MIN},10,11,9,10,1", "is not a positive UTC timestamp"),
        ("99999999999999999999999,10,11,9,10,1", "is out of range"),
        (f"{T0 + MIN},1e400,11,9,10,1", "open is NaN or infinite"),
    ],
)
def test_each_rule_rejects_its_row_with_the_line_number(
    write_file, srow, bad_row: str, reason: str
) -> None:
    path = write_file("BTCUSDT-1m.csv", [HEADER, srow(T0), bad_row, srow(T0 + 2 * MIN)])
    parsed = parse_file(path)
    assert parsed.series.open_time.tolist() == [T0, T0 + 2 * MIN]
    assert len(parsed.errors) == 1
    error = parsed.errors[0]
    assert (error.file, error.line) == (str(path), 3)
    assert reason in error.reason
    assert str(error) == f"{path}:3: {error.reason}"
    assert parsed.rows_read == 3


def test_first_broken_rule_is_the_one_reported(write_file, srow) -> None:
    # non-finite beats alignment, alignment beats price, price beats high/low
    rows = [
        HEADER,
        f"{T0 + 1},nan,1,2,1,1",
        f"{T0 + 1},-1,1,2,1,1",
        f"{T0},-1,1,2,1,1",
    ]
    errors = parse_file(write_file("BTCUSDT-1m.csv", rows)).errors
    assert [e.line for e in errors] == [2, 3, 4]
    assert "NaN" in errors[0].reason
    assert "not aligned" in errors[1].reason
    assert "non-positive" in errors[2].reason


def test_many_bad_rows_are_each_named_in_line_order(write_file, srow) -> None:
    rows = [HEADER] + [srow(T0 + i * MIN) for i in range(10)]
    rows[3] = f"{T0 + 2 * MIN},10,9,11,10,1"  # line 4: high < low
    rows[7] = f"{T0 + 6 * MIN},bad,11,9,10,1"  # line 8: not a number
    rows[9] = f"{T0 + 8 * MIN},10,11,9,10,-5"  # line 10: negative volume
    parsed = parse_file(write_file("BTCUSDT-1m.csv", rows))
    assert [e.line for e in parsed.errors] == [4, 8, 10]
    assert len(parsed.series) == 7
    assert parsed.rows_read == len(parsed.series) + parsed.rejected + parsed.duplicates


def test_identical_duplicates_collapse_silently_and_are_counted(write_file, srow) -> None:
    rows = [HEADER, srow(T0), srow(T0 + MIN), srow(T0), srow(T0 + MIN), srow(T0)]
    parsed = parse_file(write_file("BTCUSDT-1m.csv", rows))
    assert parsed.series.open_time.tolist() == [T0, T0 + MIN]
    assert parsed.duplicates == 3
    assert parsed.errors == ()


def test_conflicting_duplicates_reject_every_copy(write_file, srow) -> None:
    rows = [HEADER, srow(T0), srow(T0 + MIN, c=10.5), srow(T0 + 2 * MIN), srow(T0 + MIN, c=10.6)]
    parsed = parse_file(write_file("BTCUSDT-1m.csv", rows))
    assert parsed.series.open_time.tolist() == [T0, T0 + 2 * MIN]
    assert [e.line for e in parsed.errors] == [3, 5]
    assert "also on line 5 with different values" in parsed.errors[0].reason
    assert "also on line 3 with different values" in parsed.errors[1].reason
    assert "2025-06-10 10:36 UTC" in parsed.errors[0].reason
    assert parsed.duplicates == 0


def test_a_ms_and_a_us_copy_of_one_candle_are_duplicates(write_file, brow) -> None:
    parsed = parse_file(write_file("BTCUSDT-1m.csv", [brow(T0), brow(T0 * 1000)]))
    assert len(parsed.series) == 1 and parsed.duplicates == 1


def test_gaps_are_reported_as_ranges_of_missing_open_times(write_file, srow) -> None:
    times = [T0, T0 + MIN, T0 + 4 * MIN, T0 + 5 * MIN, T0 + 7 * MIN]
    parsed = parse_file(write_file("BTCUSDT-1m.csv", [HEADER] + [srow(t) for t in times]))
    assert parsed.gaps == (
        Gap(T0 + 2 * MIN, T0 + 3 * MIN, MIN),
        Gap(T0 + 6 * MIN, T0 + 6 * MIN, MIN),
    )
    assert [g.missing for g in parsed.gaps] == [2, 1]
    assert str(parsed.gaps[0]) == "2025-06-10 10:37 UTC .. 2025-06-10 10:38 UTC (2 candles missing)"


def test_a_rejected_row_leaves_a_gap(write_file, srow) -> None:
    rows = [HEADER, srow(T0), f"{T0 + MIN},10,9,11,10,1", srow(T0 + 2 * MIN)]
    parsed = parse_file(write_file("BTCUSDT-1m.csv", rows))
    assert parsed.gaps == (Gap(T0 + MIN, T0 + MIN, MIN),)


def test_all_rows_rejected_gives_an_empty_series(write_file) -> None:
    parsed = parse_file(write_file("BTCUSDT-1m.csv", [HEADER, f"{T0},1,0.5,2,1,1"]))
    assert len(parsed.series) == 0 and parsed.rejected == 1
    assert parsed.time_unit == "none" and parsed.gaps == ()


def test_zero_volume_is_a_valid_candle(write_file, srow) -> None:
    parsed = parse_file(write_file("BTCUSDT-1m.csv", [srow(T0, 1.0, 1.0, 1.0, 1.0, 0.0)]))
    assert len(parsed.series) == 1 and parsed.rejected == 0
