"""The live ledger's writes to a SQLite file: each transaction whole, in one writer thread.

Through the async driver every statement of a transaction is a round trip between the event
loop and the driver's thread: BEGIN, each executemany, COMMIT, the pool's reset. Each costs
a wake-up of both threads, about 0.1 ms on an idle machine and milliseconds on a loaded one,
and the Brain pays them between a candle and its order. SQLite is a library, not a server:
the whole transaction can run in a thread of its own and come back once. Measured on SQLite
with a 5-row batch, 0.30 ms against 0.64 ms through the async driver on an idle machine.

One thread, one connection: batches are written in the order they were handed over. The
thread makes and closes its connection itself (the standard library's driver refuses a
connection used from a thread other than its maker's). Before each batch it checks that the
path still names the file the connection has open: a connection kept on a database file that
was moved or deleted would go on writing into it, and those rows would be lost with it;
instead the connection is dropped, the next one fails to open, and the caller's journal keeps
the batch until the file is back.

The write lock. SQLite has one writer per file, and other processes write the same file (the
Feed's candles, the Orchestrator's heartbeats). Left to SQLite's busy handler a waiter sleeps
1, 2, 5, 10, 15, 20, 25… ms between tries and keeps missing the short gaps between another
process's back-to-back transactions: 20-130 ms between a candle and its order. The writer's
connection takes the lock at BEGIN without waiting (`slt.storage.engine.sqlite_file_twin`)
and retries the whole transaction itself, pausing 0.1 ms and at most 1 ms between tries, for
up to `LOCK_TIMEOUT_S`; how often and how long it waited is kept in `lock_waits`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from slt.storage.trading_ops import WriteOp
from slt.storage.trading_sql import apply_all_sync

LOCK_TIMEOUT_S = 30.0
"""How long a batch waits for another process's write lock before its error propagates (the
same bound SQLite's busy timeout has on every other connection)."""
FIRST_PAUSE_S = 0.0001
LONGEST_PAUSE_S = 0.001


@dataclass
class LockWaits:
    """Transactions that found the file locked by another writer, and the time they waited."""

    count: int = 0
    total_s: float = 0.0
    longest_s: float = 0.0

    def add(self, waited_s: float) -> None:
        self.count += 1
        self.total_s += waited_s
        self.longest_s = max(self.longest_s, waited_s)


def is_locked(exc: OperationalError) -> bool:
    """SQLITE_BUSY: another connection holds the write lock."""
    return "database is locked" in str(exc.orig)


class SqliteWriter:
    """Runs each batch of ops as one transaction on `engine` (a synchronous SQLite engine,
    `slt.storage.engine.sqlite_file_twin`) in a dedicated thread."""

    def __init__(self, engine: Engine, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.engine = engine
        self.lock_timeout_s = lock_timeout_s
        self.path = engine.url.database or ""
        self._file: tuple[int, int] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self.lock_waits = LockWaits()

    async def apply_many(self, ops: Sequence[WriteOp]) -> None:
        """Write `ops` in one transaction, all or none; the driver's error propagates."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._write, ops)

    def _write(self, ops: Sequence[WriteOp]) -> None:
        self._same_file_or_reconnect()
        started = attempt = time.monotonic()
        pause = FIRST_PAUSE_S
        while True:
            try:
                with self.engine.begin() as conn:  # BEGIN IMMEDIATE: the lock, or BUSY at once
                    apply_all_sync(conn, ops)
            except OperationalError as exc:
                waited = time.monotonic() - started
                if not is_locked(exc) or waited > self.lock_timeout_s:
                    raise
                time.sleep(pause)
                pause = min(2 * pause, LONGEST_PAUSE_S)
                attempt = time.monotonic()
                continue
            if attempt != started:
                self.lock_waits.add(attempt - started)
            return

    def _same_file_or_reconnect(self) -> None:
        try:
            info = os.stat(self.path)
            file: tuple[int, int] | None = (info.st_dev, info.st_ino)
        except OSError:
            file = None
        if file != self._file:
            self.engine.dispose()  # in this thread, which made the connection
            self._file = file

    def close(self) -> None:
        """Close the connection (in the thread that made it), then stop the thread."""
        self._thread.submit(self.engine.dispose).result()
        self._thread.shutdown(wait=True)
