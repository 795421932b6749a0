"""The user-data stream: the account's own order, fill and balance events, kept alive.

Binance pushes what happens to the account (`ORDER_TRADE_UPDATE`, `ALGO_UPDATE`,
`ACCOUNT_UPDATE`, …) on `/private/ws/<listenKey>` (binance-usdm-protocol.md §10). A listenKey
lives 60 minutes unless kept alive, and a connection can drop at any time. This client:

* creates the key over REST (`BinanceRest.new_listen_key`, weight-governed) and keeps it alive
  every `keepalive_s` (Binance recommends 30 min);
* decodes each frame with msgspec into a typed event; an unknown event type is passed on as
  `OtherEvent` (Binance adds types), a frame that is not an event is counted and dropped;
* on a lost connection or `listenKeyExpired`, gets a key again and reconnects with
  exponential backoff and jitter; because events sent while disconnected are gone, it first
  puts a `StreamGap` in the queue: the reader must reconcile orders and positions over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from slt.venues.binance.backoff import Backoff
from slt.venues.binance.rest import BinanceRest


class OrderUpdate(msgspec.Struct, frozen=True):
    """`o` of ORDER_TRADE_UPDATE, the fields the trader acts on (strings as Binance sends)."""

    s: str
    c: str
    S: str
    o: str
    x: str
    X: str
    i: int
    q: str = "0"
    p: str = "0"
    ap: str = "0"
    l: str = "0"  # noqa: E741 - Binance's field name
    z: str = "0"
    L: str = "0"
    n: str = "0"
    N: str | None = None
    T: int = 0
    t: int = 0
    """Trade id of this execution (0 on events that are not a trade)."""
    R: bool = False
    rp: str = "0"
    ps: str = "BOTH"


class OrderTradeUpdate(msgspec.Struct, frozen=True, tag_field="e", tag="ORDER_TRADE_UPDATE"):
    E: int
    T: int
    o: OrderUpdate


class AlgoUpdateBody(msgspec.Struct, frozen=True):
    caid: str
    aid: int
    s: str
    X: str
    o: str = ""
    S: str = ""
    ai: str | int = ""
    tp: str = "0"
    rm: str = ""


class AlgoUpdate(msgspec.Struct, frozen=True, tag_field="e", tag="ALGO_UPDATE"):
    E: int
    T: int
    o: AlgoUpdateBody


class BalanceChange(msgspec.Struct, frozen=True):
    a: str
    wb: str
    cw: str = "0"


class PositionChange(msgspec.Struct, frozen=True):
    s: str
    pa: str
    ep: str
    ps: str = "BOTH"
    up: str = "0"
    mt: str = ""
    iw: str = "0"


class AccountChanges(msgspec.Struct, frozen=True):
    m: str
    B: list[BalanceChange] = []
    P: list[PositionChange] = []


class AccountUpdate(msgspec.Struct, frozen=True, tag_field="e", tag="ACCOUNT_UPDATE"):
    E: int
    T: int
    a: AccountChanges


class ListenKeyExpired(msgspec.Struct, frozen=True, tag_field="e", tag="listenKeyExpired"):
    E: int


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """An event type this client does not model (ACCOUNT_CONFIG_UPDATE, TRADE_LITE, …)."""

    type: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class StreamGap:
    """The stream was down: events may be missing; reconcile over REST before going on."""

    reconnects: int


UserEvent = (
    OrderTradeUpdate | AlgoUpdate | AccountUpdate | ListenKeyExpired | OtherEvent | StreamGap
)
_EVENT = msgspec.json.Decoder(OrderTradeUpdate | AlgoUpdate | AccountUpdate | ListenKeyExpired)


class _Head(msgspec.Struct):
    e: str


_HEAD = msgspec.json.Decoder(_Head)


@dataclass
class UserStreamCounters:
    events: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    reconnects: int = 0
    keepalives: int = 0
    expired: int = 0


def decode_user_event(raw: bytes | str) -> UserEvent:
    """One frame as a typed event; `ValueError` naming why when it is not an event."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        head = _HEAD.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"not an event: {exc}") from None
    try:
        event: OrderTradeUpdate | AlgoUpdate | AccountUpdate | ListenKeyExpired = _EVENT.decode(
            data
        )
    except msgspec.ValidationError as exc:
        if head.e in ("ORDER_TRADE_UPDATE", "ALGO_UPDATE", "ACCOUNT_UPDATE", "listenKeyExpired"):
            raise ValueError(f"malformed {head.e}: {exc}") from None
        return OtherEvent(head.e, data)
    return event


class UserStreamClient:
    """Keeps one user-data stream open and hands its events out in order (module doc)."""

    def __init__(
        self,
        rest: BinanceRest,
        *,
        base_url: str | None = None,
        keepalive_s: float = 1800.0,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.rest = rest
        self.base_url = base_url or rest.urls.ws_private
        self.keepalive_s = keepalive_s
        self.backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self.open_timeout_s = open_timeout_s
        self.counters = UserStreamCounters()
        self.listen_key: str | None = None
        self._queue: asyncio.Queue[UserEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()

    async def start(self) -> None:
        """Get a listenKey, connect, and keep both alive in the background."""
        self.listen_key = await self.rest.new_listen_key()
        self._tasks = [
            asyncio.create_task(self._run(), name="slt-user-stream"),
            asyncio.create_task(self._keepalive(), name="slt-user-keepalive"),
        ]

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def __aenter__(self) -> UserStreamClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def next_event(self, timeout: float | None = None) -> UserEvent:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def __aiter__(self) -> AsyncIterator[UserEvent]:
        while True:
            yield await self._queue.get()

    async def _run(self) -> None:
        attempt = 0
        while True:
            url = f"{self.base_url}/ws/{self.listen_key}"
            try:
                async with connect(url, open_timeout=self.open_timeout_s, ping_interval=None) as ws:
                    self.counters.connects += 1
                    if self.counters.connects > 1:
                        self.counters.reconnects += 1
                        self._queue.put_nowait(StreamGap(self.counters.reconnects))
                    self._connected.set()
                    attempt = 0
                    async for raw in ws:
                        if self._handle(raw):
                            break  # listenKeyExpired: get a key again
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError):
                pass
            self._connected.clear()
            await asyncio.sleep(self.backoff.delay(attempt, self._rng))
            attempt += 1
            with contextlib.suppress(Exception):
                self.listen_key = await self.rest.new_listen_key()

    def _handle(self, raw: bytes | str) -> bool:
        try:
            event = decode_user_event(raw)
        except ValueError as exc:
            self.counters.malformed[str(exc).split(":")[0]] += 1
            return False
        self.counters.events += 1
        self._queue.put_nowait(event)
        if isinstance(event, ListenKeyExpired):
            self.counters.expired += 1
            return True
        return False

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            with contextlib.suppress(Exception):
                await self.rest.keep_alive_listen_key()
                self.counters.keepalives += 1
