"""Ring buffer against multiprocessing.Queue between two processes: throughput and latency.

Prints messages per second and one-way latency (p50, p99) for `slt.ipc.RingBuffer` and for
`multiprocessing.Queue`, measured in the same run, and the ratios. A message is one stamped
candle record (84 bytes). Throughput is measured twice for each: one record per write, and
blocks of `--batch` records per write (the Feed publishes a minute's closes together). Latency
comes from a separate run of single messages paced 200 µs apart (a sleep, which also lets the
Queue's feeder thread run), from the producer's CLOCK_MONOTONIC stamp to the moment the
reader sees the record (CLOCK_MONOTONIC is one clock for every process on Linux). The ring's
reader busy-polls; the Queue's blocks in `get`.

    .venv/bin/python bench/ring_speed.py [--messages 300000] [--batch 300]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import struct
import time
import uuid
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from slt.domain import Candle
from slt.ipc import CANDLE_RECORD, RingBuffer
from slt.ipc.records import candle_bytes

STAMPED = np.dtype([("sent_ns", "<i8"), ("candle", CANDLE_RECORD)])
_STAMP = struct.Struct("<q")
PACE_S = 0.0002


def _candle(i: int) -> bytes:
    return candle_bytes(Candle("BTCUSDT", i * 60_000, i * 60_000 + 59_999, 1.0, 2.0, 0.5, 1.5, 3.0))


def _record(i: int) -> bytes:
    """One stamped message as bytes: the producer's clock, then the packed candle."""
    return _STAMP.pack(time.monotonic_ns()) + _candle(i)


def _pace(paced: bool) -> None:
    if paced:
        time.sleep(PACE_S)  # releases the GIL, so a Queue's feeder thread is not starved


def _block(start: int, n: int) -> bytes:
    """`n` stamped records in one bytes object (what one minute of closes looks like)."""
    return b"".join(_record(i) for i in range(start, start + n))


TEMPLATE = bytearray(_record(0))
"""The message both producers send, built once: the benchmark times the transport, not the
packing of candles (which both sides would pay alike); only the time stamp is written anew."""


def _stamped() -> bytes:
    _STAMP.pack_into(TEMPLATE, 0, time.monotonic_ns())
    return bytes(TEMPLATE)


def _stamped_block(block: bytearray, n: int) -> None:
    now = time.monotonic_ns()
    for k in range(n):
        _STAMP.pack_into(block, k * STAMPED.itemsize, now)


def ring_producer(name: str, count: int, batch: int, paced: bool) -> None:
    ring = RingBuffer.attach(name, STAMPED)
    try:
        i = 0
        raw = bytearray(_block(0, batch))
        block = np.frombuffer(raw, dtype=STAMPED)
        while i < count:
            _pace(paced)
            if batch == 1:
                i += ring.write(_stamped())
                continue
            n = min(batch, count - i)
            _stamped_block(raw, n)
            done = 0
            while done < n:
                done += ring.write_many(block[done:n])
            i += n
    finally:
        ring.close()


def queue_producer(q: Any, count: int, batch: int, paced: bool) -> None:
    i = 0
    raw = bytearray(_block(0, batch))
    while i < count:
        _pace(paced)
        n = min(batch, count - i)
        if batch == 1:
            q.put(_stamped())
        else:
            _stamped_block(raw, n)
            q.put(bytes(raw[: n * STAMPED.itemsize]))
        i += n


def run_ring(count: int, batch: int, paced: bool) -> tuple[float, np.ndarray]:
    ctx = mp.get_context("spawn")
    ring = RingBuffer.create(f"slt-bench-{uuid.uuid4().hex[:10]}", 65_536, STAMPED)
    try:
        proc = ctx.Process(target=ring_producer, args=(ring.name, count, batch, paced))
        proc.start()
        lat = np.empty(count, dtype=np.int64)
        got = 0
        first = 0
        while got < count:
            records = ring.read_batch()
            if len(records):
                now = time.monotonic_ns()
                if got == 0:
                    first = now
                lat[got : got + len(records)] = now - records["sent_ns"]
                got += len(records)
        seconds = (time.monotonic_ns() - first) / 1e9
        proc.join()
        return seconds, lat
    finally:
        ring.close()


def run_queue(count: int, batch: int, paced: bool) -> tuple[float, np.ndarray]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue(maxsize=65_536)
    proc = ctx.Process(target=queue_producer, args=(q, count, batch, paced))
    proc.start()
    lat = np.empty(count, dtype=np.int64)
    got = 0
    first = 0
    while got < count:
        records = np.frombuffer(q.get(), dtype=STAMPED)
        now = time.monotonic_ns()
        if got == 0:
            first = now
        lat[got : got + len(records)] = now - records["sent_ns"]
        got += len(records)
    seconds = (time.monotonic_ns() - first) / 1e9
    proc.join()
    return seconds, lat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=300, help="records per write, batched run")
    parser.add_argument("--latency-messages", type=int, default=5_000)
    args = parser.parse_args()
    console = Console()
    console.print(
        f"{args.messages:,} messages of {STAMPED.itemsize} bytes between two processes, written "
        f"one at a time and in blocks of {args.batch} (one minute's closes of {args.batch} "
        f"symbols); latency from single messages paced {PACE_S * 1e6:.0f} µs apart…"
    )
    runs = {"slt.ipc.RingBuffer": run_ring, "multiprocessing.Queue": run_queue}
    results: dict[str, tuple[float, float, float, float]] = {}
    for label, run in runs.items():
        single, _ = run(args.messages, 1, False)
        batched, _ = run(args.messages, args.batch, False)
        _, lat = run(args.latency_messages, 1, True)
        results[label] = (
            args.messages / single,
            args.messages / batched,
            float(np.percentile(lat, 50)),
            float(np.percentile(lat, 99)),
        )
    table = Table(title="Feed → Brain transport")
    for col in ("transport", "msg/s single", f"msg/s ×{args.batch}", "p50 µs", "p99 µs"):
        table.add_column(col, justify="right")
    for label, (one, many, p50, p99) in results.items():
        table.add_row(label, f"{one:,.0f}", f"{many:,.0f}", f"{p50 / 1e3:.1f}", f"{p99 / 1e3:.1f}")
    console.print(table)
    ring, queue = results["slt.ipc.RingBuffer"], results["multiprocessing.Queue"]
    console.print(
        f"throughput ratio ring/Queue: {ring[0] / queue[0]:.1f}× single, "
        f"{ring[1] / queue[1]:.1f}× in blocks of {args.batch} (target ≥ 20×); "
        f"p99 latency ring {ring[3] / 1e3:.1f} µs vs Queue {queue[3] / 1e3:.1f} µs "
        f"(target < 50 µs), ratio {queue[3] / ring[3]:.1f}×"
    )


if __name__ == "__main__":
    main()
