"""The Orchestrator: the main process of a live or paper run.

It owns the shared memory (creates the candle ring and the heartbeat board, and is the only
one to unlink them), starts one spawned process per `ProcessPlan` (the Feed and the Brain),
and polls every `poll_s`: a child that exited is dead, one whose heartbeat is too old is stuck
(SIGKILLed); either is restarted after a backoff until its restart budget is spent
(`slt.runtime.supervisor` holds those rules). It is asyncio-based so that `slt run` can also
serve the local exchange in the same event loop.

Shutdown (SIGTERM or SIGINT, or `stop` set by the caller) runs in plan order, producer first:
SIGTERM to the Feed and wait (bounded) so nothing more enters the ring; then SIGTERM to the
Brain, which drains the ring and persists its state, and wait (bounded); SIGKILL whatever is
still alive at the end of its grace; unlink the shared memory. A second signal skips the
remaining graces. Exit codes: `EXIT_OK` (0) after a requested shutdown, `EXIT_BUDGET_SPENT`
(75) when a child's restart budget ran out, `EXIT_CONFIG` (78) when a child exited with that
code itself (a configuration error: not restarted); in both the others are stopped gracefully
first.

Every `persist_every_s` it also copies the board to the database (`process_heartbeats`, in
the background: see `HeartbeatPersister`), since `slt status` in another terminal cannot see
shared memory; a final copy after the shutdown marks the processes STOPPED.

Children ignore SIGINT (the terminal sends Ctrl-C to the whole process group; only the
Orchestrator decides the order of the shutdown), log with their role, and stop themselves
(SIGTERM) if the Orchestrator disappears without stopping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import random
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing import shared_memory
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import TypeVar

from slt.ipc.records import CANDLE_RECORD
from slt.ipc.ring import RingBuffer
from slt.logs import EVERY_TIME, flush_repeats
from slt.runtime.children import ProcessPlan, child_main, reap, wait_exit
from slt.runtime.heartbeat import ROLES, HeartbeatBoard, Phase, wall_ms
from slt.runtime.spec import RunSpec
from slt.runtime.status import ChildView, HeartbeatPersister, heartbeat_rows, status_line
from slt.runtime.supervisor import (
    EXIT_BUDGET_SPENT,
    EXIT_CONFIG,
    EXIT_OK,
    Health,
    SupervisorPolicy,
    after_failure,
    describe_exit,
    health,
)
from slt.storage.heartbeats import HeartbeatRow

log = logging.LoggerAdapter(logging.getLogger("slt.orchestrator"), EVERY_TIME)
"""Every line of the Orchestrator is printed: they are few (restarts are budgeted) and one
template serves every role, so aggregating them would hide the second process's death."""

T = TypeVar("T")


# --- the Orchestrator's side ----------------------------------------------------------------------
@dataclass(slots=True)
class _Child:
    plan: ProcessPlan
    proc: BaseProcess | None = None
    started_ms: int = 0
    history: tuple[int, ...] = ()
    """Times (UTC ms) of its restarts inside the budget window."""
    restarts: int = 0
    restart_at_ms: int | None = None
    up: bool = False
    """Whether its first heartbeat has been seen (and logged)."""

    @property
    def role(self) -> str:
        return self.plan.role


def _create_shared(make: Callable[[], T], name: str) -> T:
    """Create a block; when one of that name is left from a run that could not clean up, say
    so, remove it and create it afresh (names are per run, so it cannot be another run's)."""
    try:
        return make()
    except FileExistsError:
        log.warning("removing stale shared memory %r left by an earlier run", name)
        stale = shared_memory.SharedMemory(name)  # tracked, so unlink's unregistering balances
        stale.close()
        stale.unlink()
        return make()


