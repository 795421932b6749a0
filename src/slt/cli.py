"""The `slt` command line. Thin: parse options, build settings, call a use case, print."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from slt.backtest import service
from slt.backtest.driver import BacktestError
from slt.backtest.ml_run import prepare_ml
from slt.backtest.report_terminal import render_summary
from slt.cli_model import model_app, train_command
from slt.cli_run import run_command
from slt.cli_status import status_command
from slt.cli_support import fail, parse_utc_ms
from slt.config import ConfigError, load_settings
from slt.data.commands import data_app
from slt.data.validate import fmt_ms
from slt.model.errors import ModelError
from slt.rules import UnknownSymbolError, bundled_rules
from slt.storage import StorageError
from slt.venues.local.cli import exchange_app

app = typer.Typer(
    name="slt",
    help="SelfLearningTrader: automated trading for Binance USDⓈ-M perpetual futures.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.add_typer(model_app, name="model")
app.add_typer(exchange_app, name="exchange")
app.command("run")(run_command)
app.command("status")(status_command)
console = Console()


def _parse_time(value: str | None, option: str) -> int | None:
    """An optional time option as int UTC ms (one error line naming the option when bad)."""
    if value is None:
        return None
    try:
        return parse_utc_ms(value)
    except ValueError as exc:
        fail(f"{option} {exc}")


@app.command()
def backtest(
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols (default: all stored)")
    ] = None,
    interval: Annotated[str | None, typer.Option(help="Candle interval, e.g. 1m")] = None,
    start: Annotated[str | None, typer.Option(help="Start (UTC date or ms)")] = None,
    end: Annotated[str | None, typer.Option(help="End, exclusive (UTC date or ms)")] = None,
    balance: Annotated[float | None, typer.Option(help="Initial balance, USDT")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
    html: Annotated[bool, typer.Option(help="Write the HTML report")] = True,
    strategy: Annotated[
        str | None, typer.Option(help="baseline, or ml (the champion model, self-learning)")
    ] = None,
) -> None:
    """Backtest the strategy on stored candles (the bundled sample on first use)."""
    overrides: dict[str, object] = {}
    if strategy:
        overrides["strategy"] = strategy
    if symbols:
        overrides["symbols"] = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if interval:
        overrides["interval"] = interval
    if (start_ms := _parse_time(start, "--start")) is not None:
        overrides["start_ms"] = start_ms
    if (end_ms := _parse_time(end, "--end")) is not None:
        overrides["end_ms"] = end_ms
    if balance is not None:
        overrides["initial_balance"] = balance
    try:
        base = load_settings(config)
        settings = (
            load_settings(config, backtest={**base.backtest.model_dump(), **overrides})
            if overrides
            else base
        )
        bt = settings.backtest
        rules = bundled_rules()
        for s in bt.symbols:
            rules.get(s)

        def loading_sample() -> None:
            console.print("No candles stored yet: loading the bundled sample (4 symbols, 1m).")

        series, _ = asyncio.run(
            service.load_candles(settings, bt.symbols, bt.interval, loading_sample)
        )
        with Progress(
            TextColumn("backtest"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("run", total=1)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            ml = None
            if bt.strategy == "ml":
                bar.update(task, description="training")
                ml = asyncio.run(
                    prepare_ml(
                        settings,
                        rules,
                        series,
                        on_train=lambda: console.print(
                            "No champion model yet: training one on the first half of the data."
                        ),
                        progress=lambda stage, done, total: bar.update(
                            task, completed=done, total=max(total, 1)
                        ),
                    )
                )
                console.print(
                    f"model {ml.record.model_id}; trading out of sample from "
                    f"{fmt_ms(ml.start_ms)} (it learned from candles before)"
                )
            result, metrics, path, comparison = service.run(
                settings,
                rules,
                series,
                html=html,
                progress=progress,
                strategy=ml.strategy if ml else None,
                start_ms=ml.start_ms if ml else None,
                compare=ml is not None,
            )
        render_summary(result, metrics, console, comparison)
        asyncio.run(service.store_run(settings, result, metrics))
    except ConfigError as exc:
        fail(str(exc), 2)
    except (BacktestError, UnknownSymbolError, StorageError, ModelError) as exc:
        fail(str(exc))
    speed = result.candles_processed / result.elapsed_s if result.elapsed_s else 0.0
    console.print(
        f"run {result.run_id}: {result.candles_processed:,} candles in {result.elapsed_s:.2f} s "
        f"({speed:,.0f} candles/s); stored in {settings.effective_database_url.split('///')[-1]}"
    )
    if path is not None:
        console.print(f"report: {path}")


@app.command()
def train(
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols (default: all stored)")
    ] = None,
    interval: Annotated[str | None, typer.Option(help="Candle interval, e.g. 1m")] = None,
    start: Annotated[str | None, typer.Option(help="First candle used (UTC date or ms)")] = None,
    end: Annotated[
        str | None,
        typer.Option(help="Train on candles before this (default: first half of the data)"),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
) -> None:
    """Train a model on stored candles, register and check it (champion if it is the first
    and its checks pass)."""
    chosen = tuple(s.strip().upper() for s in symbols.split(",") if s.strip()) if symbols else ()
    train_command(
        chosen,
        interval,
        _parse_time(start, "--start"),
        _parse_time(end, "--end"),
        config,
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
