"""What the reader may rely on beyond the FIFO model: a record not covered by a visible batch
tag is not read, malformed writes publish nothing, batches are the caller's own copies, and
`wait_batch` returns when a record arrives (woken by the producer's doorbell), returns empty
at its timeout and sleeps rather than spins while it waits."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.ipc.bell import Doorbell, bell_path
from slt.ipc.layout import HEADER_BYTES, TAG_BYTES
from slt.ipc.ring import RingBuffer

RECORD = np.dtype([("seq", "<i8"), ("value", "<f8")])


def _records(start: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=RECORD)
    out["seq"] = np.arange(start, start + n)
    out["value"] = out["seq"] * 0.5
    return out


@pytest.fixture
def ring() -> Iterator[RingBuffer]:
    r = RingBuffer.create(f"slt-test-{uuid.uuid4().hex[:12]}", 64, RECORD)
    yield r
    r.close()


@pytest.fixture
def jobs(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import ring_jobs

    return ring_jobs


@settings(max_examples=80, deadline=None)
@given(
    lead=st.integers(0, 63),
    first=st.integers(1, 32),
    second=st.integers(1, 31),
    early=st.data(),
)
def test_a_batch_is_read_only_up_to_a_batch_end_whose_tag_is_visible(
    lead: int, first: int, second: int, early: st.DataObject
) -> None:
    """However far the ring has wrapped: while the tag of the newest batch's last slot is not
    yet visible (it still holds the tag of the lap before), the reader gets only what lies
    below a batch end it has already seen (none if it saw none), and the rest once the tag
    appears; a record is covered by any later batch end's tag, its own batch's or not."""
    r = RingBuffer.create(f"slt-test-{uuid.uuid4().hex[:12]}", 64, RECORD)
    raw = shared_memory.SharedMemory(r.name)
    try:
        assert r.write_many(_records(0, lead)) == lead and len(r.read_batch()) == lead
        assert r.write_many(_records(lead, first)) == first
        k = early.draw(st.integers(0, first), label="records read before the second batch")
        if k:  # (a read, even of none, looks at the newest batch end: k = 0 reads nothing)
            assert r.read_batch(k)["seq"].tolist() == list(range(lead, lead + k))
        assert r.write_many(_records(lead + first, second)) == second
        assert raw.buf is not None
        tags = raw.buf[HEADER_BYTES : HEADER_BYTES + 64 * TAG_BYTES].cast("q")
        first_end, second_end = (lead + first - 1) % 64, (lead + first + second - 1) % 64
        tags[second_end] -= 64  # what the slot said one lap earlier
        seen = lead + first if k else lead  # a read of the first batch saw its end
        assert r.read_batch()["seq"].tolist() == list(range(lead + k, seen))
        assert r.depth() == lead + first + second - max(seen, lead + k)
        tags[first_end] -= 64  # the second batch's tag covers the first's records too
        tags[second_end] += 64
        got = r.read_batch()["seq"].tolist()
        tags[first_end] += 64
        tags.release()
        assert got == list(range(max(seen, lead + k), lead + first + second))
        assert r.depth() == 0
    finally:
        raw.close()
        r.close()


def test_a_record_of_the_wrong_size_is_refused_and_publishes_nothing(ring: RingBuffer) -> None:
    with pytest.raises(ValueError, match=r"8 bytes .* ring of 16-byte records"):
        ring.write(b"\0" * 8)
    assert ring.depth() == 0 and ring.overruns == 0
    assert ring.write(bytearray(_records(7, 1).tobytes()))
    assert ring.write(memoryview(_records(8, 1).tobytes()))
    assert ring.read_batch()["seq"].tolist() == [7, 8]


def test_a_batch_is_the_callers_own_copy(ring: RingBuffer) -> None:
    ring.write_many(_records(0, 3))
    batch = ring.read_batch()
    batch["value"] = -1.0  # writable, and writing it changes nothing in the ring
    ring.write_many(_records(3, 64))  # refills every slot, the three just read included
    assert batch["seq"].tolist() == [0, 1, 2] and batch["value"].tolist() == [-1.0] * 3
    assert ring.read_batch()["value"].tolist() == (np.arange(3, 67) * 0.5).tolist()


def test_wait_batch_returns_what_is_there_at_once(ring: RingBuffer) -> None:
    ring.write_many(_records(0, 5))
    assert ring.wait_batch(3600.0, max_records=2)["seq"].tolist() == [0, 1]
    assert ring.wait_batch(3600.0)["seq"].tolist() == [2, 3, 4]
    ring.write_many(_records(5, 1))
    assert len(ring.wait_batch(3600.0, max_records=0)) == 0  # asked for nothing: no wait


def test_wait_batch_times_out_empty_and_sleeps_meanwhile(ring: RingBuffer) -> None:
    """Nothing arrives: the wait lasts its timeout, returns an empty batch and, past its short
    spin, leaves the CPU to others (far less CPU than wall time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    got = ring.wait_batch(0.3, spin_s=0.001)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert len(got) == 0 and got.dtype == RECORD
    assert wall >= 0.3
    assert cpu < 0.5 * wall
    assert len(ring.wait_batch(0.0)) == 0


@pytest.mark.parametrize("spin_s", [0.0, 10.0])  # asleep on the bell / still spinning
def test_wait_batch_wakes_when_a_thread_writes(ring: RingBuffer, spin_s: float) -> None:
    writer = threading.Timer(0.05, lambda: ring.write((41, 20.5)))
    writer.start()
    got = ring.wait_batch(60.0, spin_s=spin_s, max_sleep_s=60.0)
    writer.join()
    assert got["seq"].tolist() == [41]


async def test_wait_batch_async_lets_the_loop_run_and_wakes_on_a_write(ring: RingBuffer) -> None:
    """While the ring is empty the event loop keeps serving other tasks; a record written from
    another thread ends the wait through the doorbell (the fallback wake-up is made longer
    than the test may take)."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    other = asyncio.create_task(ticker())
    writer = threading.Timer(0.2, lambda: ring.write((7, 3.5)))
    writer.start()
    got = await ring.wait_batch_async(120.0, max_sleep_s=120.0)
    writer.join()
    other.cancel()
    assert got["seq"].tolist() == [7]
    assert ticks > 0


async def test_wait_batch_async_times_out_empty(ring: RingBuffer) -> None:
    got = await ring.wait_batch_async(0.05)
    assert len(got) == 0 and got.dtype == RECORD
    ring.write_many(_records(0, 3))
    assert (await ring.wait_batch_async(0.0, max_records=2))["seq"].tolist() == [0, 1]
    assert len(await ring.wait_batch_async(60.0, max_records=0)) == 0


def test_the_doorbell_wakes_a_reader_in_another_process(ring: RingBuffer, jobs: object) -> None:
    """The reader's fallback sleep is made longer than the test may take, so only the
    producer's doorbell can end the wait in time."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        done = pool.submit(jobs.write_after, ring.name, 0.2, 99)  # type: ignore[attr-defined]
        start = time.perf_counter()
        got = ring.wait_batch(120.0, spin_s=0.0, max_sleep_s=120.0)
        waited = time.perf_counter() - start
        done.result(timeout=60)
    assert got["seq"].tolist() == [99]
    assert waited < 60.0


def test_a_sleepy_reader_gets_every_burst_in_order(ring: RingBuffer, jobs: object) -> None:
    """Bursts written one by one with pauses between them, read with `wait_batch`: every
    record once, in order, whether the reader was spinning or asleep when it came."""
    bursts, burst = 40, 50
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        future = pool.submit(jobs.produce_in_bursts, ring.name, bursts, burst, 0.005)  # type: ignore[attr-defined]
        parts = []
        received = 0
        while received < bursts * burst:
            batch = ring.wait_batch(60.0, spin_s=0.0)
            assert len(batch), "the producer went silent"
            parts.append(batch["seq"].copy())
            received += len(batch)
        overruns = future.result(timeout=60)
    assert np.array_equal(np.concatenate(parts), np.arange(bursts * burst))
    assert ring.overruns == overruns


def test_a_doorbell_nobody_listens_to_is_harmless(tmp_path: Path) -> None:
    path = str(tmp_path / "ring.bell")
    words = memoryview(bytearray(256)).cast("q")
    missing = Doorbell(path, words, 0, 28)
    missing.ring()  # no FIFO at all
    assert not missing.listen()
    missing.wait(0.0)  # falls back to a plain sleep
    assert Doorbell.install(path)
    producer = Doorbell(path, words, 0, 28)
    producer.ring()  # a FIFO without a reader: the open fails quietly
    consumer = Doorbell(path, words, 0, 28)
    assert consumer.listen()
    for _ in range(100_000):  # far more than a pipe holds: a full pipe is already rung
        producer.ring()
    consumer.wait(10.0)
    producer.close(), consumer.close()
    Doorbell.remove(path)
    assert not os.path.exists(path)


def test_the_creator_removes_the_doorbell_with_the_ring() -> None:
    ring = RingBuffer.create(f"slt-test-{uuid.uuid4().hex[:12]}", 4, RECORD)
    path = bell_path(ring.name)
    assert os.path.exists(path)
    RingBuffer.attach(ring.name, RECORD).close()
    assert os.path.exists(path)  # only the creator removes it
    ring.close()
    assert not os.path.exists(path)


def test_a_doorbell_on_a_high_descriptor_still_wakes(tmp_path: Path) -> None:
    """A busy process may hold more descriptors than `select` takes; the bell then polls."""
    path = str(tmp_path / "high.bell")
    assert Doorbell.install(path)
    words = memoryview(bytearray(256)).cast("q")
    consumer, producer = Doorbell(path, words, 0, 28), Doorbell(path, words, 0, 28)
    assert consumer.listen()
    low = consumer.fileno()
    try:
        high = os.dup2(low, 1500)
    except OSError:
        pytest.skip("this process may not open descriptor 1500")
    consumer._reader = high  # as if it had been opened that late
    os.close(low)
    producer.ring()
    start = time.perf_counter()
    consumer.wait(60.0)
    assert time.perf_counter() - start < 30.0  # woken by the byte, not the timeout
    producer.close(), consumer.close()


def test_a_sweep_removes_only_bells_whose_ring_is_gone(tmp_path: Path) -> None:
    for name in ("gone.bell", "alive.bell"):
        os.mkfifo(tmp_path / name)
    (tmp_path / "alive").write_bytes(b"")  # the live ring's shared block
    (tmp_path / "plain.bell").write_bytes(b"")  # not a FIFO: not ours to judge
    assert Doorbell.sweep(str(tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alive", "alive.bell", "plain.bell"]
