"""Ring buffer against multiprocessing.Queue between two processes: throughput and latency.

The producer is a spawned process, the consumer is this one; both transports carry the same
message, a `CANDLE_RECORD` behind the producer's `time.perf_counter_ns()` stamp (CLOCK_MONOTONIC,
one clock for every process on Linux). The consumer takes its own stamp right after each read,
so every message's one-way latency is measured, not guessed.
Every scenario runs for both transports in the same invocation:

* throughput, flat out — single records (`ring.write(bytes)` / `Queue.put(bytes)`), and
  blocks of `--batch` records stamped with one numpy call (`ring.write_many(array)` /
  one `Queue.put(array.tobytes())` per block); and zero-copy blocks: the producer claims the
  next free slots (`ring.claim`), stamps them in place with one numpy call and
  publishes them, the consumer takes a read-only `ring.view` (`wait_view`), reads every
  record's stamp where it lies and releases the slots, against the same Queue blocks; both
  block sizes `--batch` (the Feed's burst) and `--big-batch`. Messages per second from the
  first stamp to the last arrival, and each side's CPU time per message (the producer's from
  its first send to its last, the Queue's feeder thread included up to `join_thread`; the
  consumer's over the receiving window); each scenario `--repeats` times per transport, ring
  and Queue in turn, the median run of each shown with the range of the pairs' ratios;
* latency, paced — single records at `--rate` per second (the producer sleeps to a schedule,
  never spins, so a Queue's feeder thread always gets the GIL);
* latency, Feed bursts — the Feed's real pattern: every `--gap-ms` (a minute live) a burst of
  `--batch` closed candles, written one by one as they are decoded, or as one block.

The ring's consumer reads at most 4096 records at a time (as the Brain does) with
`wait_batch` (spin `--spin-us` then sleep until the doorbell, or no spin), or awaits
`wait_batch_async` in an asyncio loop (the Brain's way); the Queue's blocks in `get()`. A
first table gives one-process call costs, the floor under the two-process figures.

    .venv/bin/python bench/ring_speed.py [--messages 300000] [--block-messages 3000000]
        [--batch 300] [--big-batch 4096] [--repeats 3] [--rate 10000]
"""

from __future__ import annotations

import os

# Before numpy is imported, here and in the spawned producers (they inherit the environment):
# OpenBLAS starts a worker thread per extra CPU at import, which polls for work for about a
# tenth of a second before it sleeps. On two CPUs that steals one from whichever run starts
# just after a producer is spawned (a zero-copy run lasts 5-15 ms), for both transports; the
# benchmark does no linear algebra.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import contextlib
import ctypes
import multiprocessing as mp
import struct
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from _ring_costs import one_process_costs
from slt.domain import Candle
from slt.ipc import CANDLE_RECORD, RingBuffer
from slt.ipc.records import candle_bytes

STAMPED = np.dtype([("sent_ns", "<i8"), ("candle", CANDLE_RECORD)])
_STAMP = struct.Struct("<q")
RING_SLOTS = 65_536
PR_SET_TIMERSLACK = 29
BRAIN_BATCH = 4096
"""Most records the consumer takes per read, as the Brain does (`read_batch(4096)`)."""


@dataclass(frozen=True)
class Pattern:
    """What the producer does: `count` records in bursts of `burst` (one block each when
    `block`), a new burst every `period_s` seconds (0: flat out). `in_place`: the ring's
    blocks are claimed, stamped and published in their slots, and read through views (the
    Queue still sends each block as one message)."""

    count: int
    burst: int
    block: bool
    period_s: float
    in_place: bool = False


@dataclass(frozen=True)
class Result:
    msg_per_s: float
    latency_ns: np.ndarray[Any, Any]
    burst_ns: np.ndarray[Any, Any]
    cpu: float
    producer_us: float
    consumer_us: float
    achieved_per_s: float
    overruns: int


def _template() -> bytearray:
    """The message both producers send, built once: the benchmark times the transport, not
    the packing of candles (which both would pay alike); only the stamp is written anew."""
    candle = Candle("BTCUSDT", 0, 59_999, 1.0, 2.0, 0.5, 1.5, 3.0)
    return bytearray(_STAMP.pack(0) + candle_bytes(candle))


