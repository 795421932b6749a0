"""Parse kline CSV files into a validated `CandleSeries`.

Two layouts are accepted, told apart by their column count:

* simple (6 columns): ``open_time,open,high,low,close,volume``, the format of shared/data;
* Binance dump (12 columns): ``open_time, open, high, low, close, volume, close_time,
  quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore``.

Both may or may not start with a header line, and may be plain, gzip or a one-file zip (see
`slt.data.source`). Numbers are parsed by numpy's C reader in one pass; only when that pass
meets a cell that is not a number does a per-line pass run, to name every such line. Floats
are parsed with correct rounding in both passes, so a stored price is bit-identical to the
decimal text in the file.

A file-level problem (not CSV, wrong column count, truncated) raises `DataImportError`. A
row-level problem rejects the row and is reported with its line; the rest of the file is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from slt.data.errors import DataImportError
from slt.data.source import read_source
from slt.data.validate import CleanColumns, Gap, RawColumns, RowError, clean
from slt.domain.candle import INTERVAL_MS, CandleSeries, interval_ms

Layout = Literal["simple", "binance"]
_LAYOUTS: dict[int, Layout] = {6: "simple", 12: "binance"}
_VALUE_NAMES = ("open", "high", "low", "close", "volume")
_TIME_NAMES = {"open_time", "opentime", "open_time_ms", "timestamp"}
_INT_RE = re.compile(r"\s*[+-]?[0-9]+\s*")
_NAME_RE = re.compile(
    r"(?P<symbol>[A-Za-z0-9]+)-(?P<interval>[0-9]+[a-zA-Z])(?:-[0-9]{4}-[0-9]{2}(?:-[0-9]{2})?)?"
)
_SUFFIXES = (".gz", ".gzip", ".zip", ".csv", ".txt")
_FIX_LAYOUT = (
    "use 6 columns (open_time,open,high,low,close,volume) or Binance's 12-column kline layout"
)


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """What one file yielded: the valid candles plus everything that was wrong with the rest.

    `rows_read` counts data lines (header and blank lines excluded); it always equals
    ``len(series) + len(errors) + duplicates``.
    """

    source: str
    series: CandleSeries
    layout: Layout
    has_header: bool
    time_unit: str
    rows_read: int
    errors: tuple[RowError, ...]
    gaps: tuple[Gap, ...]
    duplicates: int

    @property
    def symbol(self) -> str:
        return self.series.symbol

    @property
    def interval(self) -> str:
        return self.series.interval

    @property
    def rejected(self) -> int:
        return len(self.errors)


def infer_symbol_interval(name: str) -> tuple[str, str] | None:
    """Symbol and interval from a file name, or None when the name does not say.

    Understands ``BTCUSDT-1m.csv.gz`` and Binance's dump names ``BTCUSDT-1m-2024-01.csv``
    and ``BTCUSDT-1m-2024-01-15.zip``.
    """
    stem = Path(name).name
    while True:
        lowered = stem.lower()
        suffix = next((s for s in _SUFFIXES if lowered.endswith(s)), None)
        if suffix is None:
            break
        stem = stem[: -len(suffix)]
    match = _NAME_RE.fullmatch(stem)
    if match is None:
        return None
    return match["symbol"].upper(), match["interval"]


def parse_file(path: Path, *, symbol: str | None = None, interval: str | None = None) -> ParsedFile:
    """Read and validate one kline file; arguments override what the file name says."""
    src = read_source(path)
    return parse_text(
        src.text,
        source=str(path),
        symbol=symbol,
        interval=interval,
        names=(src.name, path.name),
    )


def parse_text(
    text: str,
    *,
    source: str,
    symbol: str | None = None,
    interval: str | None = None,
    names: tuple[str, ...] = (),
) -> ParsedFile:
    """Parse decoded CSV text. `names` are file names to infer symbol/interval from."""
    symbol, interval = _resolve_identity(source, symbol, interval, names)
    ims = interval_ms(interval)
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise DataImportError(source, "the file is empty", "pass a file with candle rows")
    head = [cell.strip() for cell in lines[first].split(",")]
    layout = _LAYOUTS.get(len(head))
    if layout is None:
        raise DataImportError(
            source, f"{len(head)} columns on the first line", _FIX_LAYOUT, line=first + 1
        )
    has_header = _INT_RE.fullmatch(head[0]) is None and not _is_number(head[0])
    if has_header:
        _check_header(head, source, first + 1)
    header = lines[first] if has_header else None
    numbers, data = _data_lines(lines, first + int(has_header), len(head), source, header)
    if not data:
        raise DataImportError(
            source, "no candle rows after the header", "pass a file with candle rows"
        )
    raw, parse_errors = _parse_numbers(data, numbers)
    cleaned = clean(raw, ims, interval)
    errors = sorted(parse_errors + list(cleaned.errors))
    return ParsedFile(
        source=source,
        series=_series(symbol, interval, cleaned),
        layout=layout,
        has_header=has_header,
        time_unit=cleaned.time_unit,
        rows_read=len(data),
        errors=tuple(RowError(source, line, reason) for line, reason in errors),
        gaps=cleaned.gaps,
        duplicates=cleaned.duplicates,
    )


def _resolve_identity(
    source: str, symbol: str | None, interval: str | None, names: tuple[str, ...]
) -> tuple[str, str]:
    inferred = next((r for r in map(infer_symbol_interval, names) if r is not None), None)
    if symbol is None or interval is None:
        if inferred is None:
            missing = " and ".join(
                n for n, v in (("symbol", symbol), ("interval", interval)) if v is None
            )
            raise DataImportError(
                source,
                f"cannot infer the {missing} from the file name",
                "name the file like BTCUSDT-1m.csv.gz or pass --symbol and --interval",
            )
        symbol = symbol if symbol is not None else inferred[0]
        interval = interval if interval is not None else inferred[1]
    symbol = symbol.strip().upper()
    if not symbol or any(ch.isspace() or ch in ",/\\" for ch in symbol) or len(symbol) > 40:
        raise DataImportError(
            source, f"invalid symbol {symbol!r}", "pass a Binance symbol such as BTCUSDT"
        )
    if interval not in INTERVAL_MS:
        raise DataImportError(
            source, f"unknown interval {interval!r}", f"use one of {', '.join(INTERVAL_MS)}"
        )
    return symbol, interval


def _check_header(head: list[str], source: str, line: int) -> None:
    names = [h.strip('"').lower().replace(" ", "_") for h in head]
    if names[0] not in _TIME_NAMES or tuple(names[1:6]) != _VALUE_NAMES:
        raise DataImportError(
            source,
            f"unrecognised header {','.join(head)!r}",
            "the first columns must be open_time,open,high,low,close,volume",
            line=line,
        )


def _data_lines(
    lines: list[str], start: int, width: int, source: str, header: str | None
) -> tuple[list[int], list[str]]:
    """Non-blank data lines with their 1-based numbers; a wrong column count is fatal.

    A line equal to the header is skipped: it is what `cat` of several dumps leaves behind.
    """
    commas = width - 1
    numbers: list[int] = []
    data: list[str] = []
    for i in range(start, len(lines)):
        line = lines[i]
        if line.count(",") != commas:
            if not line.strip():
                continue
            raise DataImportError(
                source,
                f"{line.count(',') + 1} columns where the file has {width}",
                f"repair or delete line {i + 1}; every row must have {width} columns",
                line=i + 1,
            )
        if line == header:
            continue
        numbers.append(i + 1)
        data.append(line)
    return numbers, data


def _parse_numbers(data: list[str], numbers: list[int]) -> tuple[RawColumns, list[tuple[int, str]]]:
    """All rows through numpy's reader; per-line fallback only when some cell is not a number."""
    line_no = np.asarray(numbers, dtype=np.int64)
    try:
        ot = np.loadtxt(data, delimiter=",", usecols=0, dtype=np.int64, comments=None, ndmin=1)
        vals = np.loadtxt(
            data, delimiter=",", usecols=(1, 2, 3, 4, 5), dtype=np.float64, comments=None, ndmin=2
        )
    except (ValueError, OverflowError):
        return _parse_numbers_slowly(data, numbers)
    return _raw(ot, vals, line_no), []


