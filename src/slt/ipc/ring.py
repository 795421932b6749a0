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
`write_seq`; the consumer reads `write_seq`, then the records, and checks each slot's tag
(`n + 1`): a record whose tag is not the expected one has not been fully published, and the
batch stops before it (it is read on the next call). On x86-64's total store order that never
happens; the tag makes the protocol safe where stores may be reordered too.

Layout (little-endian int64 counters, each on its own 64-byte cache line so the two processes
do not false-share): write_seq @0, read_seq @64, overruns @128, capacity @192, record size
@200, then `capacity` slots of `8 + record_size` bytes (tag, then the record).
"""

from __future__ import annotations

import struct
from multiprocessing import shared_memory
from typing import Any

import numpy as np

_I64 = struct.Struct("<q")
_WRITE = 0
_READ = 8  # int64 index of offset 64
_OVERRUNS = 16  # offset 128
_CAPACITY = 24  # offset 192
_RECORD = 25  # offset 200
HEADER_BYTES = 256
TAG_BYTES = 8


class RingBuffer:
    """One side's view of a shared ring (module docstring). Create it in one process with
    `RingBuffer.create(name, capacity, dtype)`, attach in the other with `attach(name, dtype)`.

    Records are rows of a numpy structured `dtype`, so a batch is one array copy."""

    def __init__(self, shm: shared_memory.SharedMemory, dtype: np.dtype[Any], owner: bool) -> None:
        self.shm = shm
        self.dtype = np.dtype(dtype)
        self.owner = owner
        self._head = np.ndarray((32,), dtype="<i8", buffer=shm.buf)
        capacity = int(self._head[_CAPACITY])
        if int(self._head[_RECORD]) != self.dtype.itemsize:
            raise ValueError(
                f"ring {shm.name!r} holds {int(self._head[_RECORD])}-byte records, not "
                f"{self.dtype.itemsize}-byte ones: producer and consumer disagree on the layout"
            )
        self.capacity = capacity
        slot = np.dtype([("tag", "<i8"), ("rec", self.dtype)])
        self._slots = np.ndarray((capacity,), dtype=slot, buffer=shm.buf, offset=HEADER_BYTES)
        self._tags = self._slots["tag"]
        self._recs = self._slots["rec"]
        self._slot = slot.itemsize
        assert shm.buf is not None, "an open shared-memory block has a buffer"
        self._buf: memoryview = shm.buf
        self._gate = int(self._head[_READ])
        """The producer's last look at `read_seq` (it only grows, so this errs on the safe side)."""

    @staticmethod
    def size_for(capacity: int, dtype: np.dtype[Any]) -> int:
        return HEADER_BYTES + capacity * (TAG_BYTES + np.dtype(dtype).itemsize)

    @classmethod
    def create(cls, name: str | None, capacity: int, dtype: np.dtype[Any]) -> RingBuffer:
        """A new, empty ring (the creator unlinks it on `close`)."""
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        shm = shared_memory.SharedMemory(name, create=True, size=cls.size_for(capacity, dtype))
        head = np.ndarray((32,), dtype="<i8", buffer=shm.buf)
        head[:] = 0
        head[_CAPACITY] = capacity
        head[_RECORD] = np.dtype(dtype).itemsize
        del head
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
        return int(self._head[_WRITE])

    @property
    def read_seq(self) -> int:
        return int(self._head[_READ])

    @property
    def overruns(self) -> int:
        """Records the producer refused because the reader had not freed their slot."""
        return int(self._head[_OVERRUNS])

    def depth(self) -> int:
        """Records published and not yet read."""
        return self.write_seq - self.read_seq

    # producer --------------------------------------------------------------------------------
    def write(self, record: bytes | np.void | tuple[Any, ...]) -> bool:
        """Publish one record (its `dtype.itemsize` bytes, a numpy record or a tuple of its
        fields); False (and one more overrun) when the ring is full. Bytes take the fast path:
        three integer reads and writes and one slice copy."""
        buf = self._buf
        seq = _I64.unpack_from(buf, 0)[0]
        if seq - self._gate >= self.capacity:
            # Only when the last known read position says "full" is the shared one read again
            # (the Disruptor's cached gating sequence): most writes touch no counter of the
            # other process.
            self._gate = _I64.unpack_from(buf, 64)[0]
            if seq - self._gate >= self.capacity:
                _I64.pack_into(buf, 128, _I64.unpack_from(buf, 128)[0] + 1)
                return False
        at = HEADER_BYTES + (seq % self.capacity) * self._slot
        if isinstance(record, bytes):
            buf[at + TAG_BYTES : at + self._slot] = record
        else:
            self._recs[seq % self.capacity] = record
        _I64.pack_into(buf, at, seq + 1)
        _I64.pack_into(buf, 0, seq + 1)
        return True

    def write_many(self, records: np.ndarray[Any, Any]) -> int:
        """Publish as many of `records` as fit, in order (at most two slice copies); the rest
        are counted as overruns. Returns how many were written."""
        head = self._head
        seq = int(head[_WRITE])
        free = self.capacity - (seq - int(head[_READ]))
        n = min(len(records), free)
        if n < len(records):
            head[_OVERRUNS] += len(records) - n
        if n <= 0:
            return 0
        start = seq % self.capacity
        first = min(n, self.capacity - start)
        self._recs[start : start + first] = records[:first]
        self._tags[start : start + first] = np.arange(seq + 1, seq + 1 + first)
        if n > first:
            self._recs[: n - first] = records[first:n]
            self._tags[: n - first] = np.arange(seq + 1 + first, seq + 1 + n)
        head[_WRITE] = seq + n
        return n

    # consumer --------------------------------------------------------------------------------
    def read_batch(self, max_records: int | None = None) -> np.ndarray[Any, Any]:
        """Copy out every published, unread record (at most `max_records`), oldest first, and
        free their slots. An empty array when there is nothing new."""
        head = self._head
        read = int(head[_READ])
        n = int(head[_WRITE]) - read
        if max_records is not None:
            n = min(n, max_records)
        if n <= 0:
            return np.empty(0, dtype=self.dtype)
        start = read % self.capacity
        first = min(n, self.capacity - start)
        tags = np.concatenate((self._tags[start : start + first], self._tags[: n - first]))
        expected = np.arange(read + 1, read + 1 + n)
        ready = tags == expected
        if not ready.all():
            n = int(np.argmin(ready))  # stop before the first record not fully published
            first = min(n, first)
        out = np.empty(n, dtype=self.dtype)
        out[:first] = self._recs[start : start + first]
        if n > first:
            out[first:] = self._recs[: n - first]
        head[_READ] = read + n
        return out

    # lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Release this side's mapping; the creator also removes the shared block."""
        del self._tags, self._recs, self._slots, self._head, self._buf
        self.shm.close()
        if self.owner:
            self.shm.unlink()