def _schedule(pattern: Pattern) -> Any:
    """Yield before each burst, sleeping until its start on a fixed schedule; a late burst
    starts at once and the schedule restarts from it (no catch-up bursts)."""
    next_ns = time.perf_counter_ns()
    period_ns = int(pattern.period_s * 1e9)
    for _ in range(pattern.count // pattern.burst):
        if period_ns:
            delay = next_ns - time.perf_counter_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
            else:
                next_ns = time.perf_counter_ns()
            next_ns += period_ns
        yield


def _fine_sleeps() -> None:
    """Let the producer's sleeps end within a microsecond or so of their deadline instead of
    Linux's default 50 µs timer slack, so the paced rate is the one asked for. Both producers
    do it; the consumers keep the default (it would flatter the ring's sleeping consumer)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1_000, 0, 0, 0)


def _prefill(ring: RingBuffer, message: bytearray) -> None:
    """Put the template candle in every slot through a claim that is never published (so the
    consumer sees none of it): the zero-copy producer then only stamps its slots, as the Feed
    would decode straight into them, and the records the consumer reads are whole messages."""
    slots = ring.claim(ring.capacity)
    slots[:] = np.frombuffer(bytes(message), dtype=STAMPED)[0]


def _send_in_place(claim: Any, publish: Any, burst: int, clock: Any) -> None:
    """One block, zero-copy: claim the free slots (up to the wrap), stamp them with one numpy
    call, publish; again for what lay past the wrap or did not fit yet."""
    left = burst
    while left:
        slots = claim(left)
        if not len(slots):  # full: refused and counted, as write_many's retries are
            os.sched_yield()
            continue
        slots["sent_ns"].fill(clock())
        left -= publish()


def ring_producer(name: str, pattern: Pattern, cpu: Any) -> None:
    _fine_sleeps()
    ring = RingBuffer.attach(name, STAMPED)
    try:
        message = _template()
        if pattern.in_place:
            _prefill(ring, message)
        start = time.process_time()
        block = np.frombuffer(bytes(message) * pattern.burst, dtype=STAMPED).copy()
        write, clock, pack = ring.write, time.perf_counter_ns, _STAMP.pack_into
        for _ in _schedule(pattern):
            if pattern.in_place:
                _send_in_place(ring.claim, ring.publish, pattern.burst, clock)
                continue
            if pattern.block:
                block["sent_ns"].fill(clock())
                done = ring.write_many(block)
                while done < pattern.burst:
                    os.sched_yield()
                    done += ring.write_many(block[done:])
                continue
            for _ in range(pattern.burst):
                pack(message, 0, clock())
                record = bytes(message)
                while not write(record):
                    os.sched_yield()
        cpu.value = time.process_time() - start
    finally:
        ring.close()


def queue_producer(q: Any, pattern: Pattern, cpu: Any) -> None:
    _fine_sleeps()
    start = time.process_time()
    message = _template()
    block = np.frombuffer(bytes(message) * pattern.burst, dtype=STAMPED).copy()
    put, clock, pack = q.put, time.perf_counter_ns, _STAMP.pack_into
    for _ in _schedule(pattern):
        if pattern.block:
            block["sent_ns"].fill(clock())
            put(block.tobytes())
            continue
        for _ in range(pattern.burst):
            pack(message, 0, clock())
            put(bytes(message))
    q.close()
    q.join_thread()  # the feeder thread's pickling and pipe writes are the producer's work too
    cpu.value = time.process_time() - start


class _Tally:
    """Per-message send and arrival stamps, and the consumer's CPU over the same window."""

    def __init__(self, count: int) -> None:
        # Filled now, not left to `np.empty`: the kernel then maps and zeroes the pages before
        # the timing starts instead of during it (16 bytes per message, 48 MB for 3M; at
        # 150M messages/s faulting them in took as long as the ring's own work).
        self.sent = np.full(count, -1, dtype=np.int64)
        self.recv = np.full(count, -1, dtype=np.int64)
        self.got = 0
        self.cpu0 = self.wall0 = 0.0

    def add(self, sent: Any, n: int, now: int) -> None:
        if self.got == 0:
            self.cpu0, self.wall0 = time.process_time(), time.perf_counter()
        self.sent[self.got : self.got + n] = sent
        self.recv[self.got : self.got + n] = now
        self.got += n

    def result(self, pattern: Pattern, overruns: int, producer_cpu_s: float) -> Result:
        cpu = (time.process_time() - self.cpu0) / max(time.perf_counter() - self.wall0, 1e-9)
        consumer_cpu_s = time.process_time() - self.cpu0
        span = (self.recv[-1] - self.sent[0]) / 1e9
        bursts = self.recv.reshape(-1, pattern.burst)[:, -1]
        firsts = self.sent.reshape(-1, pattern.burst)[:, 0]
        sends = (self.sent[-1] - self.sent[0]) / 1e9
        return Result(
            msg_per_s=len(self.sent) / span,
            latency_ns=self.recv - self.sent,
            burst_ns=bursts - firsts,
            cpu=cpu,
            producer_us=producer_cpu_s / len(self.sent) * 1e6,
            consumer_us=consumer_cpu_s / len(self.sent) * 1e6,
            achieved_per_s=(len(self.sent) - 1) / sends if sends > 0 else float("inf"),
            overruns=overruns,
        )


def run_ring(pattern: Pattern, spin_s: float, use_asyncio: bool = False) -> Result:
    ctx = mp.get_context("spawn")
    ring = RingBuffer.create(f"slt-bench-{uuid.uuid4().hex[:10]}", RING_SLOTS, STAMPED)
    try:
        cpu = ctx.Value("d", 0.0)
        proc = ctx.Process(target=ring_producer, args=(ring.name, pattern, cpu))
        proc.start()
        tally = _Tally(pattern.count)
        wait, clock = ring.wait_batch, time.perf_counter_ns

        async def consume_async() -> None:  # the Brain's way: awaiting in its event loop
            while tally.got < pattern.count:
                records = await ring.wait_batch_async(5.0, BRAIN_BATCH)
                now = clock()
                if not len(records):
                    raise RuntimeError("the ring producer went silent")
                tally.add(records["sent_ns"], len(records), now)

        if use_asyncio:
            asyncio.run(consume_async())
        elif pattern.in_place:
            _consume_in_place(ring, tally, spin_s)
        while tally.got < pattern.count:
            records = wait(5.0, spin_s, BRAIN_BATCH)
            now = clock()
            if not len(records):
                raise RuntimeError("the ring producer went silent")
            tally.add(records["sent_ns"], len(records), now)
        proc.join()
        return tally.result(pattern, ring.overruns, cpu.value)
    finally:
        ring.close()


def _consume_in_place(ring: RingBuffer, tally: _Tally, spin_s: float) -> None:
    """Zero-copy reads: a read-only view of at most `BRAIN_BATCH` records in their slots
    (waiting as `wait_batch` does), every record's stamp read from it where it lies, then the
    slots released to the producer. (In a function, so no view outlives it: a live view pins
    the shared block and `close` refuses.)"""
    wait, release, clock = ring.wait_view, ring.release, time.perf_counter_ns
    while tally.got < len(tally.sent):
        records = wait(5.0, spin_s, BRAIN_BATCH)
        now = clock()
        if not len(records):
            raise RuntimeError("the ring producer went silent")
        tally.add(records["sent_ns"], len(records), now)
        release()


def run_queue(pattern: Pattern, spin_s: float) -> Result:
    del spin_s  # a Queue consumer blocks in get(); it has no wait strategy to tune
    ctx = mp.get_context("spawn")
    q = ctx.Queue(maxsize=RING_SLOTS)
    cpu = ctx.Value("d", 0.0)
    proc = ctx.Process(target=queue_producer, args=(q, pattern, cpu))
    proc.start()
    tally = _Tally(pattern.count)
    get, clock, stamp = q.get, time.perf_counter_ns, _STAMP.unpack_from
    while tally.got < pattern.count:
        data = get()
        now = clock()
        if len(data) == STAMPED.itemsize:  # one record: its stamp without building an array
            tally.add(stamp(data)[0], 1, now)
        else:
            records = np.frombuffer(data, dtype=STAMPED)
            tally.add(records["sent_ns"], len(records), now)
    proc.join()
    return tally.result(pattern, 0, cpu.value)


def _us(ns: float) -> str:
    return f"{ns / 1e3:,.1f}"


def _throughput(console: Console, scenarios: dict[str, Pattern], spin: float, repeats: int) -> None:
    """Each scenario `repeats` times, ring and Queue in turn (ring, Queue, ring, Queue, …), so
    both meet the same machine; the table gives each transport's median run (by messages/s),
    its CPU, the ratio of the medians and the lowest and highest ratio of a ring run to the
    Queue run just after it."""
    title = "Throughput, flat out (messages / s from first stamp to last arrival)"
    if repeats > 1:
        title += f", median of {repeats} runs each"
    table = Table(title=title)
    columns = ("scenario", "RingBuffer", "mp.Queue", "ring/Queue", "pairs")
    for col in (*columns, "CPU ns/msg: ring", "Queue", "CPU ratio"):  # producer + consumer
        table.add_column(col, justify="right")
    for scenario, pattern in scenarios.items():
        rings, queues = [], []
        for _ in range(repeats):
            rings.append(run_ring(pattern, spin))
            queues.append(run_queue(pattern, spin))
        pairs = [r.msg_per_s / q.msg_per_s for r, q in zip(rings, queues, strict=True)]
        ring, queue = (
            sorted(runs, key=lambda r: r.msg_per_s)[len(runs) // 2] for runs in (rings, queues)
        )
        ring_cpu, queue_cpu = (
            ring.producer_us + ring.consumer_us,
            queue.producer_us + queue.consumer_us,
        )
        table.add_row(
            scenario,
            f"{ring.msg_per_s:,.0f}",
            f"{queue.msg_per_s:,.0f}",
            f"{ring.msg_per_s / queue.msg_per_s:.1f}×",
            f"{min(pairs):.1f}-{max(pairs):.1f}×",
            f"{ring.producer_us * 1e3:.1f} + {ring.consumer_us * 1e3:.1f}",
            f"{queue.producer_us * 1e3:.1f} + {queue.consumer_us * 1e3:.1f}",
            f"{queue_cpu / ring_cpu:.1f}×",
        )
    console.print(table)


def _latency(console: Console, scenarios: dict[str, Pattern], spin: float) -> None:
    table = Table(title="One-way latency, µs (producer stamp → consumer has the record)")
    columns = ("scenario", "transport", "p50", "p99", "max", "burst p50", "burst p99")
    for col in (*columns, "CPU", "sent/s"):
        table.add_column(col, justify="right")
    transports = {
        f"ring, spin {spin * 1e6:.0f} µs": lambda p: run_ring(p, spin),
        "ring, no spin": lambda p: run_ring(p, 0.0),
        "ring, asyncio await": lambda p: run_ring(p, 0.0, use_asyncio=True),
        "mp.Queue": lambda p: run_queue(p, spin),
    }
    for scenario, pattern in scenarios.items():
        for transport, run in transports.items():
            r = run(pattern)
            lat, burst = r.latency_ns, r.burst_ns
            bursty = pattern.burst > 1
            table.add_row(
                scenario,
                transport,
                _us(np.percentile(lat, 50)),
                _us(np.percentile(lat, 99)),
                _us(lat.max()),
                _us(np.percentile(burst, 50)) if bursty else "",
                _us(np.percentile(burst, 99)) if bursty else "",
                f"{r.cpu:.0%}",
                f"{r.achieved_per_s:,.0f}",
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=300_000, help="flat-out runs")
    parser.add_argument("--block-messages", type=int, default=3_000_000, help="flat-out blocks")
    parser.add_argument("--batch", type=int, default=300, help="records per block or burst")
    parser.add_argument("--big-batch", type=int, default=4096, help="large blocks (0: none)")
    parser.add_argument("--bursts", type=int, default=100)
    parser.add_argument("--gap-ms", type=float, default=50.0, help="burst period (a minute live)")
    parser.add_argument("--rate", type=float, default=10_000.0, help="paced run, messages/s")
    parser.add_argument("--paced-messages", type=int, default=20_000)
    parser.add_argument("--spin-us", type=float, default=200.0, help="ring wait_batch spin")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs per transport")
    parser.add_argument("--costs", action="store_true", help="only the one-process call costs")
    args = parser.parse_args()
    b, spin, gap = args.batch, args.spin_us / 1e6, args.gap_ms / 1e3
    flat, blocks = args.messages // b * b, args.block_messages // b * b
    console = Console(width=120)
    console.print(
        f"{STAMPED.itemsize}-byte stamped candle records between two processes on "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at start"
    )
    one_process_costs(console, STAMPED, RING_SLOTS, _template())
    if args.costs:
        return
    throughput = {
        "single records": Pattern(flat, 1, False, 0.0),
        f"blocks of {b}": Pattern(blocks, b, True, 0.0),
        f"zero-copy, {b}": Pattern(blocks, b, True, 0.0, in_place=True),
    }
    if args.big_batch > 0:
        big = args.big_batch
        big_count = args.block_messages // big * big
        throughput[f"blocks of {big}"] = Pattern(big_count, big, True, 0.0)
        throughput[f"zero-copy, {big}"] = Pattern(big_count, big, True, 0.0, True)
    _throughput(console, throughput, spin, max(1, args.repeats))
    _latency(
        console,
        {
            f"paced {args.rate:,.0f}/s": Pattern(args.paced_messages, 1, False, 1 / args.rate),
            f"bursts of {b}, one by one": Pattern(args.bursts * b, b, False, gap),
            f"bursts of {b}, one block": Pattern(args.bursts * b, b, True, gap),
        },
        spin,
    )
    console.print(
        f"load average {os.getloadavg()[0]:.2f} at the end; targets: ≥ 20× throughput, p99 < 50 µs"
    )


if __name__ == "__main__":
    main()