def _parse_numbers_slowly(
    data: list[str], numbers: list[int]
) -> tuple[RawColumns, list[tuple[int, str]]]:
    times: list[int] = []
    rows: list[tuple[float, ...]] = []
    kept: list[int] = []
    errors: list[tuple[int, str]] = []
    for number, line in zip(numbers, data, strict=True):
        cells = line.split(",")
        problem = _cell_problem(cells)
        if problem is not None:
            errors.append((number, problem))
            continue
        times.append(int(cells[0]))
        rows.append(tuple(float(c) for c in cells[1:6]))
        kept.append(number)
    ot = np.asarray(times, dtype=np.int64).reshape(-1)
    vals = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return _raw(ot, vals, np.asarray(kept, dtype=np.int64)), errors


def _cell_problem(cells: list[str]) -> str | None:
    if _INT_RE.fullmatch(cells[0]) is None:
        return f"open_time {cells[0].strip()!r} is not an integer"
    if not -(2**63) <= int(cells[0]) < 2**63:
        return f"open_time {cells[0].strip()} is out of range"
    for name, cell in zip(_VALUE_NAMES, cells[1:6], strict=True):
        if not _is_number(cell):
            return f"{name} {cell.strip()!r} is not a number"
    return None


def _is_number(cell: str) -> bool:
    """Whether Python/numpy would read *cell* as a float (ASCII only, no digit separators)."""
    if not cell.isascii() or "_" in cell:
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _raw(ot: npt.NDArray[Any], vals: npt.NDArray[Any], line_no: npt.NDArray[Any]) -> RawColumns:
    return RawColumns(
        open_time=ot.astype(np.int64, copy=False),
        open=vals[:, 0],
        high=vals[:, 1],
        low=vals[:, 2],
        close=vals[:, 3],
        volume=vals[:, 4],
        line=line_no.astype(np.int64, copy=False),
    )


def _series(symbol: str, interval: str, c: CleanColumns) -> CandleSeries:
    return CandleSeries(symbol, interval, c.open_time, c.open, c.high, c.low, c.close, c.volume)
