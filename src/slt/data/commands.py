"""`slt data …`: import kline files into the local store and list what it holds.

A thin shell over `slt.data.importer` and `slt.storage`: it reads the settings to find the
database, migrates it, runs the import with a progress bar per file and prints a summary.
Every expected failure (bad file, unreachable database, bad configuration) ends with one
`error:` line on stderr and exit code 1; a traceback means a bug.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from slt.cli_support import fail
from slt.config import ConfigError, load_settings
from slt.data.errors import DataImportError
from slt.data.importer import FileReport, ImportReport, import_files
from slt.data.validate import fmt_ms
from slt.domain.candle import interval_ms
from slt.storage import CandleStore, SeriesInfo, StorageError, create_engine, migrate
from slt.storage.engine import describe_url

GAPS_SHOWN = 5

data_app = typer.Typer(
    name="data",
    help="Import historical candles into the local store and list what it holds.",
    no_args_is_help=True,
)
_out = Console()


@data_app.command("import")
def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Kline CSV files (plain, .gz or .zip): Binance's 12-column dump layout or "
            "open_time,open,high,low,close,volume; with or without a header.",
            show_default=False,
        ),
    ],
    symbol: Annotated[
        str | None,
        typer.Option(help="Symbol for every file, e.g. BTCUSDT (default: from the file name)."),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(help="Candle interval for every file, e.g. 1m (default: from the file name)."),
    ] = None,
) -> None:
    """Validate FILES and store their candles; re-importing a file adds nothing."""
    url = _database_url()
    done: list[FileReport] = []
    try:
        report = asyncio.run(_import(files, symbol, interval, url, done))
    except (DataImportError, StorageError) as exc:
        before = f" ({len(done)} earlier file(s) were imported)" if done else ""
        fail(f"{exc}{before}")
    _print_report(report, url)


@data_app.command("list")
def list_command() -> None:
    """Show every stored series with its range, row count and missing candles."""
    url = _database_url()
    try:
        series = asyncio.run(_list(url))
    except StorageError as exc:
        fail(str(exc))
    if not series:
        _out.print(f"no candles in {describe_url(url)}; add some with `slt data import FILE...`")
        return
    table = Table(
        title=f"candles in {describe_url(url)} (times UTC)", box=box.SIMPLE_HEAD, pad_edge=False
    )
    for name in ("symbol", "interval", "first open", "last open", "rows", "missing"):
        table.add_column(name, justify="right" if name in ("rows", "missing") else "left")
    for s in series:
        expected = (s.last_open_ms - s.first_open_ms) // interval_ms(s.interval) + 1
        table.add_row(
            s.symbol,
            s.interval,
            fmt_ms(s.first_open_ms).removesuffix(" UTC"),
            fmt_ms(s.last_open_ms).removesuffix(" UTC"),
            f"{s.rows:,}",
            f"{expected - s.rows:,}",
        )
    _out.print(table)


def _database_url() -> str:
    try:
        return load_settings().effective_database_url
    except ConfigError as exc:
        fail(str(exc))


async def _import(
    files: list[Path], symbol: str | None, interval: str | None, url: str, done: list[FileReport]
) -> ImportReport:
    engine = create_engine(url)
    try:
        await migrate(engine)
        store = CandleStore(engine)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=_out, transient=False) as bar:
            tasks: dict[Path, TaskID] = {}

            def progress(path: Path, written: int, total: int) -> None:
                if path not in tasks:
                    tasks[path] = bar.add_task(escape(path.name), total=total or 1)
                bar.update(tasks[path], completed=written if total else 1)

            return await import_files(
                files,
                store,
                symbol=symbol,
                interval=interval,
                progress=progress,
                on_file=done.append,
            )
    finally:
        await engine.dispose()


async def _list(url: str) -> list[SeriesInfo]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        return await CandleStore(engine).list_series()
    finally:
        await engine.dispose()


def _print_report(report: ImportReport, url: str) -> None:
    table = Table(title=f"import into {describe_url(url)}", box=box.SIMPLE_HEAD, pad_edge=False)
    names = ("file", "series", "read", "new", "present", "rejected", "dups", "gaps")
    for name in names:
        if name == "file":
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, justify="left" if name == "series" else "right", no_wrap=True)
    for f in report.files:
        table.add_row(
            escape(f.path.name),
            f"{f.symbol} {f.interval}",
            f"{f.rows_read:,}",
            f"{f.inserted:,}",
            f"{f.already_present:,}",
            f"{f.rejected:,}",
            f"{f.duplicates:,}",
            f"{len(f.gaps):,}",
        )
    if len(report.files) > 1:
        table.add_row(
            "total",
            "",
            f"{report.rows_read:,}",
            f"{report.inserted:,}",
            f"{report.already_present:,}",
            f"{report.rejected:,}",
            f"{sum(f.duplicates for f in report.files):,}",
            f"{sum(len(f.gaps) for f in report.files):,}",
        )
    _out.print(table)
    for f in report.files:
        name = escape(f.path.name)
        for error in f.first_errors:
            _out.print(f"[yellow]rejected[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        if f.rejected > len(f.first_errors):
            _out.print(f"  … and {f.rejected - len(f.first_errors):,} more in {name}")
        for gap in f.gaps[:GAPS_SHOWN]:
            where = f"{name} {f.symbol} {f.interval}"
            _out.print(f"[yellow]gap[/] {where}: {gap}", highlight=False, soft_wrap=True)
        if len(f.gaps) > GAPS_SHOWN:
            _out.print(f"  … and {len(f.gaps) - GAPS_SHOWN:,} more gaps in {name}")
