"""Attaching to the Orchestrator's shared memory from a child, without handing it away.

The Orchestrator creates the ring and the heartbeat board and is the only one to unlink them
(at shutdown). Python before 3.13 registers *every* `SharedMemory` it opens, attached or
created, with the process's resource tracker, and a resource tracker unlinks whatever is still
registered when the processes it serves are gone. A child started by our spawn context shares
the Orchestrator's tracker, so today nothing goes wrong; but a child whose tracker is its own
(its parent's tracker died and it started a new one, or it was started some other way) would
have the ring and the board unlinked under the Orchestrator's feet the moment it exits or is
killed. The common cure, `resource_tracker.unregister` after attaching, is worse with a shared
tracker: it drops the *Orchestrator's* registration too, and its own unlink later makes the
tracker print a KeyError.

So a child attaches with `attach_shm`, which opens the block without registering it (3.13's
`track=False`, and the same effect on 3.11/3.12 by withholding the registration call while the
block is opened). Whatever happens to the child, the block lives until its owner unlinks it.
Children use `attach_ring` for the candle ring and `HeartbeatBoard.attach` (which calls
`attach_shm`) for the board.
"""

from __future__ import annotations

import sys
import threading
import types
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from slt.ipc.records import CANDLE_RECORD
from slt.ipc.ring import RingBuffer

_PATCH_LOCK = threading.Lock()


def _no_registration() -> types.SimpleNamespace:
    """A stand-in for `multiprocessing.resource_tracker` whose `register` does nothing."""

    def register(name: str, rtype: str) -> None:
        return None

    return types.SimpleNamespace(register=register)


def attach_shm(name: str) -> shared_memory.SharedMemory:
    """Open the existing shared-memory block `name` without registering it with this process's
    resource tracker (module docstring). `FileNotFoundError` when there is no such block.

    Close it with `.close()`; never `.unlink()` it from a child."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name, track=False)  # type: ignore[call-arg,unused-ignore]
    with _PATCH_LOCK:
        module: Any = shared_memory
        tracker = module.resource_tracker
        module.resource_tracker = _no_registration()
        try:
            return shared_memory.SharedMemory(name)
        finally:
            module.resource_tracker = tracker


def attach_ring(name: str, dtype: np.dtype[Any] = CANDLE_RECORD) -> RingBuffer:
    """The ring the Orchestrator created under `name` (candle records unless told otherwise),
    attached without resource tracking; `ring.close()` releases only this side's mapping."""
    return RingBuffer(attach_shm(name), dtype, owner=False)


def shm_exists(name: str) -> bool:
    """Whether a shared-memory block called `name` exists now (opened and closed untracked, so
    asking never changes the answer)."""
    try:
        attach_shm(name).close()
    except FileNotFoundError:
        return False
    return True
