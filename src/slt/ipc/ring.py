"""A single-producer, single-consumer ring buffer of fixed-size records in shared memory.

The Feed process writes closed candles; the Brain process reads them. Following the LMAX
Disruptor idea for one writer and one reader, the two share no lock, only two monotonically
increasing sequence counters, each written by one side alone:

* `write_seq` — records published so far (written only by the producer);
* `read_seq`  — records consumed so far (written only by the consumer).

Record `n` lives in slot `n % capacity`. The producer may write while
`write_seq - read_seq < capacity`; otherwise the ring is full and the record is **refused and
counted** (`overruns`), never written over an unread slot: a slow reader loses the newest data,
visibly, instead of silently reading torn or replaced records. The consumer copies every
available record in at most two slices (wrap-around) and then advances `read_seq`.

Publication order. The producer writes a record's bytes and its slot's sequence tag, then
`write_seq`; the consumer reads `write_seq`, then the tags and the records, and only then
advances `read_seq`. A slot whose tag is not the expected `n + 1` has not been fully published,
and the batch stops before it (it is read on the next call). On x86-64's total store order, with
each store a separate interpreter step, that never happens; the tag makes the protocol safe
where stores may be reordered too.

Layout (little-endian int64 counters, each on its own 64-byte cache line so the two processes
do not false-share): write_seq @0, read_seq @64, overruns @128, capacity @192, record size
@200, layout version @208, the consumer's sleep epoch @224 (odd while it sleeps, see
`slt.ipc.bell`); then `capacity` int64 tags @256; then, from the next 64-byte
boundary, `capacity` records back to back. Tags and records live in separate regions so that a
batch of records is one contiguous byte range (two at the wrap), copied with one slice each.

Plain Python, not numba: a write is a few int64 loads and stores through a `memoryview` and
one slice copy, and merely calling a numba function with the buffer costs as much (the bench
measures both); batches are already single `memcpy`s.
"""

from __future__ import annotations

import asyncio
import os
import time
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from slt.ipc.bell import Doorbell, bell_path

# int64 indexes into the header (byte offset / 8)
_WRITE = 0
_READ = 8  # offset 64
_OVERRUNS = 16  # offset 128
_CAPACITY = 24  # offset 192
_RECORD = 25  # offset 200
_LAYOUT = 26  # offset 208
_SLEEP = 28  # offset 224, on the line of constants: written only when the consumer dozes off
LAYOUT_VERSION = 2
HEADER_BYTES = 256
TAG_BYTES = 8
_TAG0 = HEADER_BYTES // TAG_BYTES  # int64 index of the first tag
_SMALL_BATCH = 16
"""Up to this many records the tags are checked one by one in Python (cheaper than numpy's
per-call overhead); above it, with one numpy sum (`_published`)."""

DEFAULT_SPIN_S = 200e-6
"""How long `wait_batch` polls before it sleeps: records of a burst arrive microseconds apart,
so a short spin catches the rest of a burst without a sleep's ≈50-100 µs wake-up; between
bursts (a minute apart for closed candles) it sleeps and the doorbell wakes it."""
MIN_SLEEP_S = 20e-6
DEFAULT_MAX_SLEEP_S = 2e-3
"""The longest single sleep of `wait_batch`: only a missed doorbell (or a platform without
FIFOs) waits this long, so it bounds the delay of the first record after a quiet spell, at
≤ 500 wake-ups a second of an idle consumer."""


_BYTES_LIKE = (bytes, bytearray, memoryview)


def _records_offset(capacity: int) -> int:
    end_of_tags = HEADER_BYTES + TAG_BYTES * capacity
    return (end_of_tags + 63) // 64 * 64


