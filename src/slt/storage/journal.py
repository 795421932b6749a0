"""The degraded-mode journal: write ops kept on local disk while the database is away.

One op per line as msgspec JSON (Decimals as exact strings), each line written, flushed
and fsync'd before `append` returns, so an op the caller was told about survives a crash
of the process and of the machine. `replay` applies every op to the database in order (each
op is idempotent, so a replay interrupted half-way is simply run again) and only then
empties the file.

A crash in the middle of `append` can leave a torn last line (no newline, or bytes that do
not decode). It was never acknowledged, so it is dropped: on open the file is cut back to its
last complete line (otherwise the next append would glue a new op onto the fragment), and
`read` ignores an undecodable last line. An undecodable line *before* the last one is real
damage and stops the replay with the line number, leaving the file untouched.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

import msgspec

from slt.storage.engine import StorageError
from slt.storage.trading_ops import WriteOp

log = logging.getLogger("slt.storage")

REPLAY_BATCH = 500
"""Ops applied per database transaction during a replay."""

_ENCODER = msgspec.json.Encoder(decimal_format="string")
_DECODER = msgspec.json.Decoder(WriteOp)


class JournalError(StorageError):
    """The journal file is damaged before its last line; the message names the line."""


class OpSink(Protocol):
    """Where a replay sends the ops: `TradingStore.apply_many` (one transaction per call)."""

    async def apply_many(self, ops: list[WriteOp]) -> None: ...


class Journal:
    """An append-only, fsync'd file of write ops at *path* (its folder is created)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_torn_tail()
        self._pending = len(self.read()) if path.exists() else 0

    @property
    def pending(self) -> int:
        """How many ops are waiting to be replayed."""
        return self._pending

    def append(self, op: WriteOp) -> None:
        """Write *op* as one line and make it durable (flush + fsync) before returning."""
        self.append_all((op,))

    def append_all(self, ops: Sequence[WriteOp]) -> None:
        """Write *ops* as one line each, in order, made durable by one fsync before returning
        (a step's writes cost one disk flush, not one each)."""
        if not ops:
            return
        f = self._open()
        f.write(b"".join(_ENCODER.encode(op) + b"\n" for op in ops))
        f.flush()
        os.fsync(f.fileno())
        self._pending += len(ops)

    def read(self) -> list[WriteOp]:
        """Every complete op in the file, oldest first (a torn last line is left out)."""
        if not self.path.exists():
            return []
        lines = self.path.read_bytes().split(b"\n")
        ops: list[WriteOp] = []
        last = len(lines) - 1
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                ops.append(_DECODER.decode(line))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                if number == last or (number == last - 1 and not lines[last].strip()):
                    log.warning("journal %s: ignoring a torn last line (%s)", self.path, exc)
                    continue
                raise JournalError(
                    f"journal {self.path} line {number + 1} is damaged ({exc}); move the file "
                    "aside and reconcile with the exchange, the lines before it are intact"
                ) from None
        return ops

    async def replay(self, sink: OpSink) -> int:
        """Apply every op to *sink* in order, then empty the file; return how many ops.

        If the database fails part-way the file is kept whole: the ops already applied are
        applied again next time, which their idempotency makes harmless.
        """
        ops = self.read()
        for start in range(0, len(ops), REPLAY_BATCH):
            await sink.apply_many(ops[start : start + REPLAY_BATCH])
        self.clear()
        return len(ops)

    def clear(self) -> None:
        """Empty the file (durably) once its ops are in the database."""
        self.close()
        if self.path.exists():
            with open(self.path, "r+b") as f:
                f.truncate(0)
                f.flush()
                os.fsync(f.fileno())
        self._pending = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> BinaryIO:
        if self._file is None:
            created = not self.path.exists()
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open across appends
            if created:
                _fsync_dir(self.path.parent)
        return self._file

    def _drop_torn_tail(self) -> None:
        """Cut a last line that lacks its newline (an append the process died in)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        log.warning(
            "journal %s: dropping a torn last line of %d bytes (a crash during a write)",
            self.path,
            len(data) - keep,
        )
        with open(self.path, "r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make a new file's directory entry durable (POSIX; a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
