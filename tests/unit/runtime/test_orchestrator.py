"""The Orchestrator with real spawned children (the stand-ins in `runtime_standins`): graceful
shutdown in order and within the bound, restarts with backoff, the restart budget, stuck and
SIGTERM-deaf children, and shared memory that outlives a killed child and not the run.

Waits poll for a condition with a generous timeout; the only time bound asserted is the
shutdown's, which is the behaviour under test (10 s, the platform's grace)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from slt.runtime.children import ProcessPlan
from slt.runtime.orchestrator import supervise
from slt.runtime.shm import shm_exists
from slt.runtime.spec import RunSpec
from slt.runtime.supervisor import EXIT_BUDGET_SPENT, EXIT_CONFIG, EXIT_OK, SupervisorPolicy

MakeSpec = Callable[..., RunSpec]
WAIT_S = 60.0

POLICY = SupervisorPolicy(
    poll_s=0.05,
    start_grace_s=60,
    stuck_after_s=30,
    backoff_base_s=0.1,
    backoff_max_s=2,
    jitter=0,
    max_restarts=3,
    feed_stop_s=5,
    brain_stop_s=5,
    kill_wait_s=5,
    status_every_s=0.3,
)


def plans(standins: ModuleType) -> list[ProcessPlan]:
    return [ProcessPlan("feed", standins.feed), ProcessPlan("brain", standins.brain)]


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


def count(standins: ModuleType, spec: RunSpec, role: str, event: str) -> int:
    return sum(1 for r, e, _, _ in standins.events(spec.data_dir) if (r, e) == (role, event))


def order(standins: ModuleType, spec: RunSpec) -> list[str]:
    return [f"{r} {e}" for r, e, _, _ in standins.events(spec.data_dir)]


async def start(
    spec: RunSpec, standins: ModuleType, policy: SupervisorPolicy
) -> tuple[asyncio.Task[int], asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        supervise(spec, plans(standins), policy, stop=stop, handle_signals=False)
    )
    return task, stop


async def stop_and_time(task: asyncio.Task[int], stop: asyncio.Event) -> tuple[int, float]:
    began = time.monotonic()
    stop.set()
    code = await asyncio.wait_for(task, WAIT_S)
    return code, time.monotonic() - began


def full_status(caplog: pytest.LogCaptureFixture) -> str | None:
    """The first status line with numbers from both the Feed and the Brain."""
    for record in caplog.records:
        message = record.getMessage()
        if "3 symbols live" in message and "equity 1000.50" in message:
            return message
    return None


def assert_released(spec: RunSpec) -> None:
    """Nothing of the run is left: no block, and (on Linux) no file named after one, such as
    the ring's doorbell."""
    for name in (spec.ring_name, spec.heartbeat_name):
        assert not shm_exists(name), f"{name} outlived the run"
        assert not list(Path("/dev/shm").glob(f"{name}*")), f"a file of {name} outlived the run"


