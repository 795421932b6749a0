"""Kline updates in, closed candles out: exactly one per (stream, open time), in order.

Binance pushes a kline stream's updates every 250 ms while a candle forms (`x: false`) and
one closing update (`x: true`). The closing update of USDⓈ-M futures often comes a second or
two after the minute has ended, sometimes after the first update of the next candle. Waiting
for it would delay every decision; ignoring the lateness would publish nothing. So a candle
is closed by whichever comes first:

* its final update (`x: true`), or
* the first update of the *next* candle (open time exactly one interval later): the last
  forming snapshot of the candle is then the closed candle (an "early close"), and its final
  update, when it arrives, is counted as `late_finals` and dropped — never published twice.

Everything else is refused and counted, never raised:

* `duplicates` — a final of a candle already published (a reconnect or a rotation overlap
  replaying it);
* `out_of_order` — a forming update of a candle already closed, or older than the one forming.

A forming snapshot followed by an update more than one interval later is *not* closed: after
a jump (a reconnect, a stalled stream) the snapshot may be from the middle of its minute, so
the candle is left to the gap filler (`abandoned` counts them). `forget` drops forming
snapshots when the connection that sent them is lost, for the same reason.

Published open times strictly increase per stream, so a final that arrives for a candle
older than the one forming but newer than the last published is still published (it keeps
the order). A published candle more than one interval after the previous one is a gap
(`gaps`, `missing_candles`) for the Feed to fill.

Pure: no clock, no I/O. `received_ms` (int UTC ms) is passed in and handed back with each
closed candle, so the caller can measure close lag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slt.domain import Candle

LATE_MEMORY = 8
"""Early-closed open times remembered per stream, to tell a late final from a duplicate."""


@dataclass(frozen=True, slots=True)
class Closed:
    """A candle the assembler closed. `early`: closed by the next candle's first update."""

    stream: str
    candle: Candle
    received_ms: int
    early: bool = False


@dataclass(slots=True)
class _Stream:
    last_closed: int | None = None
    forming: Candle | None = None
    early: list[int] = field(default_factory=list)


@dataclass
class AssemblerCounts:
    """What the assembler decided, by kind (module docstring)."""

    closed: int = 0
    early_closes: int = 0
    late_finals: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    abandoned: int = 0
    gaps: int = 0
    missing_candles: int = 0


class CandleAssembler:
    """Per-stream state machine turning updates into closed candles (module docstring)."""

    __slots__ = ("_streams", "counts")

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self.counts = AssemblerCounts()

    def last_closed(self, stream: str) -> int | None:
        """Open time of the last candle published for `stream`, or None."""
        st = self._streams.get(stream)
        return None if st is None else st.last_closed

    def forming(self, stream: str) -> Candle | None:
        st = self._streams.get(stream)
        return None if st is None else st.forming

    def forget(self, streams: list[str] | None = None) -> None:
        """Drop the forming snapshots of `streams` (all when None): their connection is gone,
        so the snapshot may be mid-minute and must not be closed early."""
        for name, st in self._streams.items():
            if streams is None or name in streams:
                st.forming = None

    def update(self, stream: str, candle: Candle, final: bool, received_ms: int) -> list[Closed]:
        """Apply one kline update of `stream` (its candle's fields as sent); the candles it
        closes, oldest first (none, one, or two when it also closes the forming one)."""
        st = self._streams.get(stream)
        if st is None:
            st = self._streams[stream] = _Stream()
        t = candle.open_time
        c = self.counts
        if st.last_closed is not None and t <= st.last_closed:
            if not final:
                c.out_of_order += 1
            elif t in st.early:
                st.early.remove(t)
                c.late_finals += 1
            else:
                c.duplicates += 1
            return []
        out: list[Closed] = []
        forming = st.forming
        if forming is not None and t < forming.open_time:
            if not final:
                c.out_of_order += 1
                return out
            # a final older than the candle forming, newer than the last published: in order
            self._publish(st, stream, candle, received_ms, False, out)
            return out
        if forming is not None and t > forming.open_time:
            st.forming = None
            step = forming.close_time + 1 - forming.open_time
            if t == forming.open_time + step:
                self._publish(st, stream, forming, received_ms, True, out)
            else:
                c.abandoned += 1
        if final:
            if st.forming is not None and st.forming.open_time == t:
                st.forming = None
            self._publish(st, stream, candle, received_ms, False, out)
        else:
            st.forming = candle
        return out

    def _publish(
        self,
        st: _Stream,
        stream: str,
        candle: Candle,
        received_ms: int,
        early: bool,
        out: list[Closed],
    ) -> None:
        c = self.counts
        t = candle.open_time
        step = candle.close_time + 1 - t
        last = st.last_closed
        if last is not None and t > last + step:
            c.gaps += 1
            c.missing_candles += (t - last) // step - 1
        st.last_closed = t
        c.closed += 1
        if early:
            c.early_closes += 1
            st.early.append(t)
            if len(st.early) > LATE_MEMORY:
                del st.early[0]
        out.append(Closed(stream, candle, received_ms, early))
