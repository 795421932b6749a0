"""`slt run`: the trading system (Orchestrator, Feed and Brain processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from slt.cli_support import fail
from slt.config import ConfigError, load_settings
from slt.logs import setup_logging
from slt.runtime.launch import LaunchError, LaunchOptions, launch
from slt.runtime.spec import VenueKind
from slt.runtime.symbols import SymbolChoiceError
from slt.storage import StorageError
from slt.venues.binance.errors import VenueError


def run_command(
    venue: Annotated[str, typer.Option(help="local (offline, the default) or binance")] = "local",
    testnet: Annotated[bool, typer.Option("--testnet", help="Binance's futures testnet")] = False,
    live: Annotated[bool, typer.Option("--live", help="Binance production, real money")] = False,
    confirm_live: Annotated[
        bool,
        typer.Option(
            "--i-understand-this-trades-real-money",
            help="Required with --live: orders will use the account's real funds",
        ),
    ] = False,
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols (default: the most traded)")
    ] = None,
    strategy: Annotated[str | None, typer.Option(help="baseline or ml (the champion)")] = None,
    speed: Annotated[
        float | None, typer.Option(help="Offline: market seconds per wall second")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="JSON log lines")] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
    port: Annotated[int, typer.Option(help="Offline: the local exchange's port (0 = any)")] = 0,
    exchange_url: Annotated[
        str | None,
        typer.Option(help="Offline: trade on a running `slt exchange serve` (give its --speed)"),
    ] = None,
    flatten: Annotated[
        bool,
        typer.Option(
            "--flatten",
            help="On shutdown, close every open position and wait for the exchange to confirm "
            "(up to live.flatten_timeout_s)",
        ),
    ] = False,
) -> None:
    """Trade: offline against the built-in exchange by default, or on Binance.

    Offline needs nothing: the local exchange replays the stored candles (the bundled sample
    on a fresh install) at an accelerated clock, and the system trades them in paper mode.
    Stop with Ctrl-C or SIGTERM: the Feed stops, the Brain saves its state, exit 0. Open
    positions stay open (their stops rest on the exchange) unless --flatten is given.
    """
    kind: VenueKind
    if venue == "local":
        if testnet or live:
            fail("--testnet and --live go with --venue binance")
        kind = "local"
    elif venue == "binance":
        if testnet == live:
            fail("--venue binance needs exactly one of --testnet or --live")
        if live and not confirm_live:
            fail("--live trades real money: add --i-understand-this-trades-real-money")
        kind = "live" if live else "testnet"
    else:
        fail(f"--venue must be local or binance, not {venue!r}")
    overrides: dict[str, object] = {}
    if symbols:
        overrides["symbols"] = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if strategy:
        overrides["strategy"] = strategy
    if speed is not None:
        overrides["replay_speed"] = speed
    setup_logging(log_level, json=log_json, role="orchestrator")
    try:
        base = load_settings(config)
        settings = (
            load_settings(config, live={**base.live.model_dump(), **overrides})
            if overrides
            else base
        )
        code = asyncio.run(
            launch(
                settings,
                LaunchOptions(
                    kind,
                    log_json=log_json,
                    log_level=log_level,
                    port=port,
                    exchange_url=exchange_url,
                    flatten=flatten,
                ),
            )
        )
    except (ConfigError, LaunchError, SymbolChoiceError, StorageError, VenueError) as exc:
        fail(str(exc))
    raise typer.Exit(code)
