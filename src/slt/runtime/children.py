"""The children of a run, from both sides: what each spawned process runs before its plan's
target (`child_main`: SIGINT ignored, logging as its role, a watch on its parent), and the
Orchestrator's small waits on them (`wait_exit`, `reap`)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from slt.logs import setup_logging
from slt.runtime.spec import RunSpec

Target = Callable[[RunSpec], None]


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    """One child: its board role and the module-level function it runs (picklable for spawn).
    Plans are started in order and stopped in order: put the producer (Feed) first."""

    role: str
    target: Target


def default_plans() -> list[ProcessPlan]:
    """The Feed, then the Brain. Looked up by name at call time, so importing this module
    (tests, the CLI's help) does not load the whole trading stack."""
    feed: Target = importlib.import_module("slt.runtime.feed_process").run_feed
    brain: Target = importlib.import_module("slt.runtime.brain_process").run_brain
    return [ProcessPlan("feed", feed), ProcessPlan("brain", brain)]


def _watch_parent(parent: int, every_s: float = 1.0) -> None:
    """Ask this process to stop (SIGTERM, its graceful path) once its parent is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def child_main(role: str, target: Target, spec: RunSpec) -> None:
    """What every spawned child runs: ignore SIGINT, log as `role`, watch the parent, then the
    plan's target."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(spec.log_level, json=spec.log_json, role=role)
    _watch_parent(os.getppid())
    target(spec)


async def wait_exit(proc: BaseProcess, timeout_s: float, hurry: asyncio.Event) -> bool:
    """Wait until `proc` has exited (True) or `timeout_s` passed or `hurry` is set (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while proc.exitcode is None:
        if hurry.is_set() or loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def reap(proc: BaseProcess) -> None:
    """Collect an exited child (no zombie) and free its handle."""
    if proc.exitcode is not None:
        proc.join(0)
        with contextlib.suppress(ValueError):
            proc.close()
