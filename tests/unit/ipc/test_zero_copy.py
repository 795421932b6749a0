"""The ring's zero-copy calls: a claim is invisible until published, a published record is
viewed once, in order, in its slot, and its slot is not handed to the producer again until the
consumer releases it; a full ring refuses a claim and counts it as `write_many` would."""

from __future__ import annotations

import multiprocessing as mp
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from slt.ipc.layout import HEADER_BYTES, TAG_BYTES
from slt.ipc.ring import RingBuffer

RECORD = np.dtype([("seq", "<i8"), ("value", "<f8")])


def _name() -> str:
    return f"slt-test-{uuid.uuid4().hex[:12]}"


def _records(start: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=RECORD)
    out["seq"] = np.arange(start, start + n)
    out["value"] = out["seq"] * 0.5
    return out


def _fill(slots: np.ndarray, start: int) -> None:
    slots["seq"] = np.arange(start, start + len(slots))
    slots["value"] = slots["seq"] * 0.5


@pytest.fixture
def ring() -> Iterator[RingBuffer]:
    r = RingBuffer.create(_name(), 8, RECORD)
    yield r
    r.close()


class ZeroCopyModel(RuleBasedStateMachine):
    """Random claims (filled, published in part, in whole or abandoned), views, releases and
    the copying calls interleaved, against a bounded FIFO model. Records carry their sequence,
    so a lost, reordered, duplicated or unpublished record shows as a wrong `seq`."""

    capacity = 5
    most = 12

    def __init__(self) -> None:
        super().__init__()
        self.ring = RingBuffer.create(_name(), self.capacity, RECORD)
        self.model: deque[int] = deque()  # published, unread
        self.next = 0  # the next sequence to publish
        self.refused = 0
        self.claimed: np.ndarray | None = None
        self.viewed: np.ndarray | None = None  # the open view
        self.view_expected: list[int] = []  # what it must still show
        self.stale = False  # a copying read has consumed records since the view

    @property
    def read_seq(self) -> int:
        return self.next - len(self.model)

    def _claim(self, n: int) -> np.ndarray:
        """Claim `n`, check the grant against the model, fill it in place."""
        free = self.capacity - len(self.model)
        to_wrap = self.capacity - self.next % self.capacity
        slots = self.ring.claim(n)
        assert slots.flags.writeable
        if n > 0 and free == 0:
            assert len(slots) == 0
            self.refused += n
        else:
            assert len(slots) == max(0, min(n, free, to_wrap))
        _fill(slots, self.next)
        self.claimed = slots
        return slots

    @rule(n=st.integers(-1, 12), publish=st.one_of(st.none(), st.floats(0, 1)))
    def claim_and_publish(self, n: int, publish: float | None) -> None:
        slots = self._claim(min(n, self.most))
        count = len(slots) if publish is None else int(publish * len(slots))
        assert self.ring.publish(None if publish is None else count) == count
        self.model.extend(range(self.next, self.next + count))
        self.next += count
        self.claimed = None

    @rule(n=st.integers(1, 12))
    def claim_and_abandon(self, n: int) -> None:
        """Filled but never published: the next claim or write takes the same slots."""
        self._claim(min(n, self.most))

    @precondition(lambda self: self.claimed is not None)
    @rule()
    def publish_the_open_claim(self) -> None:
        assert self.claimed is not None
        count = len(self.claimed)
        assert self.ring.publish() == count
        self.model.extend(range(self.next, self.next + count))
        self.next += count
        self.claimed = None

    @rule(n=st.integers(0, 12))
    def claim_until_done_or_refused(self, n: int) -> None:
        """The producer's loop for a block: it writes and counts what `write_many` would."""
        n = min(n, self.most)
        fits = min(n, self.capacity - len(self.model))
        left = n
        while left:
            slots = self.ring.claim(left)
            if not len(slots):
                break
            _fill(slots, self.next + n - left)
            left -= self.ring.publish()
        self.claimed = None
        assert n - left == fits
        self.model.extend(range(self.next, self.next + fits))
        self.next += fits
        self.refused += n - fits

    @rule(n=st.integers(0, 12))
    def write_many(self, n: int) -> None:
        n = min(n, self.most)
        fits = min(n, self.capacity - len(self.model))
        assert self.ring.write_many(_records(self.next, n)) == fits
        self.model.extend(range(self.next, self.next + fits))
        self.next += fits
        self.refused += n - fits
        self.claimed = None  # a write abandons an open claim

    @rule(limit=st.one_of(st.none(), st.integers(0, 12)))
    def view(self, limit: int | None) -> None:
        got = self.ring.view(limit)
        to_wrap = self.capacity - self.read_seq % self.capacity
        take = min(len(self.model), to_wrap, len(self.model) if limit is None else limit)
        expected = list(self.model)[:take]
        assert not got.flags.writeable
        assert got["seq"].tolist() == expected
        assert np.array_equal(got["value"], np.asarray(expected, dtype=np.int64) * 0.5)
        self.viewed, self.view_expected, self.stale = got, expected, False

    @rule(part=st.one_of(st.none(), st.floats(0, 1)))
    def release(self, part: float | None) -> None:
        held = len(self.view_expected)
        count = held if part is None else int(part * held)
        if count and self.stale:
            with pytest.raises(RuntimeError, match="another read"):
                self.ring.release(None if part is None else count)
            return
        self.ring.release(None if part is None else count)
        for _ in range(count):
            self.model.popleft()
        self.view_expected = self.view_expected[count:]
        if self.viewed is not None:
            self.viewed = self.viewed[count:]

    @rule(limit=st.one_of(st.none(), st.integers(0, 12)))
    def read_batch(self, limit: int | None) -> None:
        got = self.ring.read_batch(limit)
        take = len(self.model) if limit is None else min(limit, len(self.model))
        assert got["seq"].tolist() == [self.model.popleft() for _ in range(take)]
        if take:  # the open view's records may be rewritten from now on: it is stale
            self.viewed, self.stale = None, True

    @invariant()
    def counters_agree(self) -> None:
        assert self.ring.depth() == len(self.model)
        assert self.ring.write_seq == self.next
        assert self.ring.overruns == self.refused

    @invariant()
    def a_viewed_record_stays_put_until_released(self) -> None:
        if self.viewed is not None:
            assert self.viewed["seq"].tolist() == self.view_expected

    def teardown(self) -> None:
        self.claimed = self.viewed = None  # a live view pins the shared block
        self.ring.close()


