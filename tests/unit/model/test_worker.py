"""Training runs in a capped child process; whatever goes wrong there, the parent gets a
`TrainingError` and keeps running."""

from __future__ import annotations

import os
import signal
from types import ModuleType

import pytest

from slt.model.errors import TrainingError
from slt.model.worker import MIB, run_isolated

LIMIT = 1024 * MIB


def test_result_and_progress_come_back(child_jobs: ModuleType) -> None:
    seen: list[tuple[str, int, int]] = []
    got = run_isolated(
        child_jobs.echo,
        {"x": b"bytes", "n": 3},
        memory_limit_bytes=LIMIT,
        progress=lambda *a: seen.append(a),
    )
    assert got == {"x": b"bytes", "n": 3}
    assert seen == [("echo", 1, 1)]


def test_the_child_runs_under_the_address_space_cap(child_jobs: ModuleType) -> None:
    assert run_isolated(child_jobs.address_space_limit, None, memory_limit_bytes=LIMIT) == LIMIT


def test_exceeding_the_memory_limit_is_a_training_error_and_the_parent_survives(
    child_jobs: ModuleType,
) -> None:
    with pytest.raises(TrainingError, match=r"ran out of memory \(limit 1024 MiB\)"):
        run_isolated(child_jobs.hog, 4 * LIMIT, memory_limit_bytes=LIMIT)
    # Same process, still working, and a later job runs normally.
    assert os.getpid() > 0
    assert run_isolated(child_jobs.echo, 7, memory_limit_bytes=LIMIT) == 7


def test_a_killed_child_is_a_training_error(child_jobs: ModuleType) -> None:
    with pytest.raises(TrainingError, match=r"died of SIGKILL.*out-of-memory killer"):
        run_isolated(child_jobs.die, int(signal.SIGKILL), memory_limit_bytes=LIMIT)
    with pytest.raises(TrainingError, match="died of SIGSEGV"):
        run_isolated(child_jobs.die, int(signal.SIGSEGV), memory_limit_bytes=LIMIT)


def test_an_exception_in_the_job_names_its_cause(child_jobs: ModuleType) -> None:
    with pytest.raises(TrainingError, match="ValueError: no rows left"):
        run_isolated(child_jobs.fail, "no rows left", memory_limit_bytes=None)


def test_a_hung_job_is_stopped_at_the_timeout(child_jobs: ModuleType) -> None:
    with pytest.raises(TrainingError, match="did not finish within 1 s"):
        run_isolated(child_jobs.sleep, 60.0, memory_limit_bytes=None, timeout_s=1.0)
