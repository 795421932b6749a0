"""The Orchestrator's periodic status: one INFO line a trader reads to know the system is
alive and doing what it should, built from the heartbeat board and the ring (plain values in,
a string out), and the heartbeat rows it copies to the database for `slt status`.

`status: 212 symbols live · ring depth 0 · rejected 3 · malformed 0 · REST weight feed 0 /
brain 41 · equity 10012.35 · open positions 2 · orders rejected 0 · feed pid 4242 up 3m12s
beat 0.4s ago restarts 0 · brain pid 4243 up 3m12s beat 0.8s ago restarts 1`

REST weight is shown per process: each counts what it spent itself, and they draw on the
same per-IP budget, so a reader wants both numbers rather than a sum that hides who spent it.

The board is shared memory another terminal cannot read, so `HeartbeatPersister` writes each
process's slot to `process_heartbeats` every few seconds, off the supervision loop: a slow or
absent database delays nothing the Orchestrator does, and costs at most one warning a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.logs import EVERY_TIME
from slt.runtime.heartbeat import Beat, wall_ms
from slt.storage.engine import StorageError, create_engine, describe_url, unavailable
from slt.storage.heartbeats import HeartbeatRow, write_heartbeats
from slt.storage.migrate import migrate

log = logging.LoggerAdapter(logging.getLogger("slt.orchestrator"), EVERY_TIME)


@dataclass(frozen=True, slots=True)
class ChildView:
    """What the Orchestrator knows about one role at the time of the line."""

    role: str
    pid: int | None
    """None while the role waits for a restart."""
    restarts: int
    beat: Beat | None
    """Its board slot, once this pid has beaten (before that its numbers mean nothing)."""
    started_ms: int = 0
    """When the Orchestrator started this pid (UTC ms); 0 when unknown."""


def duration(ms: int) -> str:
    """`45s`, `3m12s`, `5h07m`, `2d03h`: a coarse, readable uptime."""
    s = max(ms, 0) // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def _stat(views: Mapping[str, ChildView], role: str, name: str) -> float | None:
    view = views.get(role)
    if view is None or view.beat is None:
        return None
    return view.beat.stats.get(name)


def _num(value: float | None, decimals: int = 0) -> str:
    return "?" if value is None else f"{value:.{decimals}f}"


def status_line(
    views: Mapping[str, ChildView], ring_depth: int, now_ms: int, ring_overruns: int = 0
) -> str:
    """The line (module docstring); `?` for a number whose process has not reported yet.
    "rejected" counts candles the Feed's firewall refused, "malformed" messages it could not
    decode; "orders rejected" are the venue's refusals of the Brain's orders."""
    parts = [
        f"{_num(_stat(views, 'feed', 'symbols_live'))} symbols live",
        f"ring depth {ring_depth}" + (f" (overruns {ring_overruns})" if ring_overruns else ""),
        f"rejected {_num(_stat(views, 'feed', 'rejected'))}",
        f"malformed {_num(_stat(views, 'feed', 'malformed'))}",
        "REST weight feed {} / brain {}".format(
            _num(_stat(views, "feed", "rest_weight_used")),
            _num(_stat(views, "brain", "rest_weight_used")),
        ),
        f"equity {_num(_stat(views, 'brain', 'equity'), 2)}",
        f"open positions {_num(_stat(views, 'brain', 'open_positions'))}",
        f"orders rejected {_num(_stat(views, 'brain', 'orders_rejected'))}",
    ]
    for view in views.values():
        if view.pid is None:
            parts.append(f"{view.role} waiting to restart, restarts {view.restarts}")
            continue
        where = f"{view.role} pid {view.pid}"
        if view.beat is not None and view.beat.beats:
            up = duration(now_ms - view.beat.started_ms)
            ago = max(view.beat.age_ms(now_ms), 0) / 1000
            where += f" up {up} beat {ago:.1f}s ago"
        else:
            where += " starting"
        parts.append(f"{where} restarts {view.restarts}")
    return "status: " + " · ".join(parts)


def heartbeat_rows(run_id: str, views: Mapping[str, ChildView], now_ms: int) -> list[HeartbeatRow]:
    """The rows to store for *views*: the board slot of each process that has beaten; for one
    that has not, its pid with phase STARTING, or WAITING (dead, restart pending), so a reader
    sees the gap instead of the previous process's last beat."""
    rows = []
    for view in views.values():
        if view.beat is not None:
            b = view.beat
            stats = dict(b.stats)
            row = HeartbeatRow(
                run_id, view.role, b.pid, b.phase.name, b.started_ms, b.beat_ms, b.beats,
                view.restarts, now_ms, stats,
            )  # fmt: skip
            rows.append(row)
        else:
            phase = "WAITING" if view.pid is None else "STARTING"
            started = view.started_ms or now_ms
            rows.append(
                HeartbeatRow(
                    run_id, view.role, view.pid or 0, phase, started, 0, 0, view.restarts, now_ms
                )
            )
    return rows


