"""The whole local exchange in one call: market, account, every endpoint, streams and pump.

`slt exchange serve`, `slt run --venue sim` and the end-to-end tests all start the exchange
through `start_local_exchange`, so each runs the same thing: the public, trading, account
history and listenKey endpoints behind the Binance middleware, the market and user-data
WebSocket routes, and the pump that turns replayed market time into stream events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from aiohttp import web

from slt.domain import CandleSeries
from slt.rules import ExchangeRules
from slt.venues.local.account_book import DEFAULT_BALANCE
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.routes_history import HISTORY
from slt.venues.local.routes_trading import TRADING, build_account
from slt.venues.local.server import build_app, build_exchange, serve
from slt.venues.local.streams_server import add_stream_routes
from slt.venues.local.userstream import USERSTREAM


def build_local_exchange(
    series: Mapping[str, CandleSeries],
    rules: ExchangeRules | None = None,
    *,
    speed: float = 60.0,
    start_ms: int | None = None,
    balance: Decimal | int | str = DEFAULT_BALANCE,
    api_keys: Mapping[str, str] | None = None,
    legacy_conditional: bool = False,
) -> LocalExchange:
    """An exchange replaying `series` with a funded account (see `server.build_exchange`)."""
    ex = build_exchange(series, rules, speed=speed, start_ms=start_ms, api_keys=api_keys)
    ex.account = build_account(
        ex.market, ex.rules, balance=balance, legacy_conditional=legacy_conditional
    )
    return ex


def full_app(ex: LocalExchange) -> web.Application:
    """Every REST endpoint and WebSocket route of the exchange, with the stream pump."""
    app = build_app(ex, [*TRADING, *HISTORY, *USERSTREAM])
    add_stream_routes(app, ex)
    return app


@dataclass
class RunningExchange:
    """A served exchange: `port` is the one bound; `close()` stops it."""

    ex: LocalExchange
    runner: web.AppRunner
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_local_exchange(
    ex: LocalExchange, host: str = "127.0.0.1", port: int = 0
) -> RunningExchange:
    """Serve `ex` (REST and WebSocket on one port; 0 = any free port)."""
    runner, bound = await serve(ex, host, port, app=full_app(ex))
    return RunningExchange(ex, runner, host, bound)
