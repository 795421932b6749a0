"""How a ring's consumer waits for records: a short spin, then sleeps the producer's doorbell ends.

Kept apart from `slt.ipc.ring` because it is policy on top of the ring's non-blocking reads
(`read_batch`, `view`), not part of the shared-memory protocol: the same loop serves the
copying read and the zero-copy view, and a consumer that never waits needs none of it.
"""

from __future__ import annotations

import asyncio
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from slt.ipc.bell import Doorbell
from slt.ipc.layout import READ, WRITE

DEFAULT_SPIN_S = 200e-6
"""How long `wait_batch` polls before it sleeps: records of a burst arrive microseconds apart,
so a short spin catches the rest of a burst without a sleep's ≈50-100 µs wake-up; between
bursts (a minute apart for closed candles) it sleeps and the doorbell wakes it."""
MIN_SLEEP_S = 20e-6
DEFAULT_MAX_SLEEP_S = 2e-3
"""The longest single sleep of `wait_batch`: only a missed doorbell (or a platform without
FIFOs) waits this long, so it bounds the delay of the first record after a quiet spell, at
≤ 500 wake-ups a second of an idle consumer."""

_Take = Callable[[int | None], np.ndarray[Any, Any]]


class WaitingReader(ABC):
    """The consumer's blocking and awaiting reads, for a ring that provides the header words
    (`_q`), its doorbell, an empty batch and the two non-blocking reads."""

    _q: memoryview
    _bell: Doorbell
    _empty: np.ndarray[Any, Any]

    @abstractmethod
    def read_batch(self, max_records: int | None = None) -> np.ndarray[Any, Any]:
        """Copy out the published, unread records, never waiting."""

    @abstractmethod
    def view(self, max_records: int | None = None) -> np.ndarray[Any, Any]:
        """A read-only view of the published, unread records, never waiting."""

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
        return self._wait(self.read_batch, timeout_s, spin_s, max_records, max_sleep_s)

    def wait_view(
        self,
        timeout_s: float,
        spin_s: float = DEFAULT_SPIN_S,
        max_records: int | None = None,
        max_sleep_s: float = DEFAULT_MAX_SLEEP_S,
    ) -> np.ndarray[Any, Any]:
        """`view`, waiting as `wait_batch` does: the records stay in their slots until
        `release`."""
        return self._wait(self.view, timeout_s, spin_s, max_records, max_sleep_s)

    def _wait(
        self,
        take: _Take,
        timeout_s: float,
        spin_s: float,
        max_records: int | None,
        max_sleep_s: float,
    ) -> np.ndarray[Any, Any]:
        batch = take(max_records)
        if len(batch) or timeout_s <= 0 or (max_records is not None and max_records <= 0):
            return batch
        q, clock = self._q, time.perf_counter_ns
        now = clock()
        deadline = now + int(timeout_s * 1e9)
        spin_until = min(deadline, now + int(spin_s * 1e9))
        sleep_s = MIN_SLEEP_S
        while True:
            read = q[READ]
            if q[WRITE] != read:
                batch = take(max_records)
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
            await self._bell.doze_async(loop, self._q[READ], min(max_sleep_s, remaining))
