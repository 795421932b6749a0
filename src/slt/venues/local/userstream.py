"""User-data streams: listenKeys and the fan-out of account events (protocol §10.1).

Binance gives one listenKey per API key: `POST /fapi/v1/listenKey` returns the key already
active for that API key (extending it) or a new one; `PUT` extends it; `DELETE` invalidates it.
A key lapses `ttl_s` (60 min) after its last create/keep-alive, measured in wall time as
Binance measures it (a client keeps it alive from its own clock, whatever the replay's pace):
its connections then receive `{"e":"listenKeyExpired",...}` and nothing more, though the
sockets stay open. PUT or DELETE of an unknown or lapsed key is `-1125`.

The local exchange has one trading account, whichever API key trades on it, so every event the
account emits (`ex.account.drain_events()`, when an account is set) goes to every connection
of every live key, in the account's order. Events are drained even when nobody listens, as
Binance does not keep them for later either.

The REST handlers need the caller's API key, which the request middleware checks before
calling them and leaves in `auth.CURRENT_API_KEY`; failing that (a handler called directly)
they read `Params["X-MBX-APIKEY"]`, else, when the exchange accepts a single API key, that one.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from slt.venues.local import auth
from slt.venues.local.endpoints import Endpoint, Params, Security, fixed
from slt.venues.local.errors import api_error

if TYPE_CHECKING:
    from slt.venues.local.exchange import LocalExchange
    from slt.venues.local.streams import Sink

API_KEY_HEADER = "X-MBX-APIKEY"
CURRENT_API_KEY = auth.CURRENT_API_KEY
"""The accepted API key of the request being answered, set by the server's middleware."""

_ALPHABET = string.ascii_letters + string.digits


@dataclass(slots=True)
class ListenKey:
    key: str
    api_key: str
    expires_at: float
    """Wall-clock second (the streams' `now`) at which the key lapses."""
    sinks: set[Sink] = field(default_factory=set)


class UserStreams:
    """The exchange's listenKeys and their connections (module docstring)."""

    def __init__(self, ttl_s: float = 3600.0, *, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.now = now
        self.keys: dict[str, ListenKey] = {}
        self.delivered = 0

    # lifecycle -------------------------------------------------------------------------------
    def create(self, api_key: str) -> str:
        """The API key's active listenKey, extended, or a new one."""
        self.expire()
        for lk in self.keys.values():
            if lk.api_key == api_key:
                lk.expires_at = self.now() + self.ttl_s
                return lk.key
        key = "".join(secrets.choice(_ALPHABET) for _ in range(64))
        self.keys[key] = ListenKey(key, api_key, self.now() + self.ttl_s)
        return key

    def _find(self, api_key: str, key: str | None) -> ListenKey:
        self.expire()
        lk = self.keys.get(key) if key else self._of(api_key)
        if lk is None or lk.api_key != api_key:
            raise api_error(-1125)
        return lk

    def _of(self, api_key: str) -> ListenKey | None:
        return next((lk for lk in self.keys.values() if lk.api_key == api_key), None)

    def keepalive(self, api_key: str, key: str | None = None) -> str:
        """Extend the key (the API key's own when `key` is not given); -1125 if unknown."""
        lk = self._find(api_key, key)
        lk.expires_at = self.now() + self.ttl_s
        return lk.key

    def close(self, api_key: str, key: str | None = None) -> None:
        """Invalidate the key; its connections stay open but receive nothing more."""
        lk = self._find(api_key, key)
        del self.keys[lk.key]

    def valid(self, key: str) -> bool:
        self.expire()
        return key in self.keys

    # connections -----------------------------------------------------------------------------
    def attach(self, key: str, sink: Sink) -> bool:
        """Send the key's events to `sink`; False when the key is unknown or lapsed."""
        self.expire()
        lk = self.keys.get(key)
        if lk is None:
            return False
        lk.sinks.add(sink)
        return True

    def detach(self, sink: Sink) -> None:
        for lk in self.keys.values():
            lk.sinks.discard(sink)

    # the pump's part -------------------------------------------------------------------------
    def expire(self, event_ms: int | None = None) -> list[str]:
        """Drop lapsed keys, telling their connections with `listenKeyExpired`."""
        now = self.now()
        gone = [lk for lk in self.keys.values() if lk.expires_at <= now]
        for lk in gone:
            del self.keys[lk.key]
            stamp = event_ms if event_ms is not None else time.time_ns() // 1_000_000
            text = orjson.dumps({"e": "listenKeyExpired", "E": stamp, "listenKey": lk.key})
            for sink in list(lk.sinks):
                sink.deliver(lk.key, text.decode(), True)
        return [lk.key for lk in gone]

    def publish(self, events: list[dict[str, Any]]) -> None:
        """Send account events to every connection of every live key, in order (a connection
        opened with `?events=A/B` gets only those types)."""
        if not events:
            return
        texts = [(str(e.get("e", "")), orjson.dumps(e).decode()) for e in events]
        for lk in self.keys.values():
            for sink in list(lk.sinks):
                wanted = getattr(sink, "user_events", None)
                for kind, text in texts:
                    if wanted is None or kind in wanted:
                        sink.deliver(lk.key, text, True)
                        self.delivered += 1

    def pump(self, ex: LocalExchange) -> None:
        """Expire keys, then fan out what the account emitted since the last pump."""
        self.expire(ex.clock.now_ms())
        drain = getattr(ex.account, "drain_events", None)
        if drain is not None:
            self.publish(list(drain()))


def ensure_user_streams(ex: LocalExchange) -> UserStreams:
    """The exchange's listenKeys, created (60-min keys) on first use."""
    if not isinstance(ex.user_streams, UserStreams):
        ex.user_streams = UserStreams()
    return ex.user_streams


def request_api_key(ex: LocalExchange, params: Params) -> str:
    """The caller's API key (module docstring: header param, context variable, single key)."""
    key = CURRENT_API_KEY.get() or params.get(API_KEY_HEADER)
    if key:
        return key
    if len(ex.api_keys) == 1:
        return next(iter(ex.api_keys))
    raise api_error(-2014)


async def _create(ex: LocalExchange, params: Params) -> dict[str, str]:
    return {"listenKey": ensure_user_streams(ex).create(request_api_key(ex, params))}


async def _keepalive(ex: LocalExchange, params: Params) -> dict[str, str]:
    key = ensure_user_streams(ex).keepalive(request_api_key(ex, params), params.get("listenKey"))
    return {"listenKey": key}


async def _close(ex: LocalExchange, params: Params) -> dict[str, str]:
    ensure_user_streams(ex).close(request_api_key(ex, params), params.get("listenKey"))
    return {}


USERSTREAM: list[Endpoint] = [
    Endpoint("POST", "/fapi/v1/listenKey", Security.USER_STREAM, fixed(1), _create),
    Endpoint("PUT", "/fapi/v1/listenKey", Security.USER_STREAM, fixed(1), _keepalive),
    Endpoint("DELETE", "/fapi/v1/listenKey", Security.USER_STREAM, fixed(1), _close),
]
"""The listenKey endpoints, for `server.build_app` to mount with the others."""
