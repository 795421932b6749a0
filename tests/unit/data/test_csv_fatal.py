"""Files that cannot be imported at all: one error naming the file, the line and the fix."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from slt.data.csv_import import parse_file
from slt.data.errors import DataImportError

HEADER = "open_time,open,high,low,close,volume"
T0 = 1_749_551_700_000
MIN = 60_000


def fatal(path: Path) -> DataImportError:
    with pytest.raises(DataImportError) as err:
        parse_file(path)
    error = err.value
    assert str(path) in str(error)
    assert "\n" not in str(error)
    return error


def test_wrong_column_count_on_a_later_line(write_file, srow) -> None:
    path = write_file("BTCUSDT-1m.csv", [HEADER, srow(T0), srow(T0 + MIN), f"{T0 + 2 * MIN},1,2,3"])
    error = fatal(path)
    assert error.line == 4
    assert f"{path}:4: 4 columns where the file has 6" in str(error)
    assert "repair or delete line 4" in str(error)


def test_wrong_column_count_on_the_first_line(write_file) -> None:
    error = fatal(write_file("BTCUSDT-1m.csv", ["1,2,3,4,5,6,7,8"]))
    assert error.line == 1 and "8 columns" in str(error) and "12-column" in str(error)


def test_not_csv_at_all(write_file) -> None:
    error = fatal(write_file("BTCUSDT-1m.csv", ["<html><body>404 Not Found</body></html>"]))
    assert error.line == 1 and "columns" in str(error)


def test_unrecognised_header(write_file, srow) -> None:
    error = fatal(write_file("BTCUSDT-1m.csv", ["time,o,h,l,c,v", srow(T0)]))
    assert error.line == 1 and "unrecognised header" in str(error)
    assert "open_time,open,high,low,close,volume" in str(error)


def test_binary_content_names_its_line(tmp_path: Path, srow) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_bytes(f"{HEADER}\n{srow(T0)}\n".encode() + b"\x00\x01\x02garbage\n")
    error = fatal(path)
    assert error.line == 3 and "binary content" in str(error)


def test_non_utf8_bytes_name_their_line(tmp_path: Path, srow) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_bytes(f"{HEADER}\n".encode() + b"\xff\xfe1,2,3\n")
    error = fatal(path)
    assert error.line == 2 and "UTF-8" in str(error)


def test_truncated_gzip_names_the_last_complete_line(tmp_path: Path, srow) -> None:
    lines = [HEADER] + [srow(T0 + i * MIN, v=float(i)) for i in range(5000)]
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "BTCUSDT-1m.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    error = fatal(path)
    assert "truncated" in str(error) and "re-download" in str(error)
    assert error.line is not None and 1 < error.line < len(lines)


def test_corrupt_gzip_stream(tmp_path: Path, srow) -> None:
    whole = bytearray(gzip.compress(f"{HEADER}\n{srow(T0)}\n".encode() * 50))
    whole[20:40] = b"\xff" * 20
    path = tmp_path / "BTCUSDT-1m.csv.gz"
    path.write_bytes(bytes(whole))
    assert "gzip" in str(fatal(path))


def test_garbage_after_the_gzip_data(tmp_path: Path, srow) -> None:
    path = tmp_path / "BTCUSDT-1m.csv.gz"
    path.write_bytes(gzip.compress(f"{HEADER}\n{srow(T0)}\n".encode()) + b"trailing junk")
    error = fatal(path)
    assert "after the gzip data" in str(error) and error.line == 3


def test_zip_with_several_files(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "1")
        archive.writestr("b.csv", "2")
    path = tmp_path / "BTCUSDT-1m.zip"
    path.write_bytes(buffer.getvalue())
    assert "holds 2 files" in str(fatal(path))


def test_truncated_zip(tmp_path: Path, brow) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("BTCUSDT-1m-2025-06.csv", "\n".join(brow(T0 + i * MIN) for i in range(99)))
    path = tmp_path / "BTCUSDT-1m-2025-06.zip"
    path.write_bytes(buffer.getvalue()[:200])
    assert "corrupt zip" in str(fatal(path))


@pytest.mark.parametrize("magic", [b"PAR1", b"ARROW1"])
def test_parquet_and_feather_are_named(tmp_path: Path, magic: bytes) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_bytes(magic + b"\x00" * 32)
    assert "Parquet/Feather" in str(fatal(path))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m.csv"
    path.write_bytes(b"")
    assert "empty" in str(fatal(path))


def test_header_only(write_file) -> None:
    assert "no candle rows" in str(fatal(write_file("BTCUSDT-1m.csv", [HEADER])))


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in str(fatal(tmp_path / "BTCUSDT-1m.csv"))


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "BTCUSDT-1m.csv"
    folder.mkdir()
    assert "directory" in str(fatal(folder))