@dataclass(slots=True)
class Orchestrator:
    """The supervision loop over one run's children (module docstring). Use `supervise`."""

    spec: RunSpec
    plans: Sequence[ProcessPlan]
    policy: SupervisorPolicy
    clock: Callable[[], int] = wall_ms
    draw: Callable[[], float] = random.random
    children: list[_Child] = field(default_factory=list)
    hurry: asyncio.Event = field(default_factory=asyncio.Event)
    persist_every_s: float = 5.0
    """How often the board is copied to the database for `slt status` (the status line's
    minutes would make every beat there look stale; two small upserts are cheap)."""
    _ctx: SpawnContext = field(default_factory=lambda: multiprocessing.get_context("spawn"))

    async def run(self, stop: asyncio.Event) -> int:
        """Create the shared memory, run until `stop` or a spent budget, shut down; the code."""
        ring = _create_shared(
            lambda: RingBuffer.create(self.spec.ring_name, self.spec.ring_capacity, CANDLE_RECORD),
            self.spec.ring_name,
        )
        try:
            board = _create_shared(
                lambda: HeartbeatBoard.create(self.spec.heartbeat_name), self.spec.heartbeat_name
            )
        except BaseException:
            ring.close()
            raise
        self.children = [_Child(plan) for plan in self.plans]
        # Spawned children inherit this: OpenBLAS otherwise starts a worker per core at numpy's
        # import that spins for about 0.1 s, taking a CPU from the other process on a small
        # machine, for linear algebra neither child does (xgboost has its own threads).
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        persister = HeartbeatPersister(self.spec.settings.effective_database_url)
        code = EXIT_OK
        try:
            for child in self.children:
                self._start(child)
            code = await self._watch(stop, ring, board, persister)
        finally:
            await self._shutdown(ring)
            await persister.close(self._final_rows(board))
            board.close()
            ring.close()
            log.info("shared memory released; exit code %d", code)
        return code

    def _start(self, child: _Child) -> None:
        proc = self._ctx.Process(
            target=child_main,
            args=(child.role, child.plan.target, self.spec),
            name=f"slt-{child.role}",
        )
        proc.start()
        child.proc, child.started_ms, child.restart_at_ms = proc, self.clock(), None
        child.up = False
        again = f" (restart {child.restarts})" if child.restarts else ""
        log.info("started %s, pid %s%s", child.role, proc.pid, again)

    async def _watch(
        self,
        stop: asyncio.Event,
        ring: RingBuffer,
        board: HeartbeatBoard,
        persister: HeartbeatPersister,
    ) -> int:
        next_status = self.clock() + int(self.policy.status_every_s * 1000)
        next_persist = self.clock()
        while not stop.is_set():
            now = self.clock()
            for child in self.children:
                if child.proc is None:
                    if child.restart_at_ms is not None and now >= child.restart_at_ms:
                        child.restarts += 1
                        self._start(child)
                    continue
                verdict, why = health(
                    self.policy,
                    pid=child.proc.pid or 0,
                    exitcode=child.proc.exitcode,
                    started_ms=child.started_ms,
                    beat=board.read(child.role),
                    now_ms=now,
                )
                if verdict is Health.OK and not child.up:
                    child.up = True
                    log.info(
                        "%s (pid %s) is running: first heartbeat %.1f s after start",
                        child.role,
                        child.proc.pid,
                        (now - child.started_ms) / 1000,
                    )
                if verdict in (Health.DEAD, Health.STUCK):
                    code = await self._failed(child, verdict, why, board)
                    if code is not None:
                        return code
            if now >= next_status:
                log.info("%s", status_line(self._views(board), ring.depth(), now, ring.overruns))
                flush_repeats()
                next_status = now + int(self.policy.status_every_s * 1000)
            if now >= next_persist:
                persister.submit(heartbeat_rows(self.spec.ledger_run_id, self._views(board), now))
                next_persist = now + int(self.persist_every_s * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.policy.poll_s)
        return EXIT_OK

    async def _failed(
        self, child: _Child, verdict: Health, why: str, board: HeartbeatBoard
    ) -> int | None:
        """Handle a dead or stuck child: schedule its restart (None), or give up and return the
        exit code to stop with (its restart budget is spent, or it reported a configuration
        error, which no restart can fix)."""
        proc = child.proc
        assert proc is not None
        config_error = verdict is Health.DEAD and proc.exitcode == EXIT_CONFIG
        if verdict is Health.STUCK:
            log.error("%s (pid %s) is stuck: %s; killing it", child.role, proc.pid, why)
            proc.kill()
            if not await wait_exit(proc, self.policy.kill_wait_s, asyncio.Event()):
                log.error("%s (pid %s) survived SIGKILL for now", child.role, proc.pid)
        else:
            log.error("%s (pid %s) %s", child.role, proc.pid, why)
        reap(proc)
        child.proc = None
        board.clear(child.role)
        if config_error:
            log.critical(
                "%s reported a configuration error: not restarting it; stopping everything, "
                "exit code %d",
                child.role,
                EXIT_CONFIG,
            )
            return EXIT_CONFIG
        now = self.clock()
        decision = after_failure(self.policy, child.history, now, self.draw())
        child.history = decision.history
        if decision.give_up:
            log.critical(
                "%s: restart budget spent (%d restarts in the last %g s); stopping everything, "
                "exit code %d",
                child.role,
                decision.restarts_in_window,
                self.policy.budget_window_s,
                EXIT_BUDGET_SPENT,
            )
            return EXIT_BUDGET_SPENT
        child.restart_at_ms = now + decision.delay_ms
        log.warning(
            "restarting %s in %.1f s (restart %d of %d in %g s)",
            child.role,
            decision.delay_ms / 1000,
            decision.restarts_in_window,
            self.policy.max_restarts,
            self.policy.budget_window_s,
        )
        return None

    def _views(self, board: HeartbeatBoard) -> dict[str, ChildView]:
        views = {}
        for child in self.children:
            pid = child.proc.pid if child.proc is not None else None
            beat = board.read(child.role)
            mine = beat if pid is not None and beat.pid == pid and beat.beats else None
            views[child.role] = ChildView(child.role, pid, child.restarts, mine, child.started_ms)
        return views

    def _final_rows(self, board: HeartbeatBoard) -> list[HeartbeatRow]:
        """After the shutdown: each process's last beat, marked STOPPED (none is alive now)."""
        views = {}
        for child in self.children:
            beat = board.read(child.role)
            if beat.beats:
                stopped = replace(beat, phase=Phase.STOPPED)
                views[child.role] = ChildView(child.role, beat.pid, child.restarts, stopped)
        return heartbeat_rows(self.spec.ledger_run_id, views, self.clock())

    async def _shutdown(self, ring: RingBuffer) -> None:
        """Stop the children in plan order (module docstring), each within its grace."""
        log.info("shutting down: %s", ", then ".join(c.role for c in self.children))
        for child in self.children:
            proc = child.proc
            child.restart_at_ms = None
            if proc is None:
                continue
            if proc.exitcode is None:
                grace = self.policy.stop_grace_s(child.role)
                log.info("stopping %s (pid %s), grace %g s", child.role, proc.pid, grace)
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                if not await wait_exit(proc, grace, self.hurry):
                    log.error(
                        "%s (pid %s) did not stop within %g s; killing it",
                        child.role,
                        proc.pid,
                        grace,
                    )
                    proc.kill()
                    await wait_exit(proc, self.policy.kill_wait_s, asyncio.Event())
            if proc.exitcode is None:
                log.error("%s (pid %s) is still alive after SIGKILL", child.role, proc.pid)
            else:
                log.info("%s (pid %s) %s", child.role, proc.pid, describe_exit(proc.exitcode))
            reap(proc)
            child.proc = None
        depth = ring.depth()
        if depth:
            log.warning("%d candles were left unread in the ring", depth)


