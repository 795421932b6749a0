"""Keep trading when the database goes away: journal the writes, replay them when it is back.

`ResilientStore` takes the same write calls as `TradingStore` (both are `TradingWrites`).
While the database answers, each write goes straight to it. When it cannot be reached the
write is appended to the `Journal` (fsync'd) instead and the call returns normally: the
caller keeps trading from memory and never sees the outage. The database is retried with
exponential backoff and jitter (on the next write once the delay has passed, and from a
background task between writes); on reconnection the whole journal is replayed, in order,
before any new write, so the database never sees a newer state overwritten by an older one.
A warning is logged at most once per `warn_every_s` while degraded.

Only "cannot reach the database" is absorbed. Anything else (a constraint violated by a bug,
a damaged journal) is raised: hiding it would lose data silently.

A journal left non-empty by a previous process (it crashed during an outage) is replayed
before the first write of this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from slt.storage.engine import StorageUnavailableError
from slt.storage.journal import Journal
from slt.storage.trading import TradingStore
from slt.storage.trading_ops import WriteOp
from slt.storage.trading_writes import TradingWrites

log = logging.getLogger("slt.storage")

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    StorageUnavailableError,
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when *exc* means the database cannot be reached (retry later), not a bad query.

    SQLAlchemy wraps driver errors; the connection-level ones are OperationalError /
    InterfaceError or carry `connection_invalidated`, and their cause chain holds the
    socket error or asyncpg's connection error.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _CONNECTION_ERRORS):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated or isinstance(
                current, OperationalError | InterfaceError
            ):
                return True
            if current.orig is not None and is_unavailable(current.orig):
                return True
        current = current.__cause__ or current.__context__
    return False


class ResilientStore(TradingWrites):
    """`TradingStore` writes that survive a database outage through *journal*.

    Reads are not wrapped: use `.store` for them (they fail while the database is away,
    which is right for `slt status`; the Brain trades from memory meanwhile).
    """

    def __init__(
        self,
        store: TradingStore,
        journal: Journal,
        *,
        base_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        warn_every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.journal = journal
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.warn_every_s = warn_every_s
        self.clock = clock
        self.rng = rng or random.Random()
        self.failures = 0
        """Consecutive failed attempts to reach the database (0 when it is healthy)."""
        self.replayed = 0
        """Ops replayed from the journal since this store was made."""
        self._next_attempt = 0.0
        self._last_warning: float | None = None
        self._cause = ""
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        """True while writes are going to the journal instead of the database."""
        return self.journal.pending > 0

    async def apply(self, op: WriteOp) -> None:
        """Write *op* to the database, or to the journal if the database is unreachable."""
        await self.apply_many((op,))

    async def apply_many(self, ops: Iterable[WriteOp]) -> None:
        """Write *ops* in one transaction (one commit for a step's writes, which keeps the
        database off the order path's critical time), or all of them to the journal if the
        database is unreachable: a batch is never split between the two."""
        batch = list(ops)
        if not batch:
            return
        async with self._lock:
            if self.journal.pending and not await self._replay(force=False):
                self.journal.append_all(batch)
                self._warn()
                return
            try:
                await self.store.apply_many(batch)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                self.journal.append_all(batch)
                self._failed(exc)
                self._warn()

    async def recover(self) -> bool:
        """Try the database now (ignoring the backoff) and replay the journal; True when the
        journal is empty afterwards. Call it at shutdown to leave nothing behind."""
        async with self._lock:
            return await self._replay(force=True)

    def start(self) -> None:
        """Retry in the background while degraded, so the journal drains between writes."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._retry_loop())

    async def aclose(self) -> None:
        """Stop the background retries, close the journal file (its ops stay on disk) and the
        store's writer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.journal.close()
        await self.store.aclose()

    async def _retry_loop(self) -> None:
        while True:
            wait = max(self._next_attempt - self.clock(), 0.0) if self.degraded else 1.0
            await asyncio.sleep(min(max(wait, 0.05), self.max_delay_s))
            if self.degraded and not self._lock.locked():
                async with self._lock:
                    await self._replay(force=False)

    async def _replay(self, *, force: bool) -> bool:
        """Replay the journal if the backoff allows (or *force*); True when it is empty."""
        if not self.journal.pending:
            return True
        if not force and self.clock() < self._next_attempt:
            return False
        try:
            count = await self.journal.replay(self.store)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self._failed(exc)
            return False
        self.replayed += count
        log.warning(
            "database reachable again after %d failed attempts: replayed %d journaled writes",
            self.failures,
            count,
        )
        self.failures = 0
        self._next_attempt = 0.0
        self._last_warning = None
        return True

    def _failed(self, exc: BaseException) -> None:
        """Schedule the next attempt: base × 2^failures, capped, times a jitter in [0.5, 1]."""
        text = str(exc).strip()
        self._cause = type(exc).__name__ + (f": {text.splitlines()[0]}" if text else "")
        delay = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(self.failures, 30))
        self.failures += 1
        self._next_attempt = self.clock() + delay * (0.5 + 0.5 * self.rng.random())

    def _warn(self) -> None:
        now = self.clock()
        if self._last_warning is not None and now - self._last_warning < self.warn_every_s:
            return
        self._last_warning = now
        log.warning(
            "database unreachable (%s): trading continues from memory, %d writes journaled "
            "to %s, next attempt in %.1f s",
            self._cause,
            self.journal.pending,
            self.journal.path,
            max(self._next_attempt - now, 0.0),
        )
