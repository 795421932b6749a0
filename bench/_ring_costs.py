"""The one-process call costs of `ring_speed.py`: the floor under its two-process figures.

Each call is timed alone in one process, with no other process and no cache lines moving
between cores, so the table says what the Python and numpy calls themselves cost.
"""

from __future__ import annotations

import struct
import time
import uuid
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from slt.ipc import RingBuffer

_STAMP = struct.Struct("<q")


def one_process_costs(
    console: Console, stamped: np.dtype[Any], slots: int, message: bytearray
) -> None:
    """What one call costs in one process (best of 5 × 20,000), the floor under the
    two-process figures: no other process, no cache lines moving between cores."""
    import timeit

    from numba import njit

    ring = RingBuffer.create(f"slt-bench-{uuid.uuid4().hex[:10]}", slots, stamped)
    block = np.zeros(300, dtype=stamped)
    record, clock, pack = bytes(message), time.perf_counter_ns, _STAMP.pack_into
    raw = np.zeros(ring.size_for(slots, stamped), np.uint8)  # the same array type

    @njit(cache=False)  # type: ignore[misc]
    def compiled_noop(buf: np.ndarray[Any, Any], data: bytes) -> int:
        return len(buf) + len(data)

    compiled_noop(raw, record)

    def write_read(k: int) -> None:
        for _ in range(k):
            ring.write(record)
        ring.read_batch()

    def in_place(n: int) -> None:
        ring.claim(n)["sent_ns"].fill(clock())
        ring.publish()
        ring.view()["sent_ns"].sum()
        ring.release()

    calls: dict[str, tuple[Any, int]] = {
        "stamp + bytes() of one message": (lambda: (pack(message, 0, clock()), bytes(message)), 1),
        "write(bytes), ring never full": (lambda: write_read(100), 100),
        "write(bytes) + read_batch() of 1": (lambda: write_read(1), 1),
        "write_many(300) + read_batch() of 300": (
            lambda: (ring.write_many(block), ring.read_batch()),
            1,
        ),
        "claim(300), stamp, publish + view, sum stamps, release": (lambda: in_place(300), 1),
        "numba: call a no-op with the ring's bytes": (lambda: compiled_noop(raw, record), 1),
    }
    table = Table(title="One call in one process, µs (best of 5)")
    for col in ("operation", "µs"):
        table.add_column(col, justify="right")
    for label, (call, per) in calls.items():
        best = min(timeit.repeat(call, number=20_000 // per, repeat=5)) / (20_000 // per) / per
        table.add_row(label, f"{best * 1e6:.2f}")
    console.print(table)
    ring.close()
