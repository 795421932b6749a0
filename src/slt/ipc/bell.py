"""The ring's doorbell: how a producer wakes a consumer that went to sleep waiting for records.

Shared memory has no way to block until a word changes, so a waiting consumer must either spin
(a whole CPU) or sleep and poll (a wake-up late by up to the sleep). The doorbell removes the
trade-off for the quiet case: a consumer about to sleep says so in the ring's header and sleeps
in `select` on a named pipe (FIFO) next to the shared block; a producer that sees the flag
writes one byte, and the kernel wakes the consumer at once (as `multiprocessing.Queue.get`
is woken), with the scheduler's wake-up preference for a task that has been sleeping.

It is only ever a hint. The flag and the sequence counter are plain stores, and a store
followed by a load of the other word may be reordered even on x86-64, so both sides can miss
each other; the consumer's sleep then ends on its own timeout and it finds the record by
polling, as it would without a bell. Correctness never depends on the bell; latency does.
The FIFO is opened non-blocking on both ends, so a missing, full or orphaned pipe costs a
failed system call, never a blocked producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import stat
import tempfile
import time

_FD_SETSIZE = 1024


def bell_path(ring_name: str) -> str:
    """Where the FIFO of ring `ring_name` lives: beside the shared block on Linux
    (`/dev/shm`), the temporary directory elsewhere. Both sides derive it from the name."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return os.path.join(folder, f"{ring_name.lstrip('/')}.bell")


class Doorbell:
    """One side's end of a ring's FIFO and the sleep flag in the ring's header `words`
    (module docstring): `words[sleep_word]` is odd while the consumer sleeps, a new odd value
    each time; `words[write_word]` is the ring's write sequence. Every call is non-blocking
    except the dozes, and none raises for a missing or broken pipe."""

    def __init__(self, path: str, words: memoryview, write_word: int, sleep_word: int) -> None:
        self.path = path
        self._words = words
        self._write = write_word
        self._sleep = sleep_word
        self._reader: int | None = None
        self._writer: int | None = None

    @staticmethod
    def install(path: str) -> bool:
        """Create the FIFO (the ring's creator does, once); False where there are no FIFOs or
        the folder refuses one: the ring then works without a bell, on bounded sleeps."""
        if not hasattr(os, "mkfifo"):
            return False
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a stale bell of a crashed run with the same ring name
            os.mkfifo(path, 0o600)
        except OSError:
            return False
        if os.path.dirname(path) == "/dev/shm":
            Doorbell.sweep("/dev/shm")
        return True

    @staticmethod
    def sweep(folder: str) -> int:
        """Remove the bells in `folder` whose ring is gone (a crashed creator never removed
        its bell, while the resource tracker did remove the shared block); returns how many.
        Only FIFOs of this user named `<ring>.bell` with no `<ring>` beside them: a live ring's
        block is created before its bell and removed before it, so a live bell is never taken."""
        removed = 0
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.endswith(".bell"):
                    continue
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    if not stat.S_ISFIFO(info.st_mode) or info.st_uid != os.getuid():
                        continue
                    if not os.path.exists(os.path.join(folder, entry.name[: -len(".bell")])):
                        os.unlink(entry.path)
                        removed += 1
        return removed

    @staticmethod
    def remove(path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def listen(self) -> bool:
        """Open the consumer's end (once); False when the ring has no bell. Opened read-write
        so that the pipe always has a writer: a FIFO whose last writer closed would otherwise
        read as end-of-file forever and `select` would return at once, a busy loop."""
        if self._reader is None:
            try:
                self._reader = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
            except OSError:
                self._reader = -1
        return self._reader >= 0

    def fileno(self) -> int:
        """The consumer's end, for an event loop to watch (after `listen()` said True)."""
        assert self._reader is not None and self._reader >= 0, "listen() first"
        return self._reader

    def doze(self, read: int, seconds: float) -> None:
        """Consumer: sleep up to `seconds` unless a record past sequence `read` is published:
        raise the sleep flag, look once more, then wait for the bell."""
        if not self.listen():
            time.sleep(seconds)
            return
        words = self._words
        epoch = (words[self._sleep] + 2) | 1  # a new odd value, even after a consumer died asleep
        words[self._sleep] = epoch
        if words[self._write] == read:
            self.wait(seconds)
        words[self._sleep] = epoch + 1

    async def doze_async(self, loop: asyncio.AbstractEventLoop, read: int, seconds: float) -> None:
        """`doze` without blocking `loop`: the loop watches the FIFO meanwhile."""
        if not self.listen():
            await asyncio.sleep(seconds)
            return
        words = self._words
        epoch = (words[self._sleep] + 2) | 1
        words[self._sleep] = epoch
        try:
            if words[self._write] != read:
                return
            rung: asyncio.Future[None] = loop.create_future()

            def answer() -> None:
                if not rung.done():
                    rung.set_result(None)

            loop.add_reader(self.fileno(), answer)
            timer = loop.call_later(seconds, answer)  # cheaper than wait_for: no extra task
            try:
                await rung
            finally:
                timer.cancel()
                loop.remove_reader(self.fileno())
            self.hush()
        finally:
            words[self._sleep] = epoch + 1

    def wait(self, seconds: float) -> None:
        """Sleep until the bell rings or `seconds` pass, then swallow the ring(s)."""
        if self._reader is None or self._reader < 0:
            time.sleep(seconds)
            return
        if self._reader < _FD_SETSIZE:
            ready = bool(select.select([self._reader], [], [], seconds)[0])
        else:  # beyond what select takes: poll, which counts in whole milliseconds
            poller = select.poll()
            poller.register(self._reader, select.POLLIN)
            ready = bool(poller.poll(seconds * 1000))
        if ready:
            self.hush()

    def hush(self) -> None:
        """Swallow the rings so far, so the next wait really waits."""
        if self._reader is not None and self._reader >= 0:
            with contextlib.suppress(BlockingIOError):
                os.read(self._reader, 4096)

    def ring(self) -> None:
        """Wake the consumer (producer side): one byte into the FIFO, or nothing when nobody
        listens (no reader: the open fails), the pipe is full (it is already rung) or broken."""
        if self._writer is None:
            try:
                self._writer = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return
        try:
            os.write(self._writer, b"\x01")
        except BlockingIOError:
            pass
        except OSError:
            os.close(self._writer)
            self._writer = None

    def close(self) -> None:
        for fd in (self._reader, self._writer):
            if fd is not None and fd >= 0:
                os.close(fd)
        self._reader = self._writer = None