TestZeroCopyModel = ZeroCopyModel.TestCase
TestZeroCopyModel.settings = settings(max_examples=80, stateful_step_count=40, deadline=None)


class LargeZeroCopyModel(ZeroCopyModel):
    """Bigger blocks in a bigger ring: batch ends (and their tags) anywhere in it, and claims
    and views cut at its wrap."""

    capacity = 40
    most = 60

    @rule(n=st.integers(17, 60), publish=st.one_of(st.none(), st.floats(0, 1)))
    def claim_block(self, n: int, publish: float | None) -> None:
        self.claim_and_publish(n, publish)

    @rule(n=st.integers(17, 60))
    def write_block(self, n: int) -> None:
        self.write_many(n)

    @rule(n=st.integers(17, 60))
    def claim_block_until_done(self, n: int) -> None:
        self.claim_until_done_or_refused(n)

    @rule(limit=st.one_of(st.none(), st.integers(17, 45)))
    def view_many(self, limit: int | None) -> None:
        self.view(limit)


TestLargeZeroCopyModel = LargeZeroCopyModel.TestCase
TestLargeZeroCopyModel.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)


def test_a_claim_is_invisible_until_published(ring: RingBuffer) -> None:
    slots = ring.claim(3)
    _fill(slots, 0)
    assert ring.depth() == 0 and len(ring.view()) == 0 and len(ring.read_batch()) == 0
    assert ring.publish(2) == 2  # the third is abandoned
    assert ring.view()["seq"].tolist() == [0, 1]
    ring.release()
    assert len(ring.view()) == 0 and ring.write_seq == 2
    _fill(ring.claim(1), 2)  # the abandoned slot, handed out again
    assert ring.publish() == 1 and ring.read_batch()["seq"].tolist() == [2]


def test_a_full_ring_refuses_the_whole_claim_a_short_one_counts_nothing(ring: RingBuffer) -> None:
    assert ring.write_many(_records(0, 6)) == 6
    assert len(ring.claim(5)) == 2 and ring.overruns == 0  # two free: granted, no refusal
    ring.publish(0)
    assert ring.write_many(_records(6, 2)) == 2
    assert len(ring.claim(5)) == 0 and ring.overruns == 5
    assert len(ring.claim(0)) == 0 and ring.overruns == 5
    assert ring.publish() == 0 and ring.write_seq == 8


def test_a_viewed_slot_is_not_reused_until_released(ring: RingBuffer) -> None:
    ring.write_many(_records(0, 8))
    seen = ring.view(3)
    assert len(ring.claim(1)) == 0  # the ring is still full: viewing frees nothing
    ring.release(2)
    slots = ring.claim(8)  # wraps at slot 8, and only the two released slots are free
    assert len(slots) == 2
    _fill(slots, 8)
    ring.publish()
    assert seen["seq"].tolist() == [8, 9, 2]  # released slots reused, the held one intact
    with pytest.raises(ValueError, match="read-only"):
        seen["value"] = 0.0
    assert ring.view()["seq"].tolist() == list(range(2, 8))  # up to the wrap, then the rest
    ring.release()
    assert ring.view()["seq"].tolist() == [8, 9]
    ring.release()
    del seen, slots