async def supervise(
    spec: RunSpec,
    plans: Sequence[ProcessPlan],
    policy: SupervisorPolicy | None = None,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> int:
    """Run the Orchestrator until SIGTERM/SIGINT (when `handle_signals`) or `stop` is set, or a
    restart budget is spent, or a child reports a configuration error; returns the exit code
    (`EXIT_OK`, `EXIT_BUDGET_SPENT` or `EXIT_CONFIG`)."""
    roles = [plan.role for plan in plans]
    if len(set(roles)) != len(roles) or not set(roles) <= set(ROLES):
        raise ValueError(f"plans need distinct roles among {ROLES}, got {roles}")
    policy = SupervisorPolicy() if policy is None else policy
    if policy.stuck_after_s < 3 * spec.beat_interval_s:
        raise ValueError(
            f"stuck_after_s ({policy.stuck_after_s} s) must allow at least three missed beats "
            f"of {spec.beat_interval_s} s, or healthy processes would be killed as stuck"
        )
    stop = asyncio.Event() if stop is None else stop
    orchestrator = Orchestrator(spec, plans, policy)
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            log.warning("%s received: shutting down", signal.Signals(signum).name)
            stop.set()
        else:
            log.warning(
                "%s received again: skipping the remaining grace", signal.Signals(signum).name
            )
            orchestrator.hurry.set()

    signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await orchestrator.run(stop)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
