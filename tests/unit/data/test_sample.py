"""The bundled sample: four real 1m series over one common two-week window."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import (
    SAMPLE_FIRST_OPEN_MS,
    SAMPLE_INTERVAL,
    SAMPLE_LAST_OPEN_MS,
    SAMPLE_SYMBOLS,
    sample_files,
)

ROWS = (SAMPLE_LAST_OPEN_MS - SAMPLE_FIRST_OPEN_MS) // 60_000 + 1


def test_sample_files_are_packaged_and_small() -> None:
    files = sample_files()
    assert [f.name for f in files] == [f"{s}-1m.csv.gz" for s in SAMPLE_SYMBOLS]
    assert sum(f.stat().st_size for f in files) < 3_000_000
    assert (files[0].parent / "README.md").is_file()


def test_each_sample_series_is_clean_and_covers_the_common_window() -> None:
    assert SAMPLE_INTERVAL == "1m"
    assert ROWS == 20_157  # 14 days of DOGEUSDT minus the 3 minutes BTCUSDT ends earlier
    for path in sample_files():
        parsed = parse_file(path)
        assert parsed.layout == "simple" and parsed.has_header
        assert (parsed.rejected, parsed.duplicates, parsed.gaps) == (0, 0, ())
        assert len(parsed.series) == ROWS
        assert int(parsed.series.open_time[0]) == SAMPLE_FIRST_OPEN_MS
        assert int(parsed.series.open_time[-1]) == SAMPLE_LAST_OPEN_MS


@pytest.mark.integration
def test_sample_lines_are_copied_verbatim_from_the_shared_data(shared_data: Path) -> None:
    for path in sample_files():
        sample_lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        source = shared_data / "market" / "futures" / path.name
        source_lines = gzip.decompress(source.read_bytes()).decode().splitlines()
        assert sample_lines[0] == source_lines[0]
        start = source_lines.index(sample_lines[1])
        assert source_lines[start : start + len(sample_lines) - 1] == sample_lines[1:]
