"""import_files and the bundled sample against both databases."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.data.csv_import import parse_file
from slt.data.errors import DataImportError
from slt.data.importer import FileReport, import_files
from slt.data.sample import SAMPLE_SYMBOLS, ensure_sample_loaded
from slt.storage import CandleStore

pytestmark = pytest.mark.integration

HEADER = "open_time,open,high,low,close,volume"
T0 = 1_749_551_700_000
MIN = 60_000


def write_csv(path: Path, rows: list[str], *, gz: bool = False) -> Path:
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def good_rows(n: int, start: int = T0) -> list[str]:
    return [f"{start + i * MIN},{10 + i},{11 + i},{9 + i},{10.5 + i},{i}.5" for i in range(n)]


async def test_real_shared_file_imports_exactly_and_only_once(
    engine: AsyncEngine, shared_data: Path
) -> None:
    path = shared_data / "market" / "futures" / "BTCUSDT-1m.csv.gz"
    store = CandleStore(engine)
    first = await import_files([path], store)
    (report,) = first.files
    assert (report.symbol, report.interval, report.rows_read) == ("BTCUSDT", "1m", 73_139)
    assert (report.inserted, report.already_present, report.rejected) == (73_139, 0, 0)
    assert report.gaps == () and report.first_open_ms == 1_746_372_780_000

    again = await import_files([path], store)
    assert (again.inserted, again.already_present) == (0, 73_139)

    stored = await store.load("BTCUSDT", "1m")
    parsed = parse_file(path).series
    for name in ("open_time", "open", "high", "low", "close", "volume"):
        assert getattr(stored, name).tobytes() == getattr(parsed, name).tobytes()


async def test_a_fatal_file_writes_nothing_and_earlier_files_stay(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    good = write_csv(tmp_path / "LTCUSDT-1m.csv", good_rows(50))
    whole = gzip.compress(("\n".join([HEADER, *good_rows(5_000)]) + "\n").encode())
    broken = tmp_path / "DOGEUSDT-1m.csv.gz"
    broken.write_bytes(whole[: len(whole) * 3 // 4])
    store = CandleStore(engine)
    committed: list[FileReport] = []
    with pytest.raises(DataImportError) as err:
        await import_files([good, broken], store, on_file=committed.append)
    assert str(broken) in str(err.value) and "truncated" in str(err.value)
    assert [r.path for r in committed] == [good]
    assert await store.count("LTCUSDT", "1m") == 50
    assert await store.count("DOGEUSDT", "1m") == 0


async def test_a_bad_column_count_at_the_end_writes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ADAUSDT-1m.csv", [*good_rows(1_000), "1,2,3"])
    store = CandleStore(engine)
    with pytest.raises(DataImportError, match=r"ADAUSDT-1m.csv:1002: 3 columns"):
        await import_files([path], store)
    assert await store.list_series() == []


async def test_missing_path_is_found_before_anything_is_written(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    good = write_csv(tmp_path / "LTCUSDT-1m.csv", good_rows(5))
    store = CandleStore(engine)
    with pytest.raises(DataImportError, match="file not found"):
        await import_files([good, tmp_path / "nope.csv"], store)
    assert await store.list_series() == []


async def test_report_counts_rejections_duplicates_and_gaps(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = good_rows(20)
    rows[3] = f"{T0 + 3 * MIN},10,5,11,10,1"  # high < low
    rows += [rows[0], rows[1]]  # identical duplicates
    rows += [f"{T0 + 30 * MIN},1,2,0.5,1,1"]  # after a 10-candle gap
    rows += [f"{T0 + 31 * MIN},x,2,0.5,1,1"] * 7  # 7 unparseable rows
    path = write_csv(tmp_path / "XRPUSDT-1m.csv", rows)
    calls: list[tuple[str, int, int]] = []
    report = await import_files(
        [path], CandleStore(engine), progress=lambda p, d, t: calls.append((p.name, d, t))
    )
    (f,) = report.files
    assert (f.rows_read, f.inserted, f.rejected, f.duplicates) == (30, 20, 8, 2)
    assert len(f.first_errors) == 5 and f.first_errors[0].line == 5
    assert [(g.missing, g.first_missing_ms) for g in f.gaps] == [
        (1, T0 + 3 * MIN),
        (10, T0 + 20 * MIN),
    ]
    assert calls[0] == ("XRPUSDT-1m.csv", 0, 20) and calls[-1] == ("XRPUSDT-1m.csv", 20, 20)


async def test_symbol_and_interval_arguments_apply_to_every_file(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    a = write_csv(tmp_path / "part-a.csv", good_rows(3))
    b = write_csv(tmp_path / "part-b.csv", good_rows(3, start=T0 + 3 * MIN))
    store = CandleStore(engine)
    report = await import_files([a, b], store, symbol="SOLUSDT", interval="1m")
    assert report.inserted == 6
    assert await store.count("SOLUSDT", "1m") == 6


async def test_sample_is_loaded_once(engine: AsyncEngine) -> None:
    store = CandleStore(engine)
    report = await ensure_sample_loaded(store)
    assert report is not None
    assert [f.symbol for f in report.files] == list(SAMPLE_SYMBOLS)
    assert report.inserted == 4 * 20_157 and report.rejected == 0
    assert await ensure_sample_loaded(store) is None
    assert {s.symbol for s in await store.list_series()} == set(SAMPLE_SYMBOLS)


async def test_sample_is_not_mixed_into_a_users_own_series(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    store = CandleStore(engine)
    await import_files([write_csv(tmp_path / "DOGEUSDT-1m.csv", good_rows(5))], store)
    assert await ensure_sample_loaded(store) is None
    assert [s.symbol for s in await store.list_series()] == ["DOGEUSDT"]
