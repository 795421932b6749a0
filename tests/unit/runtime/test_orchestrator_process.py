"""End to end: the Orchestrator as a real main process (`supervise_script.py`), stopped the
way a container platform (SIGTERM to the process) and a terminal (Ctrl-C: SIGINT to the whole
process group) stop it. Exit 0 within 10 s, Feed stopped before Brain, nothing left in shared
memory, and every line of the log tagged with the process that wrote it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import orjson
import pytest

from slt.runtime.shm import shm_exists

HERE = Path(__file__).parent
WAIT_S = 60.0


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def started(
    standins: ModuleType,
    tmp_path: Path,
    names: tuple[str, str],
    *options: str,
    brain: str = "healthy",
) -> tuple[subprocess.Popen[bytes], Path]:
    """The Orchestrator process, once both children beat and a status line with their
    numbers is out; output (its own and its children's) goes to `orchestrator.log`."""
    (tmp_path / "feed.mode").write_text("healthy")
    (tmp_path / "brain.mode").write_text(brain)
    ring, board = names
    args = [sys.executable, str(HERE / "supervise_script.py"), str(tmp_path), ring, board]
    log_path = tmp_path / "orchestrator.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*args, *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, as under a terminal
        )
    try:
        for role in ("feed", "brain"):
            wait_for(
                lambda role=role: any(  # type: ignore[misc]
                    (r, e) == (role, "running") for r, e, _, _ in standins.events(tmp_path)
                ),
                f"the {role}'s first beat",
            )
        wait_for(lambda: "status: 3 symbols live" in log_path.read_text(), "a status line")
    except BaseException:
        finish(proc)
        raise
    return proc, log_path


def assert_released(*names: str) -> None:
    """No block of the run is left, and (on Linux) no file named after one."""
    for name in names:
        assert not shm_exists(name), f"{name} outlived the run"
        assert not list(Path("/dev/shm").glob(f"{name}*")), f"a file of {name} outlived the run"


def finish(proc: subprocess.Popen[bytes]) -> None:
    """Make sure no process of a failed run is left: SIGTERM first (the Orchestrator's own
    clean-up), SIGKILL to the whole group only if that does not do."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    """Fresh ring and board names; whatever of them is left after the test (a failed run, or
    the doorbell FIFO of a killed Orchestrator, which no tracker removes) is removed then,
    after the test's own checks."""
    tag = uuid.uuid4().hex[:10]
    ring, board = f"slt-e2e-ring-{tag}", f"slt-e2e-board-{tag}"
    yield ring, board
    for name in (ring, board):
        for leftover in Path("/dev/shm").glob(f"{name}*"):
            leftover.unlink()


def run_and_stop(
    standins: ModuleType, tmp_path: Path, names: tuple[str, str], how: str, json: bool = False
) -> tuple[int, str]:
    proc, log_path = started(standins, tmp_path, names, *(["--json"] if json else []))
    try:
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches every process in the group
        code = proc.wait(timeout=10)
    finally:
        finish(proc)
    return code, log_path.read_text()


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_run_in_order_with_exit_0(
    standins: ModuleType, tmp_path: Path, names: tuple[str, str], how: str
) -> None:
    code, log = run_and_stop(standins, tmp_path, names, how)

    assert code == 0, log
    steps = [f"{r} {e}" for r, e, _, _ in standins.events(tmp_path) if e in ("term", "exit")]
    assert steps == ["feed term", "feed exit", "brain term", "brain exit"], log
    assert f"{how} received: shutting down" in log
    assert_released(*names)
    assert "leaked shared_memory" not in log  # the resource tracker found nothing to clean up
    lines = [line.split()[1:3] for line in log.splitlines() if line.strip()]
    assert {role for _, role in lines} == {"orchestrator", "feed", "brain"}, log
    assert ["INFO", "feed"] in lines and ["INFO", "brain"] in lines


def test_json_lines_carry_the_role_and_the_level(
    standins: ModuleType, tmp_path: Path, names: tuple[str, str]
) -> None:
    code, log = run_and_stop(standins, tmp_path, names, "SIGTERM", json=True)

    assert code == 0, log
    records = [orjson.loads(line) for line in log.splitlines() if line.strip()]
    assert {"ts", "level", "role", "logger", "msg"} <= set(records[0])
    assert {r["role"] for r in records} == {"orchestrator", "feed", "brain"}
    assert {"feed is running", "brain is running"} <= {r["msg"] for r in records}
    assert any(r["msg"].startswith("status: 3 symbols live") for r in records)
    assert isinstance(records[0]["ts"], int)


def test_a_second_signal_skips_the_remaining_grace(
    standins: ModuleType, tmp_path: Path, names: tuple[str, str]
) -> None:
    """A Brain deaf to SIGTERM, with a minute's grace: the second Ctrl-C kills it at once."""
    proc, log_path = started(standins, tmp_path, names, "--brain-stop-s", "60", brain="ignore-term")
    try:
        os.killpg(proc.pid, signal.SIGINT)
        wait_for(lambda: "stopping brain" in log_path.read_text(), "the brain's turn to stop")
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=30)
    finally:
        finish(proc)
    log = log_path.read_text()
    assert code == 0, log
    assert "SIGINT received again: skipping the remaining grace" in log
    assert "did not stop within 60 s; killing it" in log
    assert_released(*names)


def test_children_stop_themselves_when_the_orchestrator_is_killed(
    standins: ModuleType, tmp_path: Path, names: tuple[str, str]
) -> None:
    """SIGKILL leaves the Orchestrator no chance to stop anything: each child notices that its
    parent is gone and takes its own graceful path, and once they are gone the resource
    tracker removes the blocks the Orchestrator created, so nothing outlives the run."""
    ring, board = names
    proc, _ = started(standins, tmp_path, names)
    try:
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        for role in ("feed", "brain"):
            wait_for(
                lambda role=role: any(  # type: ignore[misc]
                    (r, e) == (role, "exit") for r, e, _, _ in standins.events(tmp_path)
                ),
                f"the {role} to stop by itself",
            )
        wait_for(lambda: not shm_exists(ring) and not shm_exists(board), "the blocks to go")
    finally:
        finish(proc)