def test_a_stale_claim_or_view_is_refused(ring: RingBuffer) -> None:
    ring.claim(2)
    ring.write((0, 0.0))
    with pytest.raises(RuntimeError, match="another write"):
        ring.publish()
    assert ring.write_seq == 1
    with pytest.raises(ValueError, match="publish 3 records of a claim of 2"):
        ring.claim(2), ring.publish(3)
    ring.view()
    ring.read_batch()
    with pytest.raises(RuntimeError, match="another read"):
        ring.release()
    assert ring.read_seq == 1
    ring.write((1, 0.5))
    assert len(ring.view()) == 1
    with pytest.raises(ValueError, match="release 2 records of a view of 1"):
        ring.release(2)


@settings(max_examples=80, deadline=None)
@given(lead=st.integers(0, 63), first=st.integers(1, 64), second=st.integers(0, 63))
def test_a_view_ends_at_the_last_batch_end_whose_tag_is_visible(
    lead: int, first: int, second: int
) -> None:
    """A claimed batch is published with one tag, in its last slot: while that tag is not yet
    visible (the slot still holds the lap before's), a view shows only the batches whose end
    it has seen, then the rest once the tag appears, cut at the wrap as ever."""
    r = RingBuffer.create(_name(), 64, RECORD)
    raw = shared_memory.SharedMemory(r.name)
    assert raw.buf is not None
    tags = raw.buf[HEADER_BYTES : HEADER_BYTES + 64 * TAG_BYTES].cast("q")
    try:
        assert r.write_many(_records(0, lead)) == lead and len(r.read_batch()) == lead
        _claim_all(r, lead, first)
        r.view(0)  # the consumer looks: the first batch's end is seen
        second = min(second, 64 - first)
        _claim_all(r, lead + first, second)
        last = (lead + first + second - 1) % 64
        if second:
            tags[last] -= 64
        shown = min(first, 64 - lead % 64)  # a view never crosses the wrap
        assert r.view()["seq"].tolist() == list(range(lead, lead + shown))
        r.release()
        if first > shown:
            assert r.view()["seq"].tolist() == list(range(lead + shown, lead + first))
            r.release()
        assert len(r.view()) == 0 and r.depth() == second
        if second:
            tags[last] += 64
        got: list[int] = []
        while len(view := r.view()):
            got += view["seq"].tolist()
            r.release()
        del view
        assert got == list(range(lead + first, lead + first + second))
    finally:
        tags.release()
        raw.close()
        r.close()


def _claim_all(r: RingBuffer, start: int, n: int) -> None:
    """Claim, fill and publish `n` records from `start`, one claim more at the wrap."""
    left = n
    while left:
        slots = r.claim(left)
        _fill(slots, start + n - left)
        left -= r.publish()


def test_wait_view_returns_at_once_times_out_or_wakes(ring: RingBuffer) -> None:
    ring.write_many(_records(0, 3))
    assert ring.wait_view(3600.0, max_records=2)["seq"].tolist() == [0, 1]
    ring.release()
    assert ring.wait_view(3600.0)["seq"].tolist() == [2]
    ring.release()
    assert len(ring.wait_view(0.01, spin_s=0.0)) == 0
    writer = threading.Timer(0.05, lambda: ring.write((3, 1.5)))
    writer.start()
    assert ring.wait_view(60.0, spin_s=0.0, max_sleep_s=60.0)["seq"].tolist() == [3]
    writer.join()
    ring.release()


def test_a_ring_is_not_unmapped_under_a_live_view() -> None:
    """numpy holds no buffer export, so only the ring can refuse: else the view would read
    unmapped memory (a crash, not an exception)."""
    r = RingBuffer.create(_name(), 4, RECORD)
    r.write((0, 0.0))
    held, slots = r.view(), r.claim(2)["seq"]
    with pytest.raises(BufferError, match="still alive"):
        r.close()
    del held
    with pytest.raises(BufferError, match="still alive"):
        r.close()
    assert slots.tolist() == [0, 0] and r.read_batch()["seq"].tolist() == [0]  # still open
    del slots
    r.close()


def test_two_processes_pass_every_record_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned producer claims, fills and publishes 200k records through a 1000-slot ring
    (so claims and views are cut at the wrap); the reader here views and releases them: all
    of them, once each, in order, with the values written in place."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import ring_jobs

    count = 200_000
    ring = RingBuffer.create(_name(), 1000, ring_jobs.RECORD)
    try:
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
            future = pool.submit(ring_jobs.produce_in_place, ring.name, count, 300)
            seqs, values = _view_all(ring, count)
            overruns = future.result(timeout=60)
        assert np.array_equal(seqs, np.arange(count))
        assert np.array_equal(values, np.arange(count) / 2)
        assert ring.overruns == overruns
    finally:
        ring.close()


def _view_all(ring: RingBuffer, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Every record's fields as read in place (copied out before each release)."""
    seqs, values = [], []
    received = 0
    while received < count:
        view = ring.wait_view(60.0, spin_s=0.0)
        assert len(view), "the producer went silent"
        seqs.append(view["seq"].copy())
        values.append(view["value"].copy())
        received += len(view)
        ring.release()
    return np.concatenate(seqs), np.concatenate(values)
