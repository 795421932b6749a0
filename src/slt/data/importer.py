"""Import kline files into the candle store, one all-or-nothing transaction per file.

Each file is parsed completely before anything is written (so a file-level error leaves the
store untouched), then written in one transaction (so a database error part-way leaves it
untouched too). Files are independent: when file 3 of 5 is bad, files 1 and 2 stay imported
and the error names file 3. All paths are checked for existence first, so a typo in the
last argument does not surface after a long import of the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from slt.data.csv_import import ParsedFile, parse_file
from slt.data.errors import DataImportError
from slt.data.validate import Gap, RowError
from slt.storage.candles import CandleStore
from slt.storage.engine import StorageError, describe_url

ERRORS_KEPT = 5
"""How many rejected rows a `FileReport` keeps verbatim (the count covers all of them)."""

ProgressCallback = Callable[[Path, int, int], None]
"""Called as (file, rows written so far, rows to write): once at 0, then after each chunk."""


@dataclass(frozen=True, slots=True)
class FileReport:
    """The outcome of one file. Times are int UTC ms; None when no row was valid."""

    path: Path
    symbol: str
    interval: str
    layout: str
    time_unit: str
    rows_read: int
    inserted: int
    already_present: int
    rejected: int
    duplicates: int
    first_errors: tuple[RowError, ...]
    gaps: tuple[Gap, ...]
    first_open_ms: int | None
    last_open_ms: int | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of a whole import, file by file, with totals."""

    files: tuple[FileReport, ...]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def inserted(self) -> int:
        return sum(f.inserted for f in self.files)

    @property
    def already_present(self) -> int:
        return sum(f.already_present for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)


async def import_files(
    paths: Iterable[Path | str],
    store: CandleStore,
    *,
    symbol: str | None = None,
    interval: str | None = None,
    progress: ProgressCallback | None = None,
    on_file: Callable[[FileReport], None] | None = None,
) -> ImportReport:
    """Parse, validate and store each file; `DataImportError` on the first unusable file.

    *symbol* and *interval*, when given, apply to every file (otherwise each file's name
    says). *on_file* is called with each file's report once its transaction has committed,
    so a caller interrupted by an error knows which files are in the store. Run
    `slt.storage.migrate` on the store's engine first.
    """
    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            problem = "is a directory" if path.is_dir() else "file not found"
            raise DataImportError(path, problem, "pass existing kline CSV files")
    reports = []
    for path in files:
        parsed = await asyncio.to_thread(parse_file, path, symbol=symbol, interval=interval)
        report = await _store(parsed, path, store, progress)
        reports.append(report)
        if on_file is not None:
            on_file(report)
    return ImportReport(tuple(reports))


async def _store(
    parsed: ParsedFile, path: Path, store: CandleStore, progress: ProgressCallback | None
) -> FileReport:
    series = parsed.series
    total = len(series)
    if progress is not None:
        progress(path, 0, total)

    def on_chunk(done: int) -> None:
        if progress is not None:
            progress(path, done, total)

    inserted = 0
    if total:
        try:
            inserted = await store.write(series, progress=on_chunk)
        except (DBAPIError, OSError) as exc:
            where = describe_url(store.engine.url)
            raise StorageError(
                f"writing {path} to {where} failed ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0]}); nothing of this file was written, "
                "fix the database problem and import it again"
            ) from exc
    return FileReport(
        path=path,
        symbol=parsed.symbol,
        interval=parsed.interval,
        layout=parsed.layout,
        time_unit=parsed.time_unit,
        rows_read=parsed.rows_read,
        inserted=inserted,
        already_present=total - inserted,
        rejected=parsed.rejected,
        duplicates=parsed.duplicates,
        first_errors=parsed.errors[:ERRORS_KEPT],
        gaps=parsed.gaps,
        first_open_ms=int(series.open_time[0]) if total else None,
        last_open_ms=int(series.open_time[-1]) if total else None,
    )