async def test_healthy_run_stops_feed_then_brain_within_the_bound(
    make_spec: MakeSpec, standins: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    spec = make_spec()
    task, stop = await start(spec, standins, POLICY)
    await until(lambda: count(standins, spec, "feed", "running") == 1, "the feed's first beat")
    await until(lambda: count(standins, spec, "brain", "running") == 1, "the brain's first beat")
    assert shm_exists(spec.ring_name) and shm_exists(spec.heartbeat_name)
    await until(lambda: full_status(caplog) is not None, "a status line with both processes' stats")

    code, took = await stop_and_time(task, stop)

    assert code == EXIT_OK
    assert took < 10
    steps = [s for s in order(standins, spec) if s.endswith(("term", "exit"))]
    assert steps == ["feed term", "feed exit", "brain term", "brain exit"]
    assert any(s.startswith("brain drained:") for s in order(standins, spec))
    status = full_status(caplog)
    assert status is not None
    assert "rejected 1" in status and "REST weight feed 5 / brain 7" in status
    assert "3 symbols live" in status and "open positions 2" in status
    assert "feed pid" in status and "restarts 0" in status
    assert "brain (pid" in caplog.text and "is running: first heartbeat" in caplog.text
    assert_released(spec)


async def test_a_dying_child_is_restarted_with_backoff_until_the_budget_is_spent(
    make_spec: MakeSpec, standins: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    spec = make_spec(feed="die")
    policy = SupervisorPolicy(
        poll_s=0.05, start_grace_s=60, backoff_base_s=0.2, jitter=0, max_restarts=2,
        feed_stop_s=5, brain_stop_s=5, kill_wait_s=5,
    )  # fmt: skip
    task, _ = await start(spec, standins, policy)

    code = await asyncio.wait_for(task, WAIT_S)

    assert code == EXIT_BUDGET_SPENT
    events = standins.events(spec.data_dir)
    starts = [ns for r, e, _, ns in events if (r, e) == ("feed", "start")]
    deaths = [ns for r, e, _, ns in events if (r, e) == ("feed", "die")]
    assert len(starts) == 3 and len(deaths) == 3  # the first run and two restarts
    for n, (died, restarted) in enumerate(zip(deaths, starts[1:], strict=False)):
        assert restarted - died >= 0.2 * 2**n * 1e9  # base · 2ⁿ, no jitter
    assert "restart budget spent" in caplog.text
    assert count(standins, spec, "brain", "term") == 1  # the rest is stopped gracefully
    assert count(standins, spec, "brain", "exit") == 1
    assert_released(spec)


async def test_a_configuration_error_is_not_restarted(
    make_spec: MakeSpec, standins: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    spec = make_spec(brain="config-error")
    task, _ = await start(spec, standins, POLICY)

    code = await asyncio.wait_for(task, WAIT_S)

    assert code == EXIT_CONFIG
    assert count(standins, spec, "brain", "start") == 1
    assert "brain reported a configuration error: not restarting it" in caplog.text
    assert order(standins, spec)[-2:] == ["feed term", "feed exit"]
    assert_released(spec)


async def test_a_stuck_child_is_killed_and_restarted(
    make_spec: MakeSpec, standins: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    spec = make_spec(feed="stuck-once")
    policy = SupervisorPolicy(
        poll_s=0.05, start_grace_s=60, stuck_after_s=2, backoff_base_s=0.1, jitter=0,
        feed_stop_s=5, brain_stop_s=5, kill_wait_s=5,
    )  # fmt: skip
    task, stop = await start(spec, standins, policy)
    await until(lambda: count(standins, spec, "feed", "running") == 2, "the restarted feed")

    code, _ = await stop_and_time(task, stop)

    assert code == EXIT_OK
    assert count(standins, spec, "feed", "stuck") == 1
    assert "is stuck: no heartbeat for" in caplog.text
    assert "killing it" in caplog.text
    assert count(standins, spec, "feed", "exit") == 1  # only the healthy one exits by itself
    assert_released(spec)


async def test_a_child_that_ignores_sigterm_is_killed_after_its_grace(
    make_spec: MakeSpec, standins: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    spec = make_spec(brain="ignore-term")
    policy = SupervisorPolicy(poll_s=0.05, start_grace_s=60, brain_stop_s=0.5, kill_wait_s=5)
    task, stop = await start(spec, standins, policy)
    await until(lambda: count(standins, spec, "brain", "running") == 1, "the brain's first beat")
    await until(lambda: count(standins, spec, "feed", "running") == 1, "the feed's first beat")

    code, took = await stop_and_time(task, stop)

    assert code == EXIT_OK
    assert took < 10
    assert count(standins, spec, "feed", "exit") == 1
    assert count(standins, spec, "brain", "exit") == 0
    assert "brain" in caplog.text and "did not stop within 0.5 s; killing it" in caplog.text
    assert "killed by SIGKILL" in caplog.text
    assert_released(spec)


async def test_shared_memory_survives_a_killed_child_and_not_the_run(
    make_spec: MakeSpec, standins: ModuleType
) -> None:
    spec = make_spec(feed="sigkill-once")
    task, stop = await start(spec, standins, POLICY)
    await until(lambda: count(standins, spec, "feed", "sigkill") == 1, "the feed killing itself")
    await until(lambda: count(standins, spec, "feed", "running") == 2, "the restarted feed")
    # The restarted Feed attached to the same blocks, and they are still there.
    assert shm_exists(spec.ring_name) and shm_exists(spec.heartbeat_name)

    code, _ = await stop_and_time(task, stop)

    assert code == EXIT_OK
    assert_released(spec)


async def test_a_stale_block_from_an_earlier_run_is_replaced(
    make_spec: MakeSpec, standins: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    from multiprocessing import shared_memory

    spec = make_spec()
    stale = shared_memory.SharedMemory(spec.ring_name, create=True, size=64)
    stale.close()  # left behind, as by a run that was killed before it could unlink
    task, stop = await start(spec, standins, POLICY)
    await until(lambda: count(standins, spec, "brain", "running") == 1, "the brain's first beat")

    code, _ = await stop_and_time(task, stop)

    assert code == EXIT_OK
    assert "stale shared memory" in caplog.text
    assert_released(spec)


async def test_plans_and_policy_are_checked_before_anything_starts(
    make_spec: MakeSpec, standins: ModuleType
) -> None:
    spec = make_spec()
    with pytest.raises(ValueError, match="distinct roles"):
        await supervise(spec, [ProcessPlan("feed", standins.feed)] * 2, POLICY)
    with pytest.raises(ValueError, match="distinct roles"):
        await supervise(spec, [ProcessPlan("risk", standins.feed)], POLICY)
    with pytest.raises(ValueError, match="three missed beats"):
        await supervise(make_spec(beat_s=1.0), plans(standins), SupervisorPolicy(stuck_after_s=2))
    assert not shm_exists(spec.ring_name) and not shm_exists(spec.heartbeat_name)
