"""Binance USDⓈ-M REST through ccxt: weight-governed, classified, and safe with orders.

ccxt's `binanceusdm` signs requests, keeps the clock offset and speaks HTTP; this wrapper owns
everything else in one place:

* the base URLs (production, testnet or the local exchange: `VenueUrls`);
* the request weight: each call is charged to the `WeightGovernor` before it is made, and the
  governor is corrected from the answer's `X-MBX-USED-WEIGHT-1M` (and stopped by 429/418);
* errors: every failure becomes one of `slt.venues.binance.errors`' kinds;
* retries: reads are retried with exponential backoff and jitter on temporary errors only; a
  -1021 (clock skew) re-measures the clock offset and retries, orders included, since the
  exchange refused the request before processing it; an order is never re-sent blindly —
  after an unclear failure it is looked up by its client id, and only an order the exchange
  does not know is sent again, with the same id (so a copy
  that did land meanwhile is refused as a duplicate, never doubled).

Orders go out as exact strings that `slt.rules` already validated and rounded (ccxt's implicit
endpoints are used, not its float-based `create_order`), conditional ones through
`/fapi/v1/algoOrder` as Binance requires since December 2025.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from slt.domain import OrderRequest
from slt.rules import SymbolRules
from slt.venues.binance.errors import (
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
    VenueError,
    VenueTemporaryError,
    classify,
)
from slt.venues.binance.governor import WeightGovernor
from slt.venues.binance.orders import LeverageCache, order_params
from slt.venues.binance.urls import VenueUrls

# (ccxt implicit method, request weight, whether it places or cancels orders)
_CALLS: dict[str, tuple[str, int, bool]] = {
    "time": ("fapiPublicGetTime", 1, False),
    "exchange_info": ("fapiPublicGetExchangeInfo", 1, False),
    "ticker_24hr": ("fapiPublicGetTicker24hr", 1, False),
    "ticker_price": ("fapiPublicGetTickerPrice", 1, False),
    "premium_index": ("fapiPublicGetPremiumIndex", 1, False),
    "new_order": ("fapiPrivatePostOrder", 0, True),
    "new_algo_order": ("fapiPrivatePostAlgoOrder", 0, True),
    "query_order": ("fapiPrivateGetOrder", 1, False),
    "query_algo_order": ("fapiPrivateGetAlgoOrder", 1, False),
    "cancel_order": ("fapiPrivateDeleteOrder", 1, True),
    "cancel_algo_order": ("fapiPrivateDeleteAlgoOrder", 1, True),
    "open_orders": ("fapiPrivateGetOpenOrders", 1, False),
    "open_algo_orders": ("fapiPrivateGetOpenAlgoOrders", 1, False),
    "user_trades": ("fapiPrivateGetUserTrades", 5, False),
    "all_orders": ("fapiPrivateGetAllOrders", 5, False),
    "positions": ("fapiPrivateV2GetPositionRisk", 5, False),
    "account": ("fapiPrivateV2GetAccount", 5, False),
    "leverage": ("fapiPrivatePostLeverage", 1, False),
    "margin_type": ("fapiPrivatePostMarginType", 1, False),
    "brackets": ("fapiPrivateGetLeverageBracket", 1, False),
    "listen_key": ("fapiPrivatePostListenKey", 1, False),
    "keep_alive": ("fapiPrivatePutListenKey", 1, False),
}
_NO_SYMBOL_WEIGHT = {"open_orders": 40, "open_algo_orders": 40, "ticker_24hr": 40}
CONDITIONAL_TYPES = frozenset({"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT"})
HISTORY_WINDOW_MS = 7 * 86_400_000 - 1
"""The longest span (end − start, both ends included) of one userTrades/allOrders request:
Binance allows at most 7 days for userTrades and less than 7 days for allOrders."""
HISTORY_PAGE = 1000
"""The most rows userTrades and allOrders answer per request."""
TRADE_HORIZON_MS = 180 * 86_400_000
"""How far back userTrades reaches: Binance serves only "the past 6 months" of trades, counted
here as 180 days (no more than any six calendar months), so no request asks beyond it."""


def make_ccxt(urls: VenueUrls, api_key: str, secret: str, timeout_s: float) -> Any:
    """A ccxt `binanceusdm` client on `urls`, with its own rate limiter off (the governor
    paces), linear markets only (no spot, margin or coin-margined calls) and the clock offset
    set by `BinanceRest.sync_time` (a call the governor pays for) rather than by ccxt."""
    client = ccxt_async.binanceusdm(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": int(timeout_s * 1000),
            "options": {
                "fetchMarkets": {"types": ["linear"]},
                "adjustForTimeDifference": False,
                "warnOnFetchOpenOrdersWithoutSymbol": False,
            },
        }
    )
    client.urls["api"].update(urls.ccxt_api())
    return client


class BinanceRest:
    """The REST half of the Binance venue (module docstring)."""

    def __init__(
        self,
        urls: VenueUrls,
        api_key: str,
        secret: str,
        governor: WeightGovernor | None = None,
        *,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        client: Any = None,
    ) -> None:
        self.urls = urls
        self.client = client or make_ccxt(urls, api_key, secret, timeout_s)
        self.governor = governor or WeightGovernor()
        self.retries = retries
        self.backoff_s = backoff_s
        self._exchange_info: dict[str, Any] | None = None
        self._brackets: list[dict[str, Any]] | None = None
        self.leverage = LeverageCache()

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> BinanceRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # the one path every call takes -------------------------------------------------------------
    async def _call(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        method, weight, places_order = _CALLS[name]
        args = dict(params or {})
        if name in _NO_SYMBOL_WEIGHT and "symbol" not in args:
            weight = _NO_SYMBOL_WEIGHT[name]
        attempt = 0
        while True:
            if weight:
                await self.governor.acquire(weight)
            try:
                result = await getattr(self.client, method)(args)
            except Exception as exc:
                error = await self._failure(exc, places_order)
                # -1021 is refused before any processing, so even an order may go again, once
                # the clock offset is measured anew.
                skewed = error.code == -1021
                retry = isinstance(error, VenueTemporaryError) and (skewed or not places_order)
                if not retry or attempt >= self.retries:
                    raise error from exc
                attempt += 1
                if skewed and name != "time":
                    await self.sync_time()
                else:
                    await asyncio.sleep(self._delay(attempt, error))
                continue
            await self.governor.observe(self._header("x-mbx-used-weight-1m"))
            return result

    async def _failure(self, exc: Exception, places_order: bool) -> VenueError:
        await self.governor.observe(self._header("x-mbx-used-weight-1m"))
        retry_after = self._header("retry-after")
        seconds = float(retry_after) if retry_after and _is_number(retry_after) else None
        error = classify(exc, places_order=places_order, retry_after_s=seconds)
        if isinstance(error, RateLimited):
            await self.governor.back_off(error.retry_after_s)
        return error

    def _delay(self, attempt: int, error: VenueError) -> float:
        if isinstance(error, RateLimited):
            return 0.0  # the governor's block already makes the next acquire wait
        return float(self.backoff_s * 2 ** (attempt - 1) * (1 + random.random()))

    def _header(self, name: str) -> str | None:
        headers = getattr(self.client, "last_response_headers", None) or {}
        for key, value in headers.items():
            if key.lower() == name:
                return str(value)
        return None

    # market metadata (loaded once) -------------------------------------------------------------
    async def server_time(self) -> int:
        return int((await self._call("time"))["serverTime"])

    async def sync_time(self) -> int:
        """Measure the offset to the server's clock (midpoint of the round trip) and sign every
        later request with it, as Binance's `recvWindow` rule needs (§2.5). Returns the
        offset in ms (server − local). Call at start and after any -1021."""
        before = self.client.milliseconds()
        server = await self.server_time()
        after = self.client.milliseconds()
        offset = server - (before + after) // 2
        self.client.options["timeDifference"] = -offset
        return int(offset)

    async def exchange_info(self) -> dict[str, Any]:
        if self._exchange_info is None:
            self._exchange_info = dict(await self._call("exchange_info"))
        return self._exchange_info

    async def leverage_brackets(self) -> list[dict[str, Any]]:
        if self._brackets is None:
            answer = await self._call("brackets")
            self._brackets = list(answer if isinstance(answer, list) else [answer])
        return self._brackets

    async def tickers_24h(self) -> list[dict[str, Any]]:
        """Every symbol's 24 h statistics (weight 40): how `slt run` picks the most traded."""
        return list(await self._call("ticker_24hr"))

    async def last_price(self, symbol: str) -> Decimal:
        """The symbol's last traded price (weight 1): for an order decided before any candle
        of the symbol arrived (a stop placed by reconciliation right after a restart)."""
        return Decimal(str((await self._call("ticker_price", {"symbol": symbol}))["price"]))

    async def market_time_ms(self, symbol: str) -> int:
        """The venue's market time (`time` of GET /fapi/v1/premiumIndex, weight 1): on Binance
        the server's clock, on the local exchange the replay's clock, which its `serverTime`
        (wall time, for signing) is not. The `now_ms` to read account history up to."""
        return int((await self._call("premium_index", {"symbol": symbol}))["time"])

    # account -------------------------------------------------------------------------------------
    async def set_leverage(self, symbol: str, leverage: int) -> dict[str, Any]:
        return dict(await self._call("leverage", {"symbol": symbol, "leverage": str(leverage)}))

    async def positions(self) -> list[dict[str, Any]]:
        return list(await self._call("positions"))

    async def account(self) -> dict[str, Any]:
        return dict(await self._call("account"))

    async def open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        params = {"symbol": symbol} if symbol else {}
        return list(await self._call("open_orders", params))

    async def open_algo_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        params = {"symbol": symbol} if symbol else {}
        return list(await self._call("open_algo_orders", params))

    # account history -----------------------------------------------------------------------------
    async def user_trades(
        self,
        symbol: str,
        start_ms: int,
        end_ms: int | None = None,
        *,
        limit: int = HISTORY_PAGE,
        now_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every execution of the account on `symbol` with `start_ms` ≤ time ≤ `end_ms`
        (default: now by this client's clock), oldest first, as GET /fapi/v1/userTrades rows.

        Binance answers only trades of the past 6 months, so the span is cut to start no
        earlier than `TRADE_HORIZON_MS` before the venue's present: `now_ms` when given, else
        `end_ms` (the backfill ends at the venue's market time), else this client's clock; that
        clock comes last because a local exchange replaying old candles lives in the past, and
        counting from the wall clock would cut every trade away. Older trades are never asked
        for. The rest is cut into windows the 7-day rule allows (weight 5 each); a full page
        goes on with `fromId` after its last trade (a time-based next page could split the
        trades of one millisecond), keeping what still falls in the window."""
        present = now_ms if now_ms is not None else end_ms
        horizon = (self.now_ms() if present is None else present) - TRADE_HORIZON_MS
        out: dict[int, dict[str, Any]] = {}
        for lo, hi in self._windows(max(start_ms, horizon), end_ms):
            page = await self._call(
                "user_trades", {"symbol": symbol, "startTime": lo, "endTime": hi, "limit": limit}
            )
            while True:
                rows = [dict(r) for r in page]
                out.update((int(r["id"]), r) for r in rows if lo <= int(r["time"]) <= hi)
                if len(rows) < limit or any(int(r["time"]) > hi for r in rows):
                    break
                after = max(int(r["id"]) for r in rows) + 1
                page = await self._call(
                    "user_trades", {"symbol": symbol, "fromId": after, "limit": limit}
                )
        return sorted(out.values(), key=lambda r: (int(r["time"]), int(r["id"])))

    async def all_orders(
        self, symbol: str, start_ms: int, end_ms: int | None = None, *, limit: int = HISTORY_PAGE
    ) -> list[dict[str, Any]]:
        """Every order of the account on `symbol` created from `start_ms` to `end_ms` (default:
        now by this client's clock), oldest first, as GET /fapi/v1/allOrders rows (Binance
        drops unfilled cancelled orders after 3 days and every order after 90). Windows as
        `user_trades`; a full page goes on from the next order id within the same window
        (`orderId` together with `startTime`/`endTime`: the local exchange intersects them;
        Binance documents each alone, not the pair)."""
        out: dict[int, dict[str, Any]] = {}
        for lo, hi in self._windows(start_ms, end_ms):
            args: dict[str, Any] = {"symbol": symbol, "startTime": lo, "endTime": hi}
            while True:
                rows = [dict(r) for r in await self._call("all_orders", {**args, "limit": limit})]
                out.update((int(r["orderId"]), r) for r in rows)
                if len(rows) < limit:
                    break
                args["orderId"] = max(int(r["orderId"]) for r in rows) + 1
        return [out[k] for k in sorted(out)]

    async def order_by_id(self, symbol: str, order_id: int) -> dict[str, Any] | None:
        """GET /fapi/v1/order by the exchange's order id (weight 1); None when unknown."""
        try:
            return dict(await self._call("query_order", {"symbol": symbol, "orderId": order_id}))
        except VenueError as exc:
            if exc.code == -2013:
                return None
            raise

    def _windows(self, start_ms: int, end_ms: int | None) -> list[tuple[int, int]]:
        """[start, end] cut into consecutive spans of at most `HISTORY_WINDOW_MS`."""
        end = self.now_ms() if end_ms is None else end_ms
        spans: list[tuple[int, int]] = []
        lo = start_ms
        while lo <= end:
            hi = min(lo + HISTORY_WINDOW_MS, end)
            spans.append((lo, hi))
            lo = hi + 1
        return spans

    def now_ms(self) -> int:
        """This client's clock corrected by the offset `sync_time` measured (server time)."""
        return int(self.client.milliseconds()) - int(self.client.options.get("timeDifference", 0))

    async def new_listen_key(self) -> str:
        return str((await self._call("listen_key"))["listenKey"])

    async def keep_alive_listen_key(self) -> None:
        await self._call("keep_alive")

    # orders --------------------------------------------------------------------------------------
    async def submit(
        self, order: OrderRequest, rules: SymbolRules, mark_price: Decimal
    ) -> dict[str, Any]:
        """Check `order` with `slt.rules` (refused locally, with Binance's code, when the
        exchange would refuse it), set its leverage when it carries one that differs from the
        symbol's, and place it (`place_order`)."""
        params = order_params(order, rules, mark_price)
        if order.leverage is not None:
            await self.leverage.ensure(self, order.symbol, order.leverage)
        return await self.place_order(params)

    async def place_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Send one order (`params` as Binance names them, values exact strings, with
        `newClientOrderId`; conditional types carry `triggerPrice`/`clientAlgoId` and go to the
        algo endpoint). After an unclear failure the order is looked up by its client id and
        re-sent once, with the same id, only when the exchange does not know it."""
        conditional = params.get("type") in CONDITIONAL_TYPES
        name = "new_algo_order" if conditional else "new_order"
        id_key = "clientAlgoId" if conditional else "newClientOrderId"
        client_id = params.get(id_key)
        if not client_id:
            raise ValueError(f"an order needs {id_key} so that it can be recovered after a timeout")
        args = dict(params)
        if conditional:
            args.setdefault("algoType", "CONDITIONAL")
        try:
            return dict(await self._call(name, args))
        except OrderStateUnknown:
            found = await self.query_order(params["symbol"], client_id, conditional=conditional)
            if found is not None:
                return found
        try:
            return dict(await self._call(name, args))
        except OrderRejected as exc:
            if exc.code != -4116:
                raise
            # The first copy landed after all (between the lookup and the re-send): use it.
            found = await self.query_order(params["symbol"], client_id, conditional=conditional)
            if found is None:
                raise
            return found

    async def query_order(
        self, symbol: str, client_id: str, *, conditional: bool = False
    ) -> dict[str, Any] | None:
        """The order with this client id, or None when the exchange does not know it."""
        key = "clientAlgoId" if conditional else "origClientOrderId"
        name = "query_algo_order" if conditional else "query_order"
        try:
            return dict(await self._call(name, {"symbol": symbol, key: client_id}))
        except VenueError as exc:
            if exc.code == -2013:
                return None
            raise

    async def cancel_order(
        self, symbol: str, client_id: str, *, conditional: bool = False
    ) -> dict[str, Any]:
        key = "clientAlgoId" if conditional else "origClientOrderId"
        name = "cancel_algo_order" if conditional else "cancel_order"
        return dict(await self._call(name, {"symbol": symbol, key: client_id}))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