class HeartbeatPersister:
    """Copies heartbeat rows to the database without ever holding up the caller.

    `submit` starts one background write and returns at once; while a write is in flight
    further submits are dropped (the next one carries newer beats anyway). Each write is
    bounded by `timeout_s`. The engine is made and the schema migrated on the first write,
    and retried on the next when that fails. A failure is logged as a warning at most once
    per `warn_every_ms` (with how many failed since), and the first success after failures
    says the rows flow again; nothing here raises into the Orchestrator.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        warn_every_ms: int = 60_000,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.warn_every_ms = warn_every_ms
        self.clock = clock
        self.written = 0
        self.failures = 0
        self.dropped = 0
        self.warnings = 0
        self._failing = 0
        self._warned_ms: int | None = None
        self._engine: AsyncEngine | None = None
        self._migrated = False
        self._task: asyncio.Task[bool] | None = None

    def submit(self, rows: list[HeartbeatRow]) -> bool:
        """Start writing *rows* in the background; False (dropped) if a write is running."""
        if self._task is not None and not self._task.done():
            self.dropped += 1
            return False
        self._task = asyncio.create_task(self.write(rows), name="heartbeat-write")
        return True

    async def write(self, rows: list[HeartbeatRow], timeout_s: float | None = None) -> bool:
        """Write *rows* now, within *timeout_s* (default `self.timeout_s`); True when stored."""
        try:
            await asyncio.wait_for(self._write(rows), timeout_s or self.timeout_s)
        except Exception as exc:
            self.failures += 1
            self._failing += 1
            self._warn(exc)
            return False
        if self._failing:
            log.info("heartbeats reach the database again after %d failed writes", self._failing)
            self._failing, self._warned_ms = 0, None
        self.written += 1
        return True

    async def _write(self, rows: list[HeartbeatRow]) -> None:
        if self._engine is None:
            self._engine = create_engine(self.url)
        if not self._migrated:
            await migrate(self._engine)
            self._migrated = True
        await write_heartbeats(self._engine, rows)

    def _warn(self, exc: BaseException) -> None:
        now = self.clock()
        if self._warned_ms is not None and now - self._warned_ms < self.warn_every_ms:
            return
        self._warned_ms = now
        self.warnings += 1
        if self._engine is None or isinstance(exc, StorageError):
            why = str(exc)  # a bad URL, or `migrate`'s own one-line error
        elif isinstance(exc, TimeoutError):
            why = f"no answer within {self.timeout_s:g} s from {describe_url(self._engine.url)}"
        elif isinstance(exc, OSError | DBAPIError):
            why = str(unavailable(self._engine, exc))
        else:
            why = f"{type(exc).__name__}: {exc} at {describe_url(self._engine.url)}"
        log.warning(
            "cannot store heartbeats (%s); %d failed so far, trading goes on and `slt status` "
            "shows them as stale meanwhile",
            why,
            self._failing,
        )

    async def flush(self) -> None:
        """Wait until the write in flight (if any) has finished, stored or not."""
        if self._task is not None:
            await asyncio.wait({self._task})

    async def close(self, final: list[HeartbeatRow] | None = None, timeout_s: float = 2.0) -> None:
        """At shutdown: drop a write still running (*final* supersedes it), write *final*
        within `timeout_s` if the database was answering (a shutdown waits for no dead
        server), then release the engine. Never raises."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task})
        if final and not self._failing:
            await self.write(final, min(self.timeout_s, timeout_s))
        if self._engine is not None:
            with contextlib.suppress(Exception):
                await self._engine.dispose()
            self._engine = None
