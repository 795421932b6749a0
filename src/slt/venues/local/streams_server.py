"""The WebSocket side of the local exchange: Binance's stream URLs on an aiohttp app.

`add_stream_routes(app, ex)` mounts, as Binance serves them (protocol §9.1, §10.1):

* raw streams `/ws/<s1>/<s2>...` and combined `/stream?streams=<s1>/<s2>` (payloads wrapped in
  `{"stream":...,"data":...}`), on the legacy root and under `/market` and `/public`; a route
  serves only its stream kinds (`streams.ROUTES`), the legacy root serves all of them;
* user data on `/private/ws/<listenKey>` (or `?listenKey=<k>&events=A/B`, which keeps only
  those event types) and, legacy, `/ws/<listenKey>` (a path segment that is a live listenKey
  is the user stream, anything else a stream name).

Every connection follows §9.2 with `StreamSettings`' numbers: the control messages of §9.3
(`streams_control`), invalid JSON answered with code 3 and a disconnect, at most `max_streams`
streams and `max_incoming_per_s` incoming frames a second (pings, pongs and JSON alike; more is
a disconnect), a ping every `ping_interval_s` and a disconnect when one stays unanswered for
`pong_timeout_s`, and a forced disconnect after `max_lifetime_s`. The connection rules run on
wall time; only the market data follows the replay clock.

Outgoing frames go through one queue per connection, written by one task, so a slow reader
delays nobody else; past `queue_soft_limit` unsent frames it skips forming updates (never a
closing update or a user event), past `queue_hard_limit` it is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from slt.venues.local.streams import StreamHub, StreamSettings, ensure_hub, run_streams
from slt.venues.local.streams_control import (
    Refusal,
    parse_request,
    property_request,
    result,
    stream_names,
)
from slt.venues.local.userstream import UserStreams, ensure_user_streams

if TYPE_CHECKING:
    from slt.venues.local.exchange import LocalExchange

CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001


class Connection:
    """One client socket: its subscriptions, `combined` property and outgoing queue."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        hub: StreamHub,
        users: UserStreams,
        route: str,
        combined: bool,
    ) -> None:
        self.ws = ws
        self.hub = hub
        self.users = users
        self.route = route
        self.combined = combined
        self.settings: StreamSettings = hub.settings
        self.streams: list[str] = []
        self.queue: deque[str] = deque()
        self.wakeup = asyncio.Event()
        self.closing = False
        self.skipped = 0
        self.user_events: frozenset[str] | None = None
        """User-event types this connection asked for (`?events=`); None: all."""
        self._close: tuple[int, str] | None = None
        self._incoming: deque[float] = deque()
        self._pings: dict[bytes, float] = {}
        self.opened = time.monotonic()

    # the Sink side (called by the hub and the user streams) ----------------------------------
    def deliver(self, stream: str, text: str, final: bool) -> None:
        if self.closing:
            return
        if len(self.queue) >= self.settings.queue_hard_limit:
            self.close_soon(CLOSE_POLICY, "Too slow")
            return
        if not final and len(self.queue) >= self.settings.queue_soft_limit:
            self.skipped += 1
            return
        self.queue.append(f'{{"stream":"{stream}","data":{text}}}' if self.combined else text)
        self.wakeup.set()

    def inject(self, text: str) -> None:
        if self._close is None:
            self.queue.append(text)
            self.wakeup.set()

    def drop(self) -> None:
        self.close_soon(CLOSE_GOING_AWAY, "Server restart")

    def send_json(self, value: Any) -> None:
        self.inject(orjson.dumps(value).decode())

    def close_soon(self, code: int, reason: str) -> None:
        """Close after the frames already queued (e.g. the answer to the offending request)."""
        if self.closing:
            return
        self.closing = True
        self._close = (code, reason)
        self.wakeup.set()

    # tasks -----------------------------------------------------------------------------------
    async def writer(self) -> None:
        """The only sender of frames: queued events and answers, then the close if asked."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not self.ws.closed:
                await self.wakeup.wait()
                self.wakeup.clear()
                while self.queue:
                    await self.ws.send_str(self.queue.popleft())
                if self._close is not None:
                    code, reason = self._close
                    await self.ws.close(code=code, message=reason.encode())
                    return

    async def watchdog(self) -> None:
        """Server pings, the pong deadline and the forced disconnect (wall time)."""
        s = self.settings
        period = max(min(s.ping_interval_s, s.pong_timeout_s, s.max_lifetime_s) / 10, 0.005)
        period = min(period, 1.0)
        next_ping = self.opened + s.ping_interval_s
        while not self.ws.closed and not self.closing:
            await asyncio.sleep(period)
            now = time.monotonic()
            if now - self.opened >= s.max_lifetime_s:
                self.close_soon(CLOSE_GOING_AWAY, "Connection lifetime reached")
                return
            if self._pings and now - min(self._pings.values()) >= s.pong_timeout_s:
                self.close_soon(CLOSE_POLICY, "Pong timeout")
                return
            if now >= next_ping:
                payload = str(int(now * 1000)).encode()
                self._pings[payload] = now
                next_ping = now + s.ping_interval_s
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.ws.ping(payload)

    # incoming --------------------------------------------------------------------------------
    def count_incoming(self) -> bool:
        """Record one incoming frame; False when the rate limit is exceeded."""
        now = time.monotonic()
        window = self._incoming
        window.append(now)
        while window and now - window[0] > 1.0:
            window.popleft()
        return len(window) <= self.settings.max_incoming_per_s

    def on_pong(self, payload: bytes) -> None:
        sent = self._pings.pop(bytes(payload), None)
        if sent is not None:  # an answer clears every older ping too
            self._pings = {k: v for k, v in self._pings.items() if v > sent}

    def subscribe(self, names: list[str]) -> bool:
        """Add streams (and listenKeys); False when that passes the per-connection limit."""
        new = [n for n in names if n not in self.streams]
        if len(self.streams) + len(new) > self.settings.max_streams:
            return False
        self.streams.extend(new)
        market = []
        for name in new:
            if self.route in ("legacy", "private") and self.users.attach(name, self):
                continue
            market.append(name)
        self.hub.subscribe(self, market)
        return True

    def unsubscribe(self, names: list[str]) -> None:
        gone = set(names)
        self.streams = [n for n in self.streams if n not in gone]
        self.hub.unsubscribe(self, names)
        if gone & set(self.users.keys):
            self.users.detach(self)
            for name in self.streams:
                self.users.attach(name, self)

    def handle_text(self, text: str) -> None:
        req = parse_request(text)
        if isinstance(req, Refusal):
            self.send_json(req.body())
            if req.fatal:
                self.close_soon(CLOSE_POLICY, "Invalid JSON")
            return
        if req.method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = stream_names(req)
            if isinstance(names, Refusal):
                self.send_json(names.body())
                return
            if req.method == "UNSUBSCRIBE":
                self.unsubscribe(names)
            elif not self.subscribe(names):
                self.close_soon(CLOSE_POLICY, "Too many streams")
                return
            self.send_json(result(None, req.id))
        elif req.method == "LIST_SUBSCRIPTIONS":
            self.send_json(result(list(self.streams), req.id))
        else:
            answer = property_request(req, self.combined)
            if isinstance(answer, Refusal):
                self.send_json(answer.body())
                return
            value, new_combined = answer
            if new_combined is not None:
                self.combined = new_combined
            self.send_json(result(value, req.id))

    async def serve(self, initial: list[str]) -> None:
        """Run the connection until either side closes it."""
        self.hub.attach(self)
        tasks = [asyncio.create_task(self.writer()), asyncio.create_task(self.watchdog())]
        try:
            if not self.subscribe(initial):
                self.close_soon(CLOSE_POLICY, "Too many streams")
            async for msg in self.ws:
                if self.closing:
                    continue
                if not self.count_incoming():
                    self.close_soon(CLOSE_POLICY, "Too many messages")
                elif msg.type is WSMsgType.TEXT:
                    self.handle_text(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self.handle_text(msg.data.decode("utf-8", "replace"))
                elif msg.type is WSMsgType.PING:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self.ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    self.on_pong(msg.data)
        finally:
            self.closing = True
            self.hub.detach(self)
            self.users.detach(self)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=1.0)


def _run_pump_with(app: web.Application, ex: LocalExchange) -> None:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start(_app: web.Application) -> None:
        stop.clear()
        tasks.append(asyncio.create_task(run_streams(ex, stop)))

    async def finish(_app: web.Application) -> None:
        stop.set()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
            tasks.clear()

    app.on_startup.append(start)
    app.on_shutdown.append(finish)


def _split(text: str) -> list[str]:
    return [s for s in text.split("/") if s]


def add_stream_routes(app: web.Application, ex: LocalExchange, *, pump: bool = True) -> None:
    """Mount the market and user-data WebSocket routes of `ex` on `app` (module docstring).
    Creates `ex.streams` / `ex.user_streams` with default settings when they are not set and,
    with `pump`, runs `run_streams` for as long as the app runs (started on the app's startup,
    stopped on its cleanup), so mounting the routes is all a server needs for data to flow."""
    hub = ensure_hub(ex)
    users = ensure_user_streams(ex)
    if pump:
        _run_pump_with(app, ex)

    async def open_conn(
        request: web.Request,
        route: str,
        combined: bool,
        names: list[str],
        user_events: frozenset[str] | None = None,
    ) -> web.StreamResponse:
        if hub.refusing():  # the drop_ws_connections fault: the stream server is "down"
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Connection(ws, hub, users, route, combined)
        conn.user_events = user_events
        await conn.serve(names)
        return ws

    def raw(route: str) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await open_conn(request, route, False, _split(request.match_info.get("s", "")))

        return handler

    def combined(route: str) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await open_conn(request, route, True, _split(request.query.get("streams", "")))

        return handler

    async def private(request: web.Request) -> web.StreamResponse:
        key = request.match_info.get("s", "") or request.query.get("listenKey", "")
        if hub.refusing():
            return web.Response(status=503, text="Service Unavailable")
        if not users.valid(key):
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.close(code=CLOSE_POLICY, message=b"Invalid listenKey")
            return ws
        events = _split(request.query.get("events", ""))
        return await open_conn(request, "private", False, [key], frozenset(events) or None)

    for prefix, route in (("", "legacy"), ("/market", "market"), ("/public", "public")):
        app.router.add_get(f"{prefix}/ws", raw(route))
        app.router.add_get(f"{prefix}/ws/{{s:.+}}", raw(route))
        app.router.add_get(f"{prefix}/stream", combined(route))
    app.router.add_get("/private/ws", private)
    app.router.add_get("/private/ws/{s:.+}", private)
