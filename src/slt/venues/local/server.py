"""The local exchange's HTTP server: endpoint lists mounted behind one Binance-like middleware.

Every REST call of a declared `Endpoint` goes through the same steps, in Binance's order:

1. parameters merged from query and form body (query wins; -1101 on a duplicate in one part),
2. the endpoint's weight charged to the caller's IP (429 / 418 over the limit, `limits.py`),
3. injected faults (delay, forced answers, `faults.py`),
4. API key, timestamp and signature as its `Security` requires (`auth.py`),
5. the ORDERS count for order endpoints (-1015),
6. the handler, whose JSON value is sent with HTTP 200.

An `ApiError` anywhere becomes Binance's `{"code", "msg"}` body with its HTTP status; any other
exception is logged and answered 500 `-1000`. Every answer carries `X-MBX-USED-WEIGHT-1M`
(order endpoints also `X-MBX-ORDER-COUNT-10S`/`-1M`) and is appended to the request log.

A path/method pair no endpoint declares and no other route serves is answered as the fapi
test network does: HTTP 404 `{"code":-5000,"msg":"Path /x, Method GET is invalid"}` (production
answers an HTML error page, which helps nobody). Other routes — the WebSocket streams — are
added through `routes` and pass through untouched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

import orjson
from aiohttp import web

from slt.domain import CandleSeries
from slt.rules import ExchangeRules, bundled_rules
from slt.venues.local.auth import CURRENT_API_KEY, RawRequest, check_request, parse_params
from slt.venues.local.clock import ReplayClock, wall_ms
from slt.venues.local.endpoints import Endpoint
from slt.venues.local.errors import ApiError, api_error
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET, LocalExchange
from slt.venues.local.faults import UNKNOWN_503, Faults, Rejection
from slt.venues.local.limits import LimitConfig, Limits
from slt.venues.local.market import MarketReplay
from slt.venues.local.routes_public import PUBLIC_ENDPOINTS, server_time_ms

log = logging.getLogger(__name__)

EXCHANGE_KEY = web.AppKey("slt_local_exchange", LocalExchange)
"""`app[EXCHANGE_KEY]`: the exchange an aiohttp handler (e.g. a WebSocket route) serves."""

Hook = Callable[[web.Application], Awaitable[None]]
_FORM = {"application/x-www-form-urlencoded", "application/octet-stream", ""}
"""Body content types read as parameters (octet-stream is aiohttp's name for "none given")."""


def build_exchange(
    series: Mapping[str, CandleSeries],
    rules: ExchangeRules | None = None,
    *,
    speed: float = 1.0,
    start_ms: int | None = None,
    api_keys: Mapping[str, str] | None = None,
    limits: LimitConfig | None = None,
    wall: Callable[[], int] = wall_ms,
    replay_wall: Callable[[], float] = time.monotonic,
) -> LocalExchange:
    """A local exchange replaying `series` (1m candles) from `start_ms` (default: the first
    candle) at `speed` × real time (0 = stepped by `clock.advance_to`), with the bundled
    rules unless given, and `api_keys` (key → secret; default `DEFAULT_API_KEY`).

    `wall` is the exchange's wall clock (auth, serverTime, rate-limit windows, log);
    `replay_wall` drives the replay clock. `account`, `streams` and `user_streams` stay None
    for their modules to fill in."""
    clock = ReplayClock(0, speed, wall=replay_wall)
    market = MarketReplay(series, clock)
    clock.advance_to(market.first_open_ms if start_ms is None else start_ms)
    return LocalExchange(
        market=market,
        rules=rules if rules is not None else bundled_rules(),
        clock=clock,
        api_keys=dict(api_keys) if api_keys is not None else {DEFAULT_API_KEY: DEFAULT_API_SECRET},
        limits=Limits(limits, wall=wall),
        faults=Faults(),
    )


def _json(value: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


def _error(err: ApiError) -> web.Response:
    resp = _json(err.body(), err.http_status)
    resp.headers.update(err.headers)
    return resp


def _rejected(ex: LocalExchange, rejection: Rejection, path: str) -> web.Response:
    if rejection.code is None:
        body: dict[str, object] = {
            "timestamp": server_time_ms(ex),
            "path": path,
            "msg": rejection.msg,
        }
    else:
        body = {"code": rejection.code, "msg": rejection.msg}
    return _json(body, rejection.status)


async def _read_body(request: web.Request) -> str:
    if request.method == "GET" or not request.can_read_body:
        return ""
    if request.content_type not in _FORM:
        return ""
    return (await request.read()).decode("utf-8", "replace")


class _Dispatcher:
    """The middleware state: which endpoint serves a (method, path), and the exchange."""

    def __init__(self, ex: LocalExchange, endpoints: Iterable[Endpoint]) -> None:
        self.ex = ex
        self.table: dict[tuple[str, str], Endpoint] = {}
        for ep in endpoints:
            key = (ep.method, ep.path)
            if key in self.table:
                raise ValueError(f"endpoint {ep.method} {ep.path} declared twice")
            self.table[key] = ep

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        ep = self.table.get((request.method, request.path))
        if ep is not None:
            return await self.answer(ep, request)
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            msg = f"Path {request.path}, Method {request.method} is invalid"
            resp = _error(api_error(-5000, status=404, msg=msg))
            resp.headers.update(self.ex.limits.headers(_ip(request)))
            self.ex.limits.record(_ip(request), request.method, request.path, 0, 404, -5000)
            return resp

    async def answer(self, ep: Endpoint, request: web.Request) -> web.StreamResponse:
        ex = self.ex
        limits: Limits = ex.limits
        faults: Faults = ex.faults
        ip = _ip(request)
        raw = RawRequest(
            request.method,
            request.rel_url.raw_query_string,
            await _read_body(request),
            request.headers.get("X-MBX-APIKEY"),
        )
        weight, account, code = 0, None, None
        resp: web.Response
        try:
            try:
                params = parse_params(raw)
                parse_error = None
            except ApiError as e:
                params, parse_error = {}, e
            weight = ep.weight(params)
            try:
                limits.charge_weight(ip, weight)
            except ApiError as e:
                if e.http_status == 418:
                    weight = 0
                raise
            if parse_error is not None:
                raise parse_error
            if faults.rest_delay_ms > 0:
                await asyncio.sleep(faults.rest_delay_ms / 1000)
            rejection = faults.take_rejection(request.path, request.method)
            if rejection is not None:
                resp, code = _rejected(ex, rejection, request.path), rejection.code
            else:
                checked = check_request(raw, ep.security, ex.api_keys, server_time_ms(ex))
                if ep.orders:
                    account = checked.api_key or ip
                    limits.charge_order(account)
                token = CURRENT_API_KEY.set(checked.api_key)
                try:
                    resp = _json(await ep.handler(ex, checked.params))
                finally:
                    CURRENT_API_KEY.reset(token)
                if faults.take_lost_answer(request.path, request.method):
                    resp, code = _rejected(ex, UNKNOWN_503, request.path), UNKNOWN_503.code
        except ApiError as e:
            resp, code = _error(e), e.code
        except Exception:
            log.exception("local exchange: %s %s failed", request.method, request.path)
            resp, code = _error(api_error(-1000, status=500)), -1000
        resp.headers.update(limits.headers(ip, account))
        limits.record(ip, request.method, request.path, weight, resp.status, code)
        return resp


def _ip(request: web.Request) -> str:
    return request.remote or "unknown"


def build_app(
    ex: LocalExchange,
    extra: Sequence[Endpoint] = (),
    on_startup: Sequence[Hook] = (),
    *,
    on_cleanup: Sequence[Hook] = (),
    routes: Sequence[web.AbstractRouteDef] = (),
) -> web.Application:
    """An aiohttp app serving the public endpoints plus `extra` (trading, account, user
    stream) through the Binance middleware (module docstring), plus raw aiohttp `routes`
    (WebSocket streams) which bypass it. `app[EXCHANGE_KEY]` is `ex`."""
    if ex.limits is None:
        ex.limits = Limits()
    if ex.faults is None:
        ex.faults = Faults()
    dispatcher = _Dispatcher(ex, [*PUBLIC_ENDPOINTS, *extra])
    app = web.Application(middlewares=[dispatcher.middleware])
    app[EXCHANGE_KEY] = ex
    app.add_routes(routes)
    app.on_startup.extend(on_startup)
    app.on_cleanup.extend(on_cleanup)
    return app


async def serve(
    ex: LocalExchange,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    app: web.Application | None = None,
) -> tuple[web.AppRunner, int]:
    """Start `app` (default `build_app(ex)`) on `host`:`port` (0 = a free port); returns the
    runner (call `await runner.cleanup()` to stop) and the port actually bound."""
    runner = web.AppRunner(
        app if app is not None else build_app(ex), access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return runner, int(bound[1])
