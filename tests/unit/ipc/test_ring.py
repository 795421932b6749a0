"""The ring buffer never loses or reorders a published record, never overwrites an unread
one (a full ring refuses and counts), wraps around correctly, and works across processes."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from slt.domain import Candle
from slt.ipc import CANDLE_RECORD, RingBuffer, candle_records, candles_of

RECORD = np.dtype([("seq", "<i8"), ("value", "<f8")])


def _name() -> str:
    return f"slt-test-{uuid.uuid4().hex[:12]}"


def _records(start: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=RECORD)
    out["seq"] = np.arange(start, start + n)
    out["value"] = out["seq"] * 0.5
    return out


class RingModel(RuleBasedStateMachine):
    """Random writes (single and batched) and reads against a bounded FIFO model."""

    def __init__(self) -> None:
        super().__init__()
        self.capacity = 5
        self.ring = RingBuffer.create(_name(), self.capacity, RECORD)
        self.model: deque[int] = deque()
        self.next = 0
        self.refused = 0

    @rule()
    def write_one(self) -> None:
        ok = self.ring.write(tuple(_records(self.next, 1)[0]))
        if len(self.model) < self.capacity:
            assert ok
            self.model.append(self.next)
            self.next += 1
        else:
            assert not ok
            self.refused += 1

    @rule(n=st.integers(0, 12))
    def write_many(self, n: int) -> None:
        written = self.ring.write_many(_records(self.next, n))
        fits = min(n, self.capacity - len(self.model))
        assert written == fits
        self.model.extend(range(self.next, self.next + fits))
        self.next += fits
        self.refused += n - fits

    @rule(limit=st.one_of(st.none(), st.integers(0, 8)))
    def read(self, limit: int | None) -> None:
        got = self.ring.read_batch(limit)
        take = len(self.model) if limit is None else min(limit, len(self.model))
        expected = [self.model.popleft() for _ in range(take)]
        assert got["seq"].tolist() == expected
        assert np.array_equal(got["value"], np.asarray(expected) * 0.5)

    @invariant()
    def counters_agree(self) -> None:
        assert self.ring.depth() == len(self.model)
        assert self.ring.overruns == self.refused
        assert 0 <= self.ring.depth() <= self.capacity

    def teardown(self) -> None:
        self.ring.close()


TestRingModel = RingModel.TestCase
TestRingModel.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


class LargeBatchRingModel(RingModel):
    """The same model in a bigger ring with bigger batches, so that batches end anywhere in
    the ring and the two-slice copies at the wrap are exercised too."""

    def __init__(self) -> None:
        super().__init__()
        self.ring.close()
        self.capacity = 40
        self.ring = RingBuffer.create(_name(), self.capacity, RECORD)

    @rule(n=st.integers(17, 60))
    def write_block(self, n: int) -> None:
        self.write_many(n)

    @rule(limit=st.one_of(st.none(), st.integers(17, 45)))
    def read_many(self, limit: int | None) -> None:
        self.read(limit)


TestLargeBatchRingModel = LargeBatchRingModel.TestCase
TestLargeBatchRingModel.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


def test_candles_round_trip_through_the_ring() -> None:
    candles = [
        Candle("BTCUSDT", 60_000 * i, 60_000 * i + 59_999, 1.5, 2.5, 1.0, 2.0, 10.0 + i)
        for i in range(7)
    ]
    ring = RingBuffer.create(_name(), 4, CANDLE_RECORD)
    try:
        assert ring.write_many(candle_records(candles[:4])) == 4
        assert ring.write_many(candle_records(candles[4:])) == 0 and ring.overruns == 3
        assert candles_of(ring.read_batch(3)) == candles[:3]
        assert ring.write_many(candle_records(candles[4:])) == 3  # wraps around the end
        assert candles_of(ring.read_batch()) == candles[3:]
    finally:
        ring.close()


def test_a_reader_with_another_layout_is_refused() -> None:
    ring = RingBuffer.create(_name(), 4, RECORD)
    try:
        with pytest.raises(ValueError, match="disagree on the layout"):
            RingBuffer.attach(ring.name, CANDLE_RECORD)
    finally:
        ring.close()


def test_two_processes_pass_every_record_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned producer pushes 200k records through a 1024-slot ring; the reader here gets
    all of them, once each, in order, however often the producer found the ring full."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import ring_jobs

    count = 200_000
    ring = RingBuffer.create(_name(), 1024, ring_jobs.RECORD)
    try:
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
            future = pool.submit(ring_jobs.produce, ring.name, count, 100)
            seen = np.empty(0, dtype=np.int64)
            parts = []
            received = 0
            while received < count and not (future.done() and ring.depth() == 0):
                batch = ring.read_batch()
                if len(batch):
                    parts.append(batch["seq"].copy())
                    received += len(batch)
            overruns = future.result(timeout=60)
        seen = np.concatenate(parts)
        assert len(seen) == count
        assert np.array_equal(seen, np.arange(count))
        assert ring.overruns == overruns  # refusals are counted where both sides can see them
    finally:
        ring.close()
