"""Record layouts that cross the ring: a closed candle as a fixed-size numpy record.

A symbol fits in 24 bytes (Binance's longest USDⓈ-M symbols are well under that); times are
int UTC ms; prices and volume float64, as in `slt.domain.Candle`. `recv_ns` is the wall-clock
time (UTC ns, comparable across processes) at which the Feed received the frame that closed the
candle, 0 when unknown: the Brain measures its candle-to-order latency from it and refuses to
open positions on candles that waited too long (after a restart, the ring's backlog).

The symbol field is 24 bytes where 20 would do so that the record is 88 bytes, a multiple of 8,
and every 8-byte field lies on an 8-byte boundary in every slot: numpy fills or reads a column
of a batch in place much faster when it is aligned (stamping 4096 records in the ring bench:
1.3 µs against 6.0 µs with the 84-byte record).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import numpy as np

from slt.domain import Candle

SYMBOL_BYTES = 24
CANDLE_RECORD = np.dtype(
    [
        ("symbol", f"S{SYMBOL_BYTES}"),
        ("open_time", "<i8"),
        ("close_time", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("volume", "<f8"),
        ("recv_ns", "<i8"),
    ]
)


def candle_record(c: Candle, recv_ns: int = 0) -> tuple[Any, ...]:
    """`c` as a row of `CANDLE_RECORD`; a symbol longer than the field is an error."""
    symbol = c.symbol.encode("ascii")
    if len(symbol) > SYMBOL_BYTES:
        raise ValueError(f"symbol {c.symbol!r} is longer than {SYMBOL_BYTES} bytes")
    return (symbol, c.open_time, c.close_time, c.open, c.high, c.low, c.close, c.volume, recv_ns)


_PACKED = struct.Struct(f"<{SYMBOL_BYTES}sqq5dq")
assert _PACKED.size == CANDLE_RECORD.itemsize
assert CANDLE_RECORD.itemsize % 8 == 0, "every slot's 8-byte fields stay aligned"


def candle_bytes(c: Candle, recv_ns: int = 0) -> bytes:
    """`c` packed as one `CANDLE_RECORD` (the ring's fast path for single writes)."""
    return _PACKED.pack(*candle_record(c, recv_ns))


def candle_records(candles: Iterable[Candle]) -> np.ndarray[Any, Any]:
    return np.array([candle_record(c) for c in candles], dtype=CANDLE_RECORD)


def received_ns(records: np.ndarray[Any, Any]) -> list[int]:
    """The Feed's receipt times of a batch's candles (0 where unknown), in order."""
    return [int(x) for x in records["recv_ns"]]


def candles_of(records: np.ndarray[Any, Any]) -> list[Candle]:
    """The candles in a batch read from the ring, in order."""
    return [
        Candle(
            bytes(r["symbol"]).decode("ascii"),
            int(r["open_time"]),
            int(r["close_time"]),
            float(r["open"]),
            float(r["high"]),
            float(r["low"]),
            float(r["close"]),
            float(r["volume"]),
        )
        for r in records
    ]
