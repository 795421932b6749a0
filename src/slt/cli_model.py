"""`slt train` and `slt model …`: train a model, list the registry, show one model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from slt.backtest import service as backtest_service
from slt.backtest.driver import BacktestError
from slt.backtest.ml_run import training_slice
from slt.config import ConfigError, Settings, load_settings
from slt.data.validate import fmt_ms
from slt.model.errors import ModelError
from slt.model.registry import ModelRecord, ModelStatus
from slt.model.service import get_model, list_models, set_model_status, train_model
from slt.rules import bundled_rules
from slt.storage import StorageError

model_app = typer.Typer(name="model", help="The model registry.", no_args_is_help=True)
console = Console()
Fail = typer.Exit


def train_command(
    fail: Any,
    symbols: tuple[str, ...],
    interval: str | None,
    start_ms: int | None,
    end_ms: int | None,
    config: Path | None,
) -> None:
    """Train on stored candles before `end_ms` (default: the first half of the stored span),
    register the model, and make it the champion when none exists yet."""
    try:
        settings = load_settings(config)
        overrides: dict[str, Any] = {"symbols": symbols, "start_ms": start_ms, "end_ms": None}
        if interval:
            overrides["interval"] = interval
        settings = load_settings(config, backtest={**settings.backtest.model_dump(), **overrides})
        series, _ = asyncio.run(
            backtest_service.load_candles(
                settings,
                settings.backtest.symbols,
                settings.backtest.interval,
                lambda: console.print("No candles stored yet: loading the bundled sample."),
            )
        )
        data = training_slice(series, end_ms)
        record = _train_with_progress(settings, data)
        champion = asyncio.run(list_models(settings, ModelStatus.CHAMPION))
        if not champion:
            asyncio.run(set_model_status(settings, record.model_id, ModelStatus.CHAMPION))
            record = asyncio.run(get_model(settings, record.model_id))
    except ConfigError as exc:
        fail(str(exc), 2)
    except (BacktestError, ModelError, StorageError) as exc:
        fail(str(exc))
    _print_record(record)


def _train_with_progress(settings: Settings, data: list[Any]) -> ModelRecord:
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("dataset", total=1)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=max(total, 1))

        return asyncio.run(train_model(settings, data, progress=progress, rules=bundled_rules()))


@model_app.command("list")
def list_command(
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
) -> None:
    """Registered models, newest first."""
    settings = load_settings(config)
    records = asyncio.run(list_models(settings))
    table = Table(title="Models")
    for col in ("id", "status", "created (UTC)", "trained on", "symbols", "OOS IC"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.model_id,
            r.status.value,
            fmt_ms(r.created_ms),
            f"{fmt_ms(r.train_first_ms)} → {fmt_ms(r.train_last_ms)}",
            ",".join(r.symbols),
            _fmt(_oos(r).get("ic")),
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
        console.print(f"[bold red]error:[/] {exc}")
        raise Fail(1) from None
    _print_record(record)
    console.print_json(json.dumps(record.metrics, default=str))


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
