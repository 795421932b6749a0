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

Zero-copy, as the Disruptor does: the producer may `claim` free slots as a writable numpy view,
fill the records in place and `publish` them; the consumer may take a read-only `view` of the
unread records, work on them where they lie and `release` them. A view is contiguous, so it
ends at the wrap (the rest comes with the next call); nothing is copied either way.

Publication order. The producer writes a batch's record bytes, then one tag, the sequence
number just past the batch (`n + 1` for its last record `n`) in the tag word of the batch's
last slot, then `write_seq`; the consumer reads `write_seq` (`w`), then the tag of slot
`w - 1`, and reads no record past the last batch end whose tag it has seen (`_horizon`), only
then advancing `read_seq`. On x86-64's total store order, with each store a separate
interpreter step, the tag is always there; it keeps a record from being read before its bytes
where the `write_seq` store could overtake them. One tag per batch guards every record of the
batch exactly as one tag per record would: each record's bytes are stored before the tag that
covers it, which is all a per-record tag relied on too, so the protocol is as safe with one
word per publish as it was with one per record, and costs a store and a compare instead of a
numpy call on each side. The slot holding a batch end's tag is not written again before the
consumer has released that record, so a tag once seen stays valid. The shared block's layout
is in `slt.ipc.layout`.

Plain Python, not numba: a write is a few int64 loads and stores through a `memoryview` and
one slice copy, and merely calling a numba function with the buffer costs as much (the bench
measures both); batches are already single `memcpy`s, or no copy at all.
"""

from __future__ import annotations

import sys
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from slt.ipc.bell import Doorbell, bell_path
from slt.ipc.layout import (
    CAPACITY,
    HEADER_BYTES,
    LAYOUT,
    LAYOUT_VERSION,
    OVERRUNS,
    READ,
    RECORD,
    SLEEP,
    TAG0,
    TAG_BYTES,
    WRITE,
    records_offset,
)
from slt.ipc.waiting import WaitingReader

_BYTES_LIKE = (bytes, bytearray, memoryview)


class RingBuffer(WaitingReader):
    """One side's view of a shared ring (module docstring). Create it in one process with
    `RingBuffer.create(name, capacity, dtype)`, attach in the other with `attach(name, dtype)`.

    Records are rows of a numpy structured `dtype`; a batch read is one byte copy, or none
    through `view`. The waiting reads (`wait_batch`, `wait_view`, `wait_batch_async`) come
    from `slt.ipc.waiting`."""

    def __init__(self, shm: shared_memory.SharedMemory, dtype: np.dtype[Any], owner: bool) -> None:
        self.shm = shm
        self.dtype = np.dtype(dtype)
        self.owner = owner
        assert shm.buf is not None, "an open shared-memory block has a buffer"
        self._buf: memoryview = shm.buf
        head = shm.buf[:HEADER_BYTES].cast("q")
        capacity, record, layout = head[CAPACITY], head[RECORD], head[LAYOUT]
        head.release()
        if layout != LAYOUT_VERSION or record != self.dtype.itemsize:
            raise ValueError(
                f"ring {shm.name!r} holds {record}-byte records in layout {layout}, not "
                f"{self.dtype.itemsize}-byte ones in layout {LAYOUT_VERSION}: producer and "
                "consumer disagree on the layout"
            )
        self.capacity = capacity
        self._isz = self.dtype.itemsize
        self._recs_at = records_offset(capacity)
        self._q = shm.buf[: HEADER_BYTES + TAG_BYTES * capacity].cast("q")
        """Header and tags as int64s: one index is one aligned 8-byte load or store."""
        self._recs = np.ndarray((capacity,), dtype=self.dtype, buffer=shm.buf, offset=self._recs_at)
        self._frozen = self._recs.view()
        self._frozen.flags.writeable = False
        """The records read-only: a consumer's `view` is one slice of it, read-only already."""
        self._empty = np.empty(0, dtype=self.dtype)
        self._empty.flags.writeable = False
        self._gate = self._q[READ]
        """The producer's last look at `read_seq` (it only grows, so this errs on the safe side)."""
        self._seen = self._gate
        """The consumer's horizon: every record below this sequence is known to be published
        (the last batch end whose tag it has seen; see the module docstring)."""
        self._bell = Doorbell(bell_path(shm.name), self._q, WRITE, SLEEP)
        self._rung = 0
        """The consumer's last sleep epoch this producer rang for: one byte per sleep at most."""
        self._claim_at = self._claimed = 0
        """The producer's open claim: its first sequence and how many slots it holds."""
        self._view_at = self._viewed = 0
        """The consumer's open view: its first sequence and how many records it still holds."""
        self._pins = sys.getrefcount(self._recs)
        """References to the records array with no view handed out (every view's base is it)."""

    @staticmethod
    def size_for(capacity: int, dtype: np.dtype[Any]) -> int:
        return records_offset(capacity) + capacity * np.dtype(dtype).itemsize

    @classmethod
    def create(cls, name: str | None, capacity: int, dtype: np.dtype[Any]) -> RingBuffer:
        """A new, empty ring (the creator unlinks it on `close`)."""
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        shm = shared_memory.SharedMemory(name, create=True, size=cls.size_for(capacity, dtype))
        assert shm.buf is not None, "a new shared-memory block has a buffer"
        shm.buf[: HEADER_BYTES + TAG_BYTES * capacity] = bytes(HEADER_BYTES + TAG_BYTES * capacity)
        head = shm.buf[:HEADER_BYTES].cast("q")
        head[CAPACITY] = capacity
        head[RECORD] = np.dtype(dtype).itemsize
        head[LAYOUT] = LAYOUT_VERSION
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
        return int(self._q[WRITE])

    @property
    def read_seq(self) -> int:
        return int(self._q[READ])

    @property
    def overruns(self) -> int:
        """Records the producer refused because the reader had not freed their slot."""
        return int(self._q[OVERRUNS])

    def depth(self) -> int:
        """Records published and not yet read."""
        q = self._q
        return int(q[WRITE] - q[READ])

    # producer --------------------------------------------------------------------------------
    def write(self, record: bytes | bytearray | memoryview | np.void | tuple[Any, ...]) -> bool:
        """Publish one record (its `dtype.itemsize` bytes, a numpy record or a tuple of its
        fields); False (and one more overrun) when the ring is full. Bytes take the fast path:
        two int64 loads, two stores and one slice copy, no numpy call."""
        q = self._q
        seq: int = q[WRITE]
        capacity = self.capacity
        if seq - self._gate >= capacity:
            # Only when the last known read position says "full" is the shared one read again
            # (the Disruptor's cached gating sequence): most writes touch no counter of the
            # other process.
            self._gate = q[READ]
            if seq - self._gate >= capacity:
                q[OVERRUNS] += 1
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
        q[TAG0 + slot] = seq + 1
        q[WRITE] = seq + 1
        asleep = q[SLEEP]
        if asleep & 1 and asleep != self._rung:
            self._rung = asleep
            self._bell.ring()
        return True

    def write_many(self, records: np.ndarray[Any, Any]) -> int:
        """Publish as many of `records` as fit, in order (at most two byte copies when they
        have the ring's dtype and are contiguous); the rest are counted as overruns. Returns
        how many were written."""
        q = self._q
        seq: int = q[WRITE]
        self._gate = q[READ]
        free = self.capacity - (seq - self._gate)
        n = min(len(records), free)
        if n < len(records):
            q[OVERRUNS] += len(records) - n
        if n <= 0:
            return 0
        start = seq % self.capacity
        first = min(n, self.capacity - start)
        self._copy_in(start, records[:first])
        if n > first:
            self._copy_in(0, records[first:n])
        self._publish(seq, n)
        return n

    def claim(self, n: int) -> np.ndarray[Any, Any]:
        """A writable view of the next free slots, at most `n` and never past the end of the
        ring (the wrap): fill the records in place, then `publish` them. Its length says how
        many were granted; nothing is copied, and the consumer sees none of it before
        `publish` (claiming again, or `write`/`write_many`, abandons an unpublished claim and
        hands the same slots out anew).

        A ring with no free slot refuses the whole claim (empty) and counts its `n` records as
        overruns, as `write` counts its one; a shorter grant counts nothing (the rest may fit
        past the wrap or once the reader moves on): claim the rest after publishing until it is
        written or refused, which writes and counts what `write_many` does. After `publish` the
        slots belong to the reader: leave the view alone."""
        q = self._q
        seq: int = q[WRITE]
        capacity = self.capacity
        start = seq % capacity
        grant = capacity - start  # (no min()/max() calls: this runs once per block)
        if n < grant:
            grant = n if n > 0 else 0
        if seq - self._gate > capacity - grant:  # as `write`: the shared read_seq only then
            self._gate = q[READ]
            free = capacity - (seq - self._gate)
            if free <= 0:
                if n > 0:
                    q[OVERRUNS] += n
                grant = 0
            elif free < grant:
                grant = free
        self._claim_at = seq
        self._claimed = grant
        return self._recs[start : start + grant]

    def publish(self, count: int | None = None) -> int:
        """Make the first `count` records of the open claim (all of them by default) visible
        to the consumer, its tag first, then `write_seq`, then the doorbell, as `write_many`
        does; the rest of the claim is abandoned. Returns how many were published. A claim
        overtaken by another write since it was made is an error, not a silent overwrite."""
        claimed = self._claimed
        if count is None:
            count = claimed
        elif not 0 <= count <= claimed:
            raise ValueError(f"cannot publish {count} records of a claim of {claimed}")
        self._claimed = 0
        if count == 0:
            return 0
        q, seq = self._q, self._claim_at
        if q[WRITE] != seq:
            raise RuntimeError("another write published since this claim: claim again")
        # `_publish`, inlined: saves a method call, ≈35 ns of the producer's ≈1 µs per block
        end = seq + count
        q[TAG0 + (end - 1) % self.capacity] = end
        q[WRITE] = end
        asleep = q[SLEEP]
        if asleep & 1 and asleep != self._rung:
            self._rung = asleep
            self._bell.ring()
        return count

    def _publish(self, seq: int, n: int) -> None:
        """Tag the last of the `n` filled slots from sequence `seq` (one word for the whole
        batch, module docstring), then advance `write_seq` and ring the doorbell if the
        consumer sleeps: the step `write_many` and `publish` share."""
        q = self._q
        q[TAG0 + (seq + n - 1) % self.capacity] = seq + n  # the batch end's tag covers it all
        q[WRITE] = seq + n
        asleep = q[SLEEP]
        if asleep & 1 and asleep != self._rung:
            self._rung = asleep
            self._bell.ring()

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
        read: int = q[READ]
        n = self._available(read)
        if max_records is not None and max_records < n:
            n = max_records
        if n <= 0:
            return self._empty
        start = read % self.capacity
        isz = self._isz
        first = min(n, self.capacity - start)
        at = self._recs_at + start * isz
        data = bytearray(self._buf[at : at + first * isz])
        if n > first:
            data += self._buf[self._recs_at : self._recs_at + (n - first) * isz]
        q[READ] = read + n  # only after the copy: the producer may reuse the slots from here
        return np.frombuffer(data, dtype=self.dtype)

    def view(self, max_records: int | None = None) -> np.ndarray[Any, Any]:
        """A read-only view of the published, unread records in their slots (at most
        `max_records`, never past the wrap: the rest comes with the next view), oldest first;
        never waits, copies nothing, frees nothing. Work on the records in place, then
        `release` them: until then the producer cannot reuse their slots, and after it the
        view's contents may change under it. Viewing again replaces the open view."""
        read: int = self._q[READ]
        n = self._available(read)
        if max_records is not None and max_records < n:
            n = max_records
        self._view_at = read
        if n <= 0:
            self._viewed = 0
            return self._empty
        start = read % self.capacity
        if n > self.capacity - start:
            n = self.capacity - start
        self._viewed = n
        return self._frozen[start : start + n]

    def release(self, count: int | None = None) -> None:
        """Free the first `count` records of the open view (all of them by default): the
        producer may write over them from now on, so finish with them first. What is not
        released stays unread and opens the next view. A view overtaken by another read
        (`read_batch`) since it was taken is an error, not a double release."""
        viewed = self._viewed
        if count is None:
            count = viewed
        elif not 0 <= count <= viewed:
            raise ValueError(f"cannot release {count} records of a view of {viewed}")
        if count == 0:
            return
        q = self._q
        if q[READ] != self._view_at:
            raise RuntimeError("another read consumed these records since the view")
        self._view_at += count
        self._viewed = viewed - count
        q[READ] = self._view_at

    def _available(self, read: int) -> int:
        """How many records from sequence `read` are published and visible: up to the last
        batch end whose tag has been seen (module docstring). One load of `write_seq` and, when
        it moved, one of the tag under it; a tag not yet visible leaves the horizon where it
        was, and the records past it wait for the next call."""
        q = self._q
        write: int = q[WRITE]
        if write == read:
            return 0
        if write != self._seen and q[TAG0 + (write - 1) % self.capacity] == write:
            self._seen = write
        return self._seen - read

    # lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Release this side's mapping; the creator also removes the shared block. Refused
        (`BufferError`, nothing closed) while a view from `claim` or `view` is alive: numpy
        keeps no buffer export, so unmapping would leave the view pointing at nothing."""
        if sys.getrefcount(self._recs) > self._pins:
            raise BufferError(f"ring {self.name!r}: a view from claim() or view() is still alive")
        self._bell.close()
        self._q.release()
        del self._recs, self._frozen, self._buf, self._q
        self.shm.close()
        if self.owner:
            self.shm.unlink()
            Doorbell.remove(bell_path(self.shm.name))
