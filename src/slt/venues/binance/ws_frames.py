"""Market-stream frames of Binance USDⓈ-M: stream names, combined-stream URLs, and the kline
event decoded and checked into a `Candle` (binance-usdm-protocol.md §9.1, §9.4).

Kept apart from the connection handling in `ws` so decoding can be tested and reasoned about
frame by frame. `parse_kline` never raises on bad input: it returns the reason the frame is
unusable, one of `MALFORMED_REASONS`, which the client counts in its `Counters`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from slt.domain import Candle
from slt.domain.candle import INTERVAL_MS
from slt.feed.assembler import AssemblerCounts
from slt.feed.lag import LagTracker

MALFORMED_REASONS = (
    "invalid_json",
    "not_a_stream_event",
    "unexpected_stream",
    "invalid_kline",
    "stream_mismatch",
    "invalid_number",
    "inconsistent",
)


class KlineBody(msgspec.Struct, frozen=True):
    t: int
    T: int
    s: str
    i: str
    o: str
    c: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str
    x: bool


class KlineEvent(msgspec.Struct, frozen=True, tag_field="e", tag="kline"):
    E: int
    s: str
    k: KlineBody


class Envelope(msgspec.Struct, frozen=True):
    stream: str
    data: msgspec.Raw


_ENVELOPE = msgspec.json.Decoder(Envelope)
_KLINE = msgspec.json.Decoder(KlineEvent)


def stream_name(symbol: str, interval: str) -> str:
    return f"{symbol.lower()}@kline_{interval}"


def split_urls(
    base_url: str, streams: Sequence[str], max_streams: int, max_url_length: int
) -> list[str]:
    """Combined-stream URLs covering `streams` in order, each within both limits."""
    prefix = base_url.rstrip("/") + "/stream?streams="
    urls: list[str] = []
    chunk: list[str] = []
    length = len(prefix)
    for name in streams:
        extra = len(name) + (1 if chunk else 0)
        if chunk and (len(chunk) >= max_streams or length + extra > max_url_length):
            urls.append(prefix + "/".join(chunk))
            chunk, length, extra = [], len(prefix), len(name)
        chunk.append(name)
        length += extra
    if chunk:
        urls.append(prefix + "/".join(chunk))
    return urls


class Update(msgspec.Struct, frozen=True, gc=False):
    """One usable kline update: its stream, event time, whether it is the closing one, and
    the candle as sent (forming or closed)."""

    stream: str
    event_ms: int
    final: bool
    candle: Candle


def parse_kline(raw: bytes | str, wanted: frozenset[str]) -> Update | str:
    """The kline update in a combined-stream frame of one of the `wanted` streams, or the
    reason it is unusable (malformed JSON, another event, a stream not asked for, numbers that
    are not finite positive prices, a bar that is not one interval long or has high < low)."""
    try:
        env = _ENVELOPE.decode(raw)
    except msgspec.ValidationError:
        return "not_a_stream_event"
    except msgspec.DecodeError:
        return "invalid_json"
    if env.stream not in wanted:
        return "unexpected_stream"
    try:
        event = _KLINE.decode(env.data)
    except msgspec.ValidationError:
        return "invalid_kline"
    except msgspec.DecodeError:
        return "invalid_json"
    k = event.k
    if stream_name(k.s, k.i) != env.stream or k.s != event.s:
        return "stream_mismatch"
    try:
        o, h, lo, cl, v = (float(x) for x in (k.o, k.h, k.l, k.c, k.v))
    except ValueError:
        return "invalid_number"
    if not all(math.isfinite(p) and p > 0 for p in (o, h, lo, cl)) or not 0 <= v < math.inf:
        return "invalid_number"
    if k.t >= k.T or k.T - k.t + 1 != INTERVAL_MS[k.i] or h < lo:
        return "inconsistent"
    return Update(env.stream, event.E, k.x, Candle(k.s, k.t, k.T, o, h, lo, cl, v))


@dataclass
class Counters:
    """What the client has seen, for health checks and tests. The per-candle decisions are
    the assembler's (`assembly`); the properties name the ones callers ask about."""

    messages: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    reconnects: int = 0
    """Connections opened again after one was lost (a first connection and a rotation are not
    counted)."""
    rotations: int = 0
    rotation_repeats: int = 0
    """Closing updates received twice while two connections of a slot overlapped (expected)."""
    failed_attempts: int = 0
    stale: int = 0
    assembly: AssemblerCounts = field(default_factory=AssemblerCounts)
    close_lag: LagTracker = field(default_factory=LagTracker)

    @property
    def closed_candles(self) -> int:
        return self.assembly.closed

    @property
    def duplicates(self) -> int:
        return self.assembly.duplicates

    @property
    def out_of_order(self) -> int:
        return self.assembly.out_of_order

    @property
    def late_finals(self) -> int:
        return self.assembly.late_finals

    @property
    def gaps(self) -> int:
        return self.assembly.gaps

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())
