"""Attaching without resource tracking: a process that attaches with `attach_shm` and exits
(or is killed) never takes the block with it, even when its resource tracker is its own
(a plain subprocess, the worst case), while a plain `SharedMemory` attach in the same place
does (on Python before 3.13), which is the hazard `attach_shm` exists for."""

from __future__ import annotations

import subprocess
import sys
import uuid
from multiprocessing import shared_memory

import numpy as np
import pytest

from slt.ipc.records import CANDLE_RECORD
from slt.ipc.ring import RingBuffer
from slt.runtime.heartbeat import HeartbeatBoard
from slt.runtime.shm import attach_ring, attach_shm, shm_exists

ATTACH = {
    "attach_shm": "from slt.runtime.shm import attach_shm; s = attach_shm({name!r})",
    "board": "from slt.runtime.heartbeat import HeartbeatBoard as B; b = B.attach({name!r})",
    "ring": "from slt.runtime.shm import attach_ring; r = attach_ring({name!r})",
    "plain": "from multiprocessing import shared_memory as m; s = m.SharedMemory({name!r})",
}
ENDS = {
    "exits": "",
    "is killed": "; import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
}


def _name() -> str:
    return f"slt-test-shm-{uuid.uuid4().hex[:10]}"


def _in_subprocess(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("how", ["attach_shm", "board", "ring"])
def test_an_untracked_attach_leaves_the_block_to_its_owner(how: str, end: str) -> None:
    if how == "board":
        owner: HeartbeatBoard | RingBuffer = HeartbeatBoard.create(_name())
    else:
        owner = RingBuffer.create(_name(), 8, CANDLE_RECORD)
    try:
        done = _in_subprocess(ATTACH[how].format(name=owner.name) + ENDS[end])
        assert done.returncode in (0, -9), done.stderr
        assert shm_exists(owner.name)
        assert "leaked" not in done.stderr
    finally:
        owner.close()
    assert not shm_exists(owner.name)


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13 can attach untracked natively")
def test_a_plain_attach_in_a_process_with_its_own_tracker_unlinks_the_block() -> None:
    """Why `attach_shm` exists: here the attaching process's own tracker removes the block
    the owner still uses as soon as that process ends."""
    block = shared_memory.SharedMemory(_name(), create=True, size=64)
    try:
        _in_subprocess(ATTACH["plain"].format(name=block.name))
        assert not shm_exists(block.name)
    finally:
        block.close()
        # already gone from the system; this process's tracker still lists it, so drop that
        # without unlinking again
        from multiprocessing import resource_tracker

        resource_tracker.unregister(block._name, "shared_memory")  # type: ignore[attr-defined]


def test_attach_ring_sees_what_the_owner_wrote() -> None:
    owner = RingBuffer.create(_name(), 8, CANDLE_RECORD)
    try:
        record = np.zeros((), dtype=CANDLE_RECORD)
        record["symbol"], record["close"] = b"ETHUSDT", 1.5
        owner.write(record[()])
        reader = attach_ring(owner.name)
        batch = reader.read_batch()
        assert batch["symbol"].tolist() == [b"ETHUSDT"]
        assert np.isclose(batch["close"][0], 1.5)
        reader.close()
        assert shm_exists(owner.name)
    finally:
        owner.close()


def test_asking_whether_a_block_exists_changes_nothing() -> None:
    name = _name()
    assert not shm_exists(name)
    with pytest.raises(FileNotFoundError):
        attach_shm(name)
    assert not shm_exists(name)
