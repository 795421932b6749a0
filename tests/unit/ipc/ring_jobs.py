"""Producer side of the cross-process ring test (importable by name in a spawned child)."""

from __future__ import annotations

import time

import numpy as np

from slt.ipc.ring import RingBuffer

RECORD = np.dtype([("seq", "<i8"), ("value", "<f8")])


def produce(name: str, count: int, batch: int) -> int:
    """Write records 0..count-1 (value = seq / 2) in batches, retrying what did not fit;
    returns how many refusals (overruns) it met on the way."""
    ring = RingBuffer.attach(name, RECORD)
    try:
        sent = 0
        deadline = time.monotonic() + 60
        while sent < count and time.monotonic() < deadline:
            n = min(batch, count - sent)
            seqs = np.arange(sent, sent + n)
            chunk = np.empty(n, dtype=RECORD)
            chunk["seq"] = seqs
            chunk["value"] = seqs / 2
            sent += ring.write_many(chunk)
        return ring.overruns
    finally:
        ring.close()
