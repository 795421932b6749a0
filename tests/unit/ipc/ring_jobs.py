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


def produce_in_bursts(name: str, bursts: int, burst: int, pause_s: float) -> int:
    """Write `bursts` bursts of `burst` records one by one as bytes (seq = running count),
    pausing `pause_s` between bursts so that a waiting reader falls asleep in between;
    returns the overruns met."""
    ring = RingBuffer.attach(name, RECORD)
    try:
        record = np.empty(1, dtype=RECORD)
        seq = 0
        deadline = time.monotonic() + 60
        for _ in range(bursts):
            for _ in range(burst):
                record["seq"], record["value"] = seq, seq / 2
                data = record.tobytes()
                while not ring.write(data) and time.monotonic() < deadline:
                    time.sleep(0)
                seq += 1
            time.sleep(pause_s)
        return ring.overruns
    finally:
        ring.close()


def write_after(name: str, delay_s: float, seq: int) -> None:
    """Sleep `delay_s`, then publish one record: wakes a reader blocked in `wait_batch`."""
    ring = RingBuffer.attach(name, RECORD)
    try:
        time.sleep(delay_s)
        ring.write((seq, seq / 2))
    finally:
        ring.close()


def produce_in_place(name: str, count: int, batch: int) -> int:
    """Write records 0..count-1 (value = seq / 2) zero-copy: claim up to `batch` slots, fill
    them in place, publish, claim again for the rest; returns the overruns met (the claims
    that found the ring full)."""
    ring = RingBuffer.attach(name, RECORD)
    try:
        _claim_fill_publish(ring, count, batch)
        return ring.overruns
    finally:
        ring.close()


def _claim_fill_publish(ring: RingBuffer, count: int, batch: int) -> None:
    """The claim loop, in its own frame so that no claimed view outlives it (a live view
    keeps the shared block mapped and `close` refuses)."""
    sent = 0
    deadline = time.monotonic() + 60
    while sent < count and time.monotonic() < deadline:
        slots = ring.claim(min(batch, count - sent))
        if not len(slots):
            time.sleep(0)
            continue
        seqs = np.arange(sent, sent + len(slots))
        slots["seq"] = seqs
        slots["value"] = seqs / 2
        sent += ring.publish()
