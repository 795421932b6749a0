"""The Brain's state on disk, written before every order leaves (write-ahead).

Client order ids come from the engine's sequence number, so the state that *produced* a
command must be on disk before the command is sent: a Brain killed right after sending then
restarts with a sequence past that order and never reuses its id, and it knows the order to
look for. The file is replaced atomically (write a temporary file, rename over), so a kill at
any moment leaves either the old or the new snapshot, never a torn one. Surviving a process
kill needs no fsync (the page cache outlives the process); `save(..., durable=True)` fsyncs
for shutdown, where the machine itself may go down next.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from slt.engine.state import EngineState


class BrainSnapshot(msgspec.Struct, frozen=True):
    state: EngineState
    saved_ms: int
    algo_of_order: dict[int, str] = {}
    """Triggered conditional orders: exchange order id → our client algo id."""
    venue: str = ""


_DECODER = msgspec.json.Decoder(BrainSnapshot)


class SnapshotError(Exception):
    """The snapshot file exists but cannot be read; the message says how to recover."""


def load(path: Path) -> BrainSnapshot | None:
    if not path.is_file():
        return None
    try:
        return _DECODER.decode(path.read_bytes())
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(
            f"cannot read the Brain state {path}: {exc}; move it away to start from the "
            "exchange's view alone (positions and orders are reconciled from the exchange)"
        ) from None


def save(path: Path, snapshot: BrainSnapshot, *, durable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(msgspec.json.encode(snapshot))
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
