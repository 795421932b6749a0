"""The market-stream hub: Binance stream payloads produced from the replay at market time.

`StreamHub` keeps, per subscribed stream name, what it last reported, and `pump(now_ms)` emits
whatever is due at that market time to every subscribed connection:

* kline (`<symbol>@kline_<interval>`): every candle's closing update (`x: true`) exactly once,
  in order, whatever the pump's lateness: a stream keeps the open time of the next candle it
  owes a close for and, on each pump, closes every candle that ended since (a clock jump of an
  hour closes 60 one-minute candles), skipping only minutes the data has no candle for. Between
  closes it sends forming updates (`x: false`) of the current candle every `kline_update_ms` of
  wall time (market step = that × speed); faster than real time, and on a stepped clock, at
  most `max_kline_updates` per candle. An update is sent only when the candle changed, as
  Binance pushes "if existing".
* `<symbol>@markPrice` (3 s) / `@markPrice@1s` and `!markPrice@arr[@1s]`: the replay's mark
  price every 3 s / 1 s of market time, never more often than that in wall time either.
* `<symbol>@bookTicker`: a synthetic one-tick spread around the last price, on every change.

Fault switches (`faults.Faults`, read with getattr so any object with these names works):
`drop_ws_connections` closes every connection and refuses new ones while set;
`stall_streams` (a set of stream names, or True for all) holds those streams back while set,
their due closes going out, in order, when released; `malformed_frames` (int) precedes that
many of the next frames with one that is not JSON.

Candles are `MarketReplay.kline`, the very candles the REST klines show; payload shapes are in
`streams_payloads`, number formats in `market_text`. Connections (`streams_server`)
are `Sink`s: the hub hands each one the event's JSON text and whether it is a closing update,
which a slow connection must never drop. `run_streams` is the pump task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import orjson

from slt.domain.candle import INTERVAL_MS
from slt.rules import next_funding_time
from slt.venues.local.market_text import Precision, precision_for
from slt.venues.local.streams_payloads import (
    book_ticker_payload,
    kline_payload,
    mark_price_payload,
)

if TYPE_CHECKING:
    from slt.venues.local.exchange import LocalExchange

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
ROUTES: dict[str, frozenset[str]] = {
    "kline": frozenset({"market", "legacy"}),
    "markPrice": frozenset({"market", "legacy"}),
    "markPriceArr": frozenset({"market", "legacy"}),
    "bookTicker": frozenset({"public", "legacy"}),
}
"""Which URL route serves which stream kind (§9.1). `legacy` (no route: `/ws`, `/stream`) serves
everything, as before the 2026 split, so older clients keep working against the local exchange."""

_STREAM = re.compile(
    r"^(?:(?P<sym>[a-z0-9]+)@(?:kline_(?P<iv>\w+)|(?P<mp>markPrice)(?P<mp1>@1s)?|(?P<bt>bookTicker))"
    r"|(?P<arr>!markPrice@arr)(?P<arr1>@1s)?)$"
)


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """Pace of the market streams and the per-connection rules of §9.2 (all configurable so
    tests can use milliseconds where Binance uses minutes)."""

    kline_update_ms: int = 250
    """Wall-time gap between forming kline updates (Binance: 250 ms)."""
    max_kline_updates: int = 12
    """Cap on forming updates per candle when faster than real time or stepped."""
    funding_rate: str = "0.00010000"
    """`r` of markPriceUpdate: the replay has no premium index; Binance's base interest rate."""
    tick_s: float = 0.02
    """How often `run_streams` looks at the clock (wall seconds)."""
    max_streams: int = 1024
    max_incoming_per_s: int = 10
    ping_interval_s: float = 180.0
    pong_timeout_s: float = 600.0
    max_lifetime_s: float = 86_400.0
    queue_soft_limit: int = 10_000
    """Above this many unsent messages a connection skips forming updates (never closes)."""
    queue_hard_limit: int = 200_000
    """Above this many unsent messages a connection is closed as too slow."""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A parsed stream name: its kind, upper-case symbol, interval and period."""

    name: str
    kind: str
    symbol: str = ""
    interval: str = ""
    period_ms: int = 0


def parse_stream(name: str) -> StreamSpec | None:
    """The spec of a stream the replay can serve; None for any other name (accepted in a
    SUBSCRIBE, as Binance does, but never sent anything)."""
    m = _STREAM.match(name)
    if m is None:
        return None
    if m["arr"]:
        return StreamSpec(name, "markPriceArr", period_ms=1000 if m["arr1"] else 3000)
    sym = m["sym"].upper()
    if m["iv"] is not None:
        period = INTERVAL_MS.get(m["iv"])
        return None if period is None else StreamSpec(name, "kline", sym, m["iv"], period)
    if m["mp"]:
        return StreamSpec(name, "markPrice", sym, period_ms=1000 if m["mp1"] else 3000)
    return StreamSpec(name, "bookTicker", sym)


MALFORMED_FRAME = '{"e":"kline","E":'
"""What a malformed-frame fault sends: a truncated event, not JSON."""


class Sink(Protocol):
    """A connection as the hub sees it."""

    route: str

    def deliver(self, stream: str, text: str, final: bool) -> None:
        """Queue one event (`final`: a closing update or user event, never to be dropped)."""

    def inject(self, text: str) -> None:
        """Queue a raw frame as is (fault injection)."""

    def drop(self) -> None:
        """Close the connection abruptly (fault injection)."""


@dataclass(slots=True)
class _State:
    spec: StreamSpec
    cursor: int = -1
    """kline: open time of the next candle owed a close."""
    last_ms: int = -(2**62)
    """Market time of the last forming update / mark price."""
    updates: int = 0
    last_sent: tuple[Any, ...] = ()
    update_id: int = 0


class StreamHub:
    """Subscriptions and stream state of one local exchange (module docstring)."""

    def __init__(self, ex: LocalExchange, settings: StreamSettings | None = None) -> None:
        self.ex = ex
        self.settings = settings or StreamSettings()
        self.subs: dict[str, set[Sink]] = {}
        self.states: dict[str, _State] = {}
        self.connections: set[Sink] = set()
        self._precision: dict[str, Precision] = {}
        self.sent = 0
        """Events handed to connections (a combined or raw frame each)."""
        self.pumps = 0
        """Pump passes run (tests wait on it after moving a stepped clock)."""

    # subscriptions ---------------------------------------------------------------------------
    def attach(self, sink: Sink) -> None:
        self.connections.add(sink)

    def detach(self, sink: Sink) -> None:
        self.connections.discard(sink)
        for name in [n for n, s in self.subs.items() if sink in s]:
            self.unsubscribe(sink, [name])

    def subscribe(self, sink: Sink, names: list[str]) -> None:
        """Deliver `names` to `sink` from the next due event on (routes permitting)."""
        for name in names:
            spec = parse_stream(name)
            if spec is None or sink.route not in ROUTES[spec.kind]:
                continue
            self.subs.setdefault(name, set()).add(sink)
            if name not in self.states:
                self.states[name] = self._new_state(spec)

    def unsubscribe(self, sink: Sink, names: list[str]) -> None:
        for name in names:
            subs = self.subs.get(name)
            if subs is None:
                continue
            subs.discard(sink)
            if not subs:
                del self.subs[name]
                self.states.pop(name, None)

    def _new_state(self, spec: StreamSpec) -> _State:
        now = self.ex.clock.now_ms()
        state = _State(spec)
        if spec.kind == "kline":
            state.cursor = now - now % spec.period_ms
        return state

    # fault injection -------------------------------------------------------------------------
    def refusing(self) -> bool:
        """`faults.drop_ws_connections`: while set, connections are closed and refused."""
        return bool(getattr(self.ex.faults, "drop_ws_connections", False))

    def stalled(self) -> frozenset[str] | None:
        """`faults.stall_streams`: the stream names (a collection) that send nothing while
        listed; True stalls every stream. Returns None for all, else the names."""
        value = getattr(self.ex.faults, "stall_streams", None)
        if isinstance(value, (set, frozenset, list, tuple)):
            return frozenset(value)
        return None if value else frozenset()

    def _malformed_due(self) -> bool:
        """`faults.malformed_frames`: how many of the next frames to precede with a frame that
        is not JSON (added, not substituted, so a fault never costs a closing update)."""
        faults = self.ex.faults
        n = getattr(faults, "malformed_frames", 0)
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            return False
        faults.malformed_frames = n - 1
        return True

    def drop_all(self) -> None:
        """Close every connection (market and user) at once, as a server restart would."""
        for sink in list(self.connections):
            sink.drop()

    def inject_all(self, text: str) -> None:
        """Send `text` as a frame to every connection (malformed-frame fault)."""
        for sink in list(self.connections):
            sink.inject(text)

    # the pump --------------------------------------------------------------------------------
    def pump(self, now_ms: int) -> None:
        """Emit everything due at market time `now_ms` (module docstring)."""
        self.pumps += 1
        speed = self.ex.clock.speed
        stalled = self.stalled()
        for name, state in list(self.states.items()):
            if stalled is None or name in stalled:
                continue  # nothing is lost: due closes go out when the stall ends
            kind = state.spec.kind
            if kind == "kline":
                self._pump_kline(name, state, now_ms, speed)
            elif kind in ("markPrice", "markPriceArr"):
                self._pump_mark(name, state, now_ms, speed)
            else:
                self._pump_book(name, state, now_ms)

    def _emit(self, name: str, payload: Any, final: bool) -> None:
        text = orjson.dumps(payload).decode()
        for sink in list(self.subs.get(name, ())):
            if self._malformed_due():
                sink.inject(MALFORMED_FRAME)
            sink.deliver(name, text, final)
            self.sent += 1

    def precision(self, symbol: str) -> Precision:
        p = self._precision.get(symbol)
        if p is None:
            p = self._precision[symbol] = precision_for(self.ex.rules, symbol)
        return p

    def _pump_kline(self, name: str, st: _State, now: int, speed: float) -> None:
        spec = st.spec
        series = self.ex.market.series.get(spec.symbol)
        if series is None:
            return
        ot = series.open_time
        period = spec.period_ms
        p = self.precision(spec.symbol)
        while st.cursor + period <= now:
            a = int(np.searchsorted(ot, st.cursor, "left"))
            if a >= len(ot):
                st.cursor = now - now % period
                break
            if int(ot[a]) >= st.cursor + period:  # no data in this candle: jump to the next
                st.cursor = int(ot[a]) - int(ot[a]) % period
                continue
            k = self.ex.market.kline(spec.symbol, spec.interval, st.cursor, st.cursor + period)
            if k is not None:
                self._emit(name, kline_payload(k, st.cursor + period, p), True)
            st.cursor += period
            st.updates, st.last_sent = 0, ()
        step = self._kline_step(period, speed)
        if now - st.last_ms < step:
            return
        capped = speed == 0 or speed > 1
        if capped and st.updates >= self.settings.max_kline_updates:
            return
        k = self.ex.market.kline(spec.symbol, spec.interval, st.cursor, now)
        if k is None or k.closed:
            return
        payload = kline_payload(k, now, p)
        body = payload["k"]
        key = (body["t"], body["c"], body["h"], body["l"], body["v"])
        st.last_ms = now
        if key == st.last_sent:
            return
        st.last_sent = key
        st.updates += 1
        self._emit(name, payload, False)

    def _kline_step(self, period: int, speed: float) -> float:
        cap = period / max(self.settings.max_kline_updates, 1)
        if speed == 0:
            return cap
        step = self.settings.kline_update_ms * speed
        return max(step, cap) if speed > 1 else step

    def _pump_mark(self, name: str, st: _State, now: int, speed: float) -> None:
        spec = st.spec
        step = spec.period_ms * max(speed, 1.0)
        if now - st.last_ms < step:
            return
        market = self.ex.market
        symbols = [spec.symbol] if spec.kind == "markPrice" else list(market.symbols)
        nxt = next_funding_time(now)
        rate = self.settings.funding_rate
        out = []
        for sym in symbols:
            if sym not in market.series:
                continue
            price = market.mark_price(sym, now)
            if price is not None:
                out.append(mark_price_payload(sym, price, now, rate, nxt))
        if not out:
            return
        st.last_ms = now
        self._emit(name, out[0] if spec.kind == "markPrice" else out, False)

    def _pump_book(self, name: str, st: _State, now: int) -> None:
        sym = st.spec.symbol
        market = self.ex.market
        if sym not in market.series:
            return
        last = market.last_price(sym, now)
        forming = market.forming(sym, now)
        if last is None:
            return
        p = self.precision(sym)
        qty = forming.volume / max((now - forming.open_time) / 1000, 1.0) if forming else 0.0
        payload = book_ticker_payload(sym, last, qty, st.update_id + 1, now, p)
        key = (payload["b"], payload["a"])
        if key == st.last_sent:
            return
        st.last_sent = key
        st.update_id += 1
        self._emit(name, payload, False)


async def run_streams(ex: LocalExchange, stop: asyncio.Event) -> None:
    """The pump task: until `stop` is set, every `tick_s` apply the stream faults, emit the
    market-stream events due at the clock's market time, and hand the account's user-data
    events to their listenKeys' connections (expiring keys as they lapse)."""
    from slt.venues.local.userstream import ensure_user_streams

    hub = ensure_hub(ex)
    users = ensure_user_streams(ex)
    while not stop.is_set():
        try:
            if hub.refusing():
                hub.drop_all()
            hub.pump(ex.clock.now_ms())
            users.pump(ex)
        except Exception:  # one bad pass must not silence every stream for good
            log.exception("local exchange: stream pump pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), hub.settings.tick_s)


def ensure_hub(ex: LocalExchange) -> StreamHub:
    """The exchange's hub, created with default settings on first use."""
    if not isinstance(ex.streams, StreamHub):
        ex.streams = StreamHub(ex)
    return ex.streams
