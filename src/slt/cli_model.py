"""`slt train` and `slt model …`: train, check, promote, list and show models."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from slt.backtest import service as backtest_service
from slt.backtest.driver import BacktestError
from slt.backtest.ml_run import training_slice
from slt.cli_support import fail
from slt.config import ConfigError, Settings, load_settings
from slt.data.validate import fmt_ms
from slt.domain import CandleSeries
from slt.model.checks import CheckReport
from slt.model.errors import ModelError
from slt.model.registry import ModelRecord, ModelStatus
from slt.model.service import (
    check_model,
    get_model,
    list_models,
    promote_model,
    stored_checks,
    train_model,
)
from slt.rules import bundled_rules
from slt.storage import StorageError

model_app = typer.Typer(name="model", help="The model registry.", no_args_is_help=True)
console = Console()
StageProgress = Callable[[str, int, int], None]
T = TypeVar("T")


def train_command(
    symbols: tuple[str, ...],
    interval: str | None,
    start_ms: int | None,
    end_ms: int | None,
    config: Path | None,
) -> None:
    """Train on stored candles before `end_ms` (default: the first half of the stored span),
    register the model, check it, and make it the champion when none exists yet and its
    checks passed."""
    try:
        settings = load_settings(config)
        overrides: dict[str, Any] = {"symbols": symbols, "start_ms": start_ms, "end_ms": None}
        if interval:
            overrides["interval"] = interval
        settings = load_settings(config, backtest={**settings.backtest.model_dump(), **overrides})
        series = _load(settings, settings.backtest.symbols, settings.backtest.interval)
        data = training_slice(series, end_ms)
        record = _with_progress(
            lambda p: asyncio.run(train_model(settings, data, progress=p, rules=bundled_rules()))
        )
        _print_record(record)
        report = _run_checks(settings, record.model_id, list(series.values()))
        _print_summary(report)
        champion = asyncio.run(list_models(settings, ModelStatus.CHAMPION))
        if champion:
            console.print(
                f"The champion stays {champion[0].model_id}; promote this model with "
                f"`slt model promote {record.model_id}`."
            )
        elif report.passed:
            asyncio.run(promote_model(settings, record.model_id))
            console.print(f"{record.model_id} is the champion (the first model).")
        else:
            fail(f"{record.model_id} failed its checks and was not made champion")
    except ConfigError as exc:
        fail(str(exc), 2)
    except (BacktestError, ModelError, StorageError) as exc:
        fail(str(exc))


@model_app.command("check")
def check_command(
    model_id: Annotated[
        str | None, typer.Argument(help="Model id (default: the champion, else the newest)")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
) -> None:
    """Bias and health checks of a model on the stored candles; a failure blocks promotion.

    Lookahead (truncation test), random-walk and label-permutation controls, the IC alarm,
    train/test overlap, label balance, feature importance and feature drift. The report is
    stored with the model. Exit code 1 when a blocking check failed.
    """
    try:
        settings = load_settings(config)
        record = _pick(settings, model_id)
        series = _load(settings, record.symbols, record.interval)
        report = _run_checks(settings, record.model_id, list(series.values()))
    except ConfigError as exc:
        fail(str(exc), 2)
    except (BacktestError, ModelError, StorageError) as exc:
        fail(str(exc))
    _print_report(report)
    if not report.passed:
        raise typer.Exit(1)


@model_app.command("promote")
def promote_command(
    model_id: Annotated[str, typer.Argument(help="Model id from `slt model list`")],
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
) -> None:
    """Make a model the champion; refused unless its stored checks passed."""
    try:
        settings = load_settings(config)
        record = asyncio.run(promote_model(settings, model_id))
    except ConfigError as exc:
        fail(str(exc), 2)
    except (ModelError, StorageError) as exc:
        fail(str(exc))
    console.print(f"{record.model_id} is now the champion.")


@model_app.command("list")
def list_command(
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
) -> None:
    """Registered models, newest first."""
    settings = load_settings(config)
    records = asyncio.run(list_models(settings))
    table = Table(title="Models")
    for col in ("id", "status", "created (UTC)", "trained on", "symbols", "OOS IC", "checks"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.model_id,
            r.status.value,
            fmt_ms(r.created_ms),
            f"{fmt_ms(r.train_first_ms)} → {fmt_ms(r.train_last_ms)}",
            ",".join(r.symbols),
            _fmt(_oos(r).get("ic")),
            _checks_word(stored_checks(r)),
        )
    console.print(table if records else "No models yet: train one with `slt train`.")


@model_app.command("show")
def show_command(
    model_id: Annotated[str, typer.Argument(help="Model id from `slt model list`")],
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
) -> None:
    """Everything recorded about one model: window, data fingerprint, parameters, metrics."""
    settings = load_settings(config)
    try:
        record = asyncio.run(get_model(settings, model_id))
    except ModelError as exc:
        fail(str(exc))
    _print_record(record)
    console.print_json(json.dumps(record.metrics, default=str))
    report = stored_checks(record)
    if report is not None:
        _print_report(report)


def _pick(settings: Settings, model_id: str | None) -> ModelRecord:
    if model_id:
        return asyncio.run(get_model(settings, model_id))
    records = asyncio.run(list_models(settings))
    if not records:
        raise ModelError("no models yet: train one with `slt train`")
    champions = [r for r in records if r.status is ModelStatus.CHAMPION]
    return champions[0] if champions else records[0]


def _load(settings: Settings, symbols: Sequence[str], interval: str) -> dict[str, CandleSeries]:
    series, _ = asyncio.run(
        backtest_service.load_candles(
            settings,
            tuple(symbols),
            interval,
            lambda: console.print("No candles stored yet: loading the bundled sample."),
        )
    )
    return series


def _run_checks(settings: Settings, model_id: str, series: list[CandleSeries]) -> CheckReport:
    console.print(f"Checking {model_id} (lookahead, random walk, label permutation, drift…)")
    return _with_progress(
        lambda p: asyncio.run(
            check_model(settings, model_id, series, progress=p, rules=bundled_rules())
        )
    )


def _with_progress(work: Callable[[StageProgress], T]) -> T:
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=max(total, 1))

        return work(progress)


def _checks_word(report: CheckReport | None) -> str:
    if report is None:
        return "—"
    return "passed" if report.passed else f"FAILED ({len(report.failures)})"


def _print_summary(report: CheckReport) -> None:
    """One line, then every failure and warning in full."""
    word = "passed" if report.passed else "FAILED"
    console.print(
        f"checks {word}: {len(report.results)} results, {len(report.failures)} blocking "
        f"failure(s), {len(report.warnings)} warning(s)"
    )
    for line in report.lines():
        if not line.startswith("PASS"):
            console.print(f"  {escape(line)}", highlight=False)


def _print_report(report: CheckReport) -> None:
    table = Table(title=f"Checks of {report.model_id}", show_lines=False)
    table.add_column("result")
    table.add_column("check")
    table.add_column("detail", overflow="fold")
    styles = {"PASS": "green", "FAIL": "bold red", "WARN": "yellow", "INFO": "cyan"}
    for line in report.lines():
        mark, rest = line[:4], line[5:]
        name, _, detail = rest.partition(": ")
        table.add_row(f"[{styles.get(mark, '')}]{mark}[/]", name, escape(detail))
    console.print(table)
    word = "passed" if report.passed else "FAILED: promotion is blocked"
    console.print(f"checks {word}")


def _oos(record: ModelRecord) -> dict[str, Any]:
    wf = record.metrics.get("walk_forward") or {}
    oos = wf.get("oos") if isinstance(wf, dict) else None
    return oos if isinstance(oos, dict) else {}


def _fmt(value: Any) -> str:
    return f"{value:+.4f}" if isinstance(value, int | float) else "—"


def _print_record(r: ModelRecord) -> None:
    oos = _oos(r)
    console.print(
        f"model [bold]{r.model_id}[/] ({r.status.value}), schema v{r.schema_version} "
        f"{r.schema_hash[:12]}…, {r.interval} {', '.join(r.symbols)}\n"
        f"trained on {fmt_ms(r.train_first_ms)} → {fmt_ms(r.train_last_ms)}, label horizon "
        f"{r.label_horizon} bars, data {r.data_fingerprint[:12]}…\n"
        f"walk-forward out of sample: IC {_fmt(oos.get('ic'))}, daily IC t "
        f"{_fmt(oos.get('ic_daily_t'))}, direction accuracy {_fmt(oos.get('direction_accuracy'))}"
        f", top/bottom decile return {_fmt(oos.get('top_decile_return'))}/"
        f"{_fmt(oos.get('bottom_decile_return'))}"
    )