class RingBuffer:
    """One side's view of a shared ring (module docstring). Create it in one process with
    `RingBuffer.create(name, capacity, dtype)`, attach in the other with `attach(name, dtype)`.

    Records are rows of a numpy structured `dtype`; a batch read is one byte copy."""

    def __init__(self, shm: shared_memory.SharedMemory, dtype: np.dtype[Any], owner: bool) -> None:
        self.shm = shm
        self.dtype = np.dtype(dtype)
        self.owner = owner
        assert shm.buf is not None, "an open shared-memory block has a buffer"
        self._buf: memoryview = shm.buf
        head = shm.buf[:HEADER_BYTES].cast("q")
        capacity, record, layout = head[_CAPACITY], head[_RECORD], head[_LAYOUT]
        head.release()
        if layout != LAYOUT_VERSION or record != self.dtype.itemsize:
            raise ValueError(
                f"ring {shm.name!r} holds {record}-byte records in layout {layout}, not "
                f"{self.dtype.itemsize}-byte ones in layout {LAYOUT_VERSION}: producer and "
                "consumer disagree on the layout"
            )
        self.capacity = capacity
        self._isz = self.dtype.itemsize
        self._recs_at = _records_offset(capacity)
        self._q = shm.buf[: HEADER_BYTES + TAG_BYTES * capacity].cast("q")
        """Header and tags as int64s: one index is one aligned 8-byte load or store."""
        self._tags = np.ndarray((capacity,), dtype="<i8", buffer=shm.buf, offset=HEADER_BYTES)
        self._recs = np.ndarray((capacity,), dtype=self.dtype, buffer=shm.buf, offset=self._recs_at)
        self._steps = np.arange(capacity, dtype=np.int64)
        """0, 1, 2, …: a batch's tags are `seq + 1 + steps`, one ufunc call, no allocation."""
        self._empty = np.empty(0, dtype=self.dtype)
        self._empty.flags.writeable = False
        self._gate = self._q[_READ]
        """The producer's last look at `read_seq` (it only grows, so this errs on the safe side)."""
        self._bell = Doorbell(bell_path(shm.name), self._q, _WRITE, _SLEEP)
        self._rung = 0
        """The consumer's last sleep epoch this producer rang for: one byte per sleep at most."""

    @staticmethod
    def size_for(capacity: int, dtype: np.dtype[Any]) -> int:
        return _records_offset(capacity) + capacity * np.dtype(dtype).itemsize

    @classmethod
    def create(cls, name: str | None, capacity: int, dtype: np.dtype[Any]) -> RingBuffer:
        """A new, empty ring (the creator unlinks it on `close`)."""
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        shm = shared_memory.SharedMemory(name, create=True, size=cls.size_for(capacity, dtype))
        assert shm.buf is not None, "a new shared-memory block has a buffer"
        shm.buf[: HEADER_BYTES + TAG_BYTES * capacity] = bytes(HEADER_BYTES + TAG_BYTES * capacity)
        head = shm.buf[:HEADER_BYTES].cast("q")
        head[_CAPACITY] = capacity
        head[_RECORD] = np.dtype(dtype).itemsize
        head[_LAYOUT] = LAYOUT_VERSION
        head.release()
        Doorbell.install(bell_path(shm.name))
        return cls(shm, dtype, owner=True)

    @classmethod
    def attach(cls, name: str, dtype: np.dtype[Any]) -> RingBuffer:
        """The ring another process created under `name`."""
        return cls(shared_memory.SharedMemory(name), dtype, owner=False)

    @property
    def name(self) -> str:
        return self.shm.name

    # counters ------------------------------------------------------------------------------------
    @property
    def write_seq(self) -> int:
        return int(self._q[_WRITE])

    @property
    def read_seq(self) -> int:
        return int(self._q[_READ])

    @property
    def overruns(self) -> int:
        """Records the producer refused because the reader had not freed their slot."""
        return int(self._q[_OVERRUNS])

    def depth(self) -> int:
        """Records published and not yet read."""
        q = self._q
        return int(q[_WRITE] - q[_READ])

    # producer --------------------------------------------------------------------------------
    def write(self, record: bytes | bytearray | memoryview | np.void | tuple[Any, ...]) -> bool:
        """Publish one record (its `dtype.itemsize` bytes, a numpy record or a tuple of its
        fields); False (and one more overrun) when the ring is full. Bytes take the fast path:
        two int64 loads, two stores and one slice copy, no numpy call."""
        q = self._q
        seq: int = q[_WRITE]
        capacity = self.capacity
        if seq - self._gate >= capacity:
            # Only when the last known read position says "full" is the shared one read again
            # (the Disruptor's cached gating sequence): most writes touch no counter of the
            # other process.
            self._gate = q[_READ]
            if seq - self._gate >= capacity:
                q[_OVERRUNS] += 1
                return False
        slot = seq % capacity
        if isinstance(record, _BYTES_LIKE):
            size = self._isz
            at = self._recs_at + slot * size
            try:
                self._buf[at : at + size] = record
            except ValueError:
                size = memoryview(record).nbytes
                raise ValueError(
                    f"a record of {size} bytes (as bytes) for a ring of {self._isz}-byte records"
                ) from None
        else:
            self._recs[slot] = record
        q[_TAG0 + slot] = seq + 1
        q[_WRITE] = seq + 1
        asleep = q[_SLEEP]
        if asleep & 1 and asleep != self._rung:
            self._rung = asleep
            self._bell.ring()
        return True

    def write_many(self, records: np.ndarray[Any, Any]) -> int:
        """Publish as many of `records` as fit, in order (at most two byte copies when they
        have the ring's dtype and are contiguous); the rest are counted as overruns. Returns
        how many were written."""
        q = self._q
        seq: int = q[_WRITE]
        self._gate = q[_READ]
        free = self.capacity - (seq - self._gate)
        n = min(len(records), free)
        if n < len(records):
            q[_OVERRUNS] += len(records) - n
        if n <= 0:
            return 0
        start = seq % self.capacity
        first = min(n, self.capacity - start)
        self._copy_in(start, records[:first])
        np.add(self._steps[:first], seq + 1, out=self._tags[start : start + first])
        if n > first:
            self._copy_in(0, records[first:n])
            np.add(self._steps[: n - first], seq + 1 + first, out=self._tags[: n - first])
        q[_WRITE] = seq + n
        asleep = q[_SLEEP]
        if asleep & 1 and asleep != self._rung:
            self._rung = asleep
            self._bell.ring()
        return n

    def _copy_in(self, slot: int, records: np.ndarray[Any, Any]) -> None:
        """Copy `records` into consecutive slots from `slot`: as raw bytes when the layout is
        the ring's own (numpy's structured assignment goes field by field, ≈7× slower)."""
        if records.dtype == self.dtype and records.flags.c_contiguous:
            at = self._recs_at + slot * self._isz
            self._buf[at : at + len(records) * self._isz] = records.data.cast("B")
        else:
            self._recs[slot : slot + len(records)] = records

    # consumer --------------------------------------------------------------------------------
    def read_batch(self, max_records: int | None = None) -> np.ndarray[Any, Any]:
        """Copy out every published, unread record (at most `max_records`), oldest first, and
        free their slots; never waits. An empty (read-only) array when there is nothing new;
        otherwise a fresh writable array the caller owns."""
        q = self._q
        read: int = q[_READ]
        n: int = q[_WRITE] - read
        if max_records is not None and max_records < n:
            n = max_records
        if n <= 0:
            return self._empty
        start = read % self.capacity
        n = self._published(read, start, n)
        if n == 0:
            return self._empty
        isz = self._isz
        first = min(n, self.capacity - start)
        at = self._recs_at + start * isz
        data = bytearray(self._buf[at : at + first * isz])
        if n > first:
            data += self._buf[self._recs_at : self._recs_at + (n - first) * isz]
        q[_READ] = read + n  # only after the copy: the producer may reuse the slots from here
        return np.frombuffer(data, dtype=self.dtype)

    def _published(self, read: int, start: int, n: int) -> int:
        """How many of the `n` records from sequence `read` (slot `start`) carry their tag,
        counting from the first: the batch ends before the first one not fully published."""
        if n <= _SMALL_BATCH:
            q = self._q
            capacity = self.capacity
            for k in range(n):
                if q[_TAG0 + (start + k) % capacity] != read + 1 + k:
                    return k
            return n
        first = min(n, self.capacity - start)
        tags = self._tags[start : start + first]
        total = int(tags.sum())
        if n > first:
            tags = np.concatenate((tags, self._tags[: n - first]))
            total += int(tags[first:].sum())
        # A slot's tag is never above the expected one (the producer cannot lap the reader),
        # so equal sums mean every tag is the expected one: one reduction in the common case.
        if total == n * read + n * (n + 1) // 2:
            return n
        late = np.flatnonzero(tags != np.arange(read + 1, read + 1 + n))
        return n if len(late) == 0 else int(late[0])

    def wait_batch(
        self,
        timeout_s: float,
        spin_s: float = DEFAULT_SPIN_S,
        max_records: int | None = None,
        max_sleep_s: float = DEFAULT_MAX_SLEEP_S,
    ) -> np.ndarray[Any, Any]:
        """`read_batch`, but when nothing is there wait up to `timeout_s` for a record: poll
        for `spin_s`, yielding the CPU between polls (on a busy 2-core machine the producer
        may share this core: a pure spin would hold it off until preempted, and in the bench
        the yield cut the consumer's CPU per record by 10× at the same throughput), then sleep
        until the producer's doorbell rings, each sleep bounded (from 20 µs doubling up to
        `max_sleep_s`) in case the bell is missed. Returns as soon as records are readable;
        empty on timeout. An idle consumer costs next to no CPU.

        Blocks the calling thread: an asyncio consumer awaits `wait_batch_async` (or polls
        `read_batch`) instead."""
        batch = self.read_batch(max_records)
        if len(batch) or timeout_s <= 0 or (max_records is not None and max_records <= 0):
            return batch
        q, clock = self._q, time.perf_counter_ns
        now = clock()
        deadline = now + int(timeout_s * 1e9)
        spin_until = min(deadline, now + int(spin_s * 1e9))
        sleep_s = MIN_SLEEP_S
        while True:
            read = q[_READ]
            if q[_WRITE] != read:
                batch = self.read_batch(max_records)
                if len(batch):
                    return batch
            now = clock()
            if now >= deadline:
                return self._empty
            if now < spin_until:
                os.sched_yield()
            else:
                self._bell.doze(read, min(sleep_s, (deadline - now) / 1e9))
                sleep_s = min(sleep_s * 2, max_sleep_s)

    async def wait_batch_async(
        self,
        timeout_s: float,
        max_records: int | None = None,
        max_sleep_s: float = DEFAULT_MAX_SLEEP_S,
    ) -> np.ndarray[Any, Any]:
        """`wait_batch` for an asyncio consumer: when nothing is there, the running loop
        watches the doorbell (`loop.add_reader`), so other tasks run while it waits and the
        producer's first record wakes the loop at once instead of at its next poll. Each wait
        is bounded by `max_sleep_s` in case the bell is missed. Empty on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            batch = self.read_batch(max_records)
            remaining = deadline - loop.time()
            if len(batch) or remaining <= 0 or (max_records is not None and max_records <= 0):
                return batch
            await self._bell.doze_async(loop, self._q[_READ], min(max_sleep_s, remaining))

    # lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Release this side's mapping; the creator also removes the shared block."""
        self._bell.close()
        self._q.release()
        del self._tags, self._recs, self._buf, self._q
        self.shm.close()
        if self.owner:
            self.shm.unlink()
            Doorbell.remove(bell_path(self.shm.name))
