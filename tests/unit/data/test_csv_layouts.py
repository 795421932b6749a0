"""Parsing the accepted layouts: simple and Binance 12-column, header or not, ms or µs,
plain, gzip or zip, and symbol/interval from arguments or the file name."""

from __future__ import annotations

import gzip
import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from slt.data.csv_import import infer_symbol_interval, parse_file, parse_text
from slt.data.errors import DataImportError

SIMPLE_HEADER = "open_time,open,high,low,close,volume"
BINANCE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
T0 = 1_749_551_700_000
MIN = 60_000


def test_simple_layout_with_header_keeps_every_value_exactly(write_file, srow) -> None:
    path = write_file(
        "BTCUSDT-1m.csv",
        [
            SIMPLE_HEADER,
            "1749551700000,109319.7,109324.0,109300.1,109310.2,16.536",
            "1749551760000,0.19089,0.1909,0.19081,0.19085,1254559.0",
        ],
    )
    parsed = parse_file(path)
    s = parsed.series
    assert (s.symbol, s.interval, parsed.layout, parsed.has_header) == (
        "BTCUSDT",
        "1m",
        "simple",
        True,
    )
    assert s.open_time.tolist() == [T0, T0 + MIN]
    assert s.open_time.dtype == np.int64 and s.close.dtype == np.float64
    assert s.open.tolist() == [109319.7, 0.19089]
    assert s.high.tolist() == [109324.0, 0.1909]
    assert s.volume.tolist() == [16.536, 1254559.0]
    assert (parsed.rows_read, parsed.rejected, parsed.duplicates, parsed.gaps) == (2, 0, 0, ())
    assert parsed.time_unit == "ms"


def test_simple_layout_without_header(write_file, srow) -> None:
    path = write_file("LTCUSDT-5m.csv", [srow(T0), srow(T0 + 5 * MIN)])
    parsed = parse_file(path)
    assert not parsed.has_header
    assert parsed.series.open_time.tolist() == [T0, T0 + 5 * MIN]
    assert parsed.interval == "5m"


@pytest.mark.parametrize("header", [True, False])
def test_binance_layout_with_and_without_header(write_file, brow, header: bool) -> None:
    lines = [brow(T0 + i * MIN, 10.0 + i, 20.0) for i in range(3)]
    if header:
        lines.insert(0, BINANCE_HEADER)
    parsed = parse_file(write_file("ETHUSDT-1m-2025-06.csv", lines))
    assert parsed.layout == "binance"
    assert parsed.has_header is header
    assert parsed.series.open.tolist() == [10.0, 11.0, 12.0]
    assert parsed.rows_read == 3


def test_microsecond_open_times_become_milliseconds(write_file, brow) -> None:
    lines = [brow((T0 + i * MIN) * 1000) for i in range(3)]
    parsed = parse_file(write_file("BTCUSDT-1m-2025-06.csv", lines))
    assert parsed.time_unit == "us"
    assert parsed.series.open_time.tolist() == [T0, T0 + MIN, T0 + 2 * MIN]


def test_a_file_switching_from_ms_to_us_is_read_as_one_series(write_file, brow) -> None:
    lines = [brow(T0), brow((T0 + MIN) * 1000)]
    parsed = parse_file(write_file("BTCUSDT-1m.csv", lines))
    assert parsed.time_unit == "mixed"
    assert parsed.series.open_time.tolist() == [T0, T0 + MIN]


def test_rows_out_of_order_are_sorted(write_file, srow) -> None:
    path = write_file("BTCUSDT-1m.csv", [srow(T0 + 2 * MIN), srow(T0), srow(T0 + MIN)])
    assert parse_file(path).series.open_time.tolist() == [T0, T0 + MIN, T0 + 2 * MIN]


def test_crlf_blank_lines_and_bom_are_tolerated(tmp_path: Path, srow) -> None:
    text = "\ufeff" + SIMPLE_HEADER + "\r\n" + srow(T0) + "\r\n\r\n" + srow(T0 + MIN) + "\r\n"
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_bytes(text.encode())
    parsed = parse_file(path)
    assert parsed.has_header and len(parsed.series) == 2 and parsed.rows_read == 2


def test_repeated_header_of_concatenated_files_is_skipped(write_file, srow) -> None:
    path = write_file("BTCUSDT-1m.csv", [SIMPLE_HEADER, srow(T0), SIMPLE_HEADER, srow(T0 + MIN)])
    parsed = parse_file(path)
    assert len(parsed.series) == 2 and parsed.rejected == 0


@pytest.mark.parametrize("name", ["BTCUSDT-1m.csv.gz", "BTCUSDT-1m.csv"])
def test_gzip_is_detected_by_magic_bytes_not_suffix(write_file, srow, name: str) -> None:
    path = write_file(name, [SIMPLE_HEADER, srow(T0)], gz=True)
    assert len(parse_file(path).series) == 1


