"""`slt exchange serve`: run the local exchange on loopback over the stored candles.

Candles come from the candle store exactly as `slt backtest` loads them (the bundled sample is
imported on first use), so whatever `slt data import` stored can be replayed. The command
prints the base URL, the API key and secret it accepts and a ccxt snippet pointed at it, then
serves until interrupted.

Everything is mounted through `assemble.start_local_exchange`: the public, trading and
listenKey endpoints, the market and user-data WebSocket routes and the stream pump.
"""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from slt.backtest.driver import BacktestError
from slt.backtest.service import load_candles
from slt.cli_support import fail, parse_utc_ms
from slt.config import ConfigError, load_settings
from slt.domain import CandleSeries
from slt.rules import bundled_rules
from slt.storage import StorageError
from slt.venues.local.assemble import build_local_exchange, start_local_exchange
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange

exchange_app = typer.Typer(
    help="A local Binance USDⓈ-M exchange replaying stored candles (REST + WebSocket).",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)

CCXT_SNIPPET = """\
import ccxt.async_support as ccxt

exchange = ccxt.binanceusdm({{
    "apiKey": "{key}",
    "secret": "{secret}",
    "options": {{
        "fetchMarkets": {{"types": ["linear"]}},
        "fetchCurrencies": False,
    }},
}})
base = "{base}"
exchange.urls["api"] = {{
    "fapiPublic": f"{{base}}/fapi/v1",
    "fapiPrivate": f"{{base}}/fapi/v1",
    "fapiPublicV2": f"{{base}}/fapi/v2",
    "fapiPrivateV2": f"{{base}}/fapi/v2",
    "fapiPublicV3": f"{{base}}/fapi/v3",
    "fapiPrivateV3": f"{{base}}/fapi/v3",
}}
"""


def parse_start(value: str | None) -> int | None:
    """ISO date/time (UTC) or int ms → int UTC ms; None stays None (the first candle)."""
    if value is None:
        return None
    try:
        return parse_utc_ms(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _load(config: Path | None, symbols: tuple[str, ...]) -> dict[str, CandleSeries]:
    settings = load_settings(config)

    def loading_sample() -> None:
        console.print("No candles stored yet: importing the bundled sample …")

    series, _ = await load_candles(settings, symbols, "1m", loading_sample)
    return series


async def _run(ex: LocalExchange, host: str, port: int) -> None:
    running = await start_local_exchange(ex, host, port)
    base = running.base_url
    key, secret = next(iter(ex.api_keys.items()))
    console.print(f"Local exchange on [bold]{base}[/] (REST)", highlight=False)
    console.print(
        f"WebSocket streams on ws://{host}:{running.port}/market/ws/<stream>, "
        f"/market/stream?streams=…, user data on /private/ws/<listenKey>",
        highlight=False,
    )
    console.print(f"API key:    {key}\nAPI secret: {secret}", highlight=False)
    console.print(
        f"Replaying {', '.join(ex.market.symbols)} from "
        f"{datetime.fromtimestamp(ex.clock.now_ms() / 1000, UTC):%Y-%m-%d %H:%M} UTC "
        f"at {ex.clock.speed:g}× real time",
        highlight=False,
    )
    console.print("\nccxt:\n" + escape(CCXT_SNIPPET.format(key=key, secret=secret, base=base)))
    console.print("Ctrl-C stops the exchange.")
    try:
        await asyncio.Event().wait()
    finally:
        await running.close()


@exchange_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to bind (loopback)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port)")] = 8900,
    speed: Annotated[
        float, typer.Option(help="Market time per wall time (60 = a 1m candle per second)")
    ] = 60.0,
    start: Annotated[
        str | None, typer.Option(help="Market start (UTC date or ms; default: first candle)")
    ] = None,
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols (default: all stored)")
    ] = None,
    balance: Annotated[float, typer.Option(help="Starting USDT balance of the account")] = 10_000,
    api_key: Annotated[str, typer.Option(help="API key the exchange accepts")] = DEFAULT_API_KEY,
    api_secret: Annotated[str, typer.Option(help="Its secret")] = DEFAULT_API_SECRET,
    config: Annotated[Path | None, typer.Option(help="TOML config file")] = None,
) -> None:
    """Serve Binance USDⓈ-M's REST protocol (and streams) over stored 1m candles."""
    if not _is_loopback(host):
        fail(f"{host} is not a loopback address; the local exchange serves 127.0.0.1 only")
    wanted = tuple(s.strip().upper() for s in (symbols or "").split(",") if s.strip())
    try:
        series = asyncio.run(_load(config, wanted))
    except (BacktestError, ConfigError, StorageError) as exc:
        fail(str(exc))
    if not series:
        fail("no 1m candles stored; import some with `slt data import FILE...`")
    start_ms = parse_start(start)
    ex = build_local_exchange(
        series,
        bundled_rules(),
        speed=speed,
        start_ms=start_ms,
        api_keys={api_key: api_secret},
        balance=str(balance),
    )
    if start_ms is not None and start_ms >= ex.market.last_close_ms:
        fail("--start is after the last stored candle")
    try:
        asyncio.run(_run(ex, host, port))
    except KeyboardInterrupt:
        console.print("stopped")