def test_plain_text_named_gz_is_read_as_text(write_file, srow) -> None:
    path = write_file("BTCUSDT-1m.csv.gz", [SIMPLE_HEADER, srow(T0)])
    assert len(parse_file(path).series) == 1


def test_multi_member_gzip_is_read_whole(tmp_path: Path, srow) -> None:
    path = tmp_path / "BTCUSDT-1m.csv.gz"
    first = gzip.compress(f"{SIMPLE_HEADER}\n{srow(T0)}\n".encode())
    second = gzip.compress(f"{srow(T0 + MIN)}\n".encode())
    path.write_bytes(first + second)
    assert len(parse_file(path).series) == 2


def test_binance_zip_dump_is_read_and_named_by_its_member(tmp_path: Path, brow) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("SOLUSDT-1m-2025-06.csv", f"{brow(T0)}\n{brow(T0 + MIN)}\n")
    path = tmp_path / "download.bin"
    path.write_bytes(buffer.getvalue())
    parsed = parse_file(path)
    assert (parsed.symbol, parsed.interval, len(parsed.series)) == ("SOLUSDT", "1m", 2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BTCUSDT-1m.csv.gz", ("BTCUSDT", "1m")),
        ("BTCUSDT-1m-2024-01.csv", ("BTCUSDT", "1m")),
        ("BTCUSDT-1m-2024-01.zip", ("BTCUSDT", "1m")),
        ("ETHUSDT-15m-2025-03-07.csv", ("ETHUSDT", "15m")),
        ("/some/dir/1000PEPEUSDT-4h.CSV.GZ", ("1000PEPEUSDT", "4h")),
        ("btcusdt-1h.csv", ("BTCUSDT", "1h")),
        ("candles.csv", None),
        ("BTCUSDT.csv.gz", None),
        ("BTC_USDT-1m-futures.feather", None),
    ],
)
def test_symbol_and_interval_from_file_name(name: str, expected: tuple[str, str] | None) -> None:
    assert infer_symbol_interval(name) == expected


def test_arguments_override_the_file_name(write_file, srow) -> None:
    path = write_file("BTCUSDT-1m.csv", [srow(T0), srow(T0 + 5 * MIN)])
    parsed = parse_file(path, symbol="ethusdt", interval="5m")
    assert (parsed.symbol, parsed.interval) == ("ETHUSDT", "5m")


def test_uninferable_name_without_arguments_is_a_clear_error(write_file, srow) -> None:
    path = write_file("candles.csv", [srow(T0)])
    with pytest.raises(DataImportError) as err:
        parse_file(path)
    message = str(err.value)
    assert "candles.csv" in message and "symbol and interval" in message
    assert "--symbol" in message and "BTCUSDT-1m.csv.gz" in message
    assert len(parse_file(path, symbol="BTCUSDT", interval="1m").series) == 1


def test_only_the_missing_half_is_named(write_file, srow) -> None:
    path = write_file("candles.csv", [srow(T0)])
    with pytest.raises(DataImportError, match="infer the interval"):
        parse_file(path, symbol="BTCUSDT")


def test_unknown_interval_lists_the_valid_ones(write_file, srow) -> None:
    path = write_file("BTCUSDT-7m.csv", [srow(T0)])
    with pytest.raises(DataImportError, match=r"unknown interval '7m'.*1m, 3m, 5m"):
        parse_file(path)


def test_parse_text_without_a_file(srow) -> None:
    parsed = parse_text(f"{srow(T0)}\n", source="<memory>", symbol="BTCUSDT", interval="1m")
    assert parsed.source == "<memory>" and len(parsed.series) == 1


def test_73k_rows_parse_well_under_a_second(write_file) -> None:
    n = 73_140
    t = T0 + np.arange(n, dtype=np.int64) * MIN
    base = 100_000 + np.cumsum(np.random.default_rng(7).normal(0, 20, n)).round(1)
    lines = [SIMPLE_HEADER] + [
        f"{ti},{b},{b + 5.5:.1f},{b - 5.5:.1f},{b + 0.1:.1f},{abs(b) % 97:.3f}"
        for ti, b in zip(t.tolist(), base.tolist(), strict=True)
    ]
    path = write_file("BTCUSDT-1m.csv.gz", lines, gz=True)
    started = time.perf_counter()
    parsed = parse_file(path)
    elapsed = time.perf_counter() - started
    assert len(parsed.series) == n and parsed.rejected == 0
    assert elapsed < 1.0, f"parsing {n} rows took {elapsed:.2f} s"
