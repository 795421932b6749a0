"""Run a training job in its own process with a memory cap, so it can never take the caller down.

The job runs in a fresh `spawn` child (no copy of the trader's memory, no inherited locks or
sockets) whose address space is capped with `RLIMIT_AS` before the job starts. Whatever
happens there — a `MemoryError`, an XGBoost allocation failure, a segfault, the kernel's OOM
killer, a hang past the timeout — the parent gets one `TrainingError` saying what happened and
what to change, and carries on with the model it has.

Jobs are module-level functions `job(arg, report) -> result` (they are pickled by reference);
`report(stage, done, total)` sends progress to the parent. Large inputs go in as a file path
rather than pickled arrays. As with any `spawn` child, the program's main module is imported
again in the child, so it must be import-safe (`if __name__ == "__main__":`); the `slt`
console script is.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import resource
import signal
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from slt.model.errors import TrainingError

A = TypeVar("A")
R = TypeVar("R")
Report = Callable[[str, int, int], None]
"""Progress callback: (stage name, done, total)."""

_POLL_S = 0.2
MIB = 1 << 20


def run_isolated(
    job: Callable[[A, Report], R],
    arg: A,
    *,
    memory_limit_bytes: int | None,
    timeout_s: float | None = None,
    progress: Report | None = None,
) -> R:
    """`job(arg, report)` in a capped child process; its result, or `TrainingError`.

    Blocks until the child answers (call it through `asyncio.to_thread` from an event loop).
    `progress` runs in the calling thread whenever the child reports.
    """
    ctx = mp.get_context("spawn")
    try:
        payload = pickle.dumps((job, arg), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TrainingError(
            f"the training job cannot be sent to its process ({exc}); jobs and feature "
            "functions must be module-level functions"
        ) from None
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child_main,
        args=(payload, memory_limit_bytes, sender),
        name="slt-trainer",
        daemon=True,
    )
    try:
        proc.start()
    except Exception as exc:
        receiver.close()
        sender.close()
        raise TrainingError(f"could not start the training process: {exc}") from exc
    sender.close()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            if receiver.poll(_POLL_S):
                try:
                    message = receiver.recv()
                except (EOFError, OSError):
                    break  # the child went away without answering
                kind = message[0]
                if kind == "progress":
                    if progress is not None:
                        progress(message[1], message[2], message[3])
                    continue
                if kind == "ok":
                    result: R = message[1]
                    return result
                raise TrainingError(_error_message(message, memory_limit_bytes))
            if not proc.is_alive() and not receiver.poll(0):
                break
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                raise TrainingError(
                    f"training did not finish within {timeout_s:g} s and was stopped; train on "
                    "fewer symbols or days, or raise the model timeout"
                )
        proc.join(5)
        raise TrainingError(_death_message(proc.exitcode, memory_limit_bytes))
    finally:
        if proc.is_alive():
            proc.join(2)
        if proc.is_alive():
            proc.kill()
            proc.join()
        receiver.close()


def _child_main(payload: bytes, limit: int | None, conn: Connection) -> None:
    """Entry point of the child: cap memory, load the job, run it, send back the outcome.

    The job is unpickled only here, after the cap is set, so the libraries it imports count
    against the cap too, and after OpenMP is told to sleep rather than spin at its barriers:
    on a machine shared with the trader, spinning threads would take CPU it needs.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        if limit is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

        def report(stage: str, done: int, total: int) -> None:
            conn.send(("progress", stage, int(done), int(total)))

        job, arg = pickle.loads(payload)
        result = job(arg, report)
        conn.send(("ok", result))
    except MemoryError:
        _send_quietly(conn, ("error", "MemoryError", "out of memory", ""))
    except BaseException as exc:  # everything becomes a message; the parent decides
        _send_quietly(conn, ("error", type(exc).__name__, str(exc), traceback.format_exc()))
    finally:
        conn.close()


def _send_quietly(conn: Connection, message: tuple[str, ...]) -> None:
    # A child too broken to report is seen dying by the parent instead.
    with contextlib.suppress(Exception):
        conn.send(message)


def _limit_text(limit: int | None) -> str:
    return "no limit" if limit is None else f"limit {limit // MIB} MiB"


def _error_message(message: tuple[Any, ...], limit: int | None) -> str:
    _, name, text, trace = message
    if name == "MemoryError" or "bad_alloc" in text or "std::bad_alloc" in trace:
        return (
            f"training ran out of memory ({_limit_text(limit)}); train on fewer symbols or "
            "days, or raise the model memory limit"
        )
    last = trace.strip().splitlines()[-3:] if trace else []
    where = f" [{' | '.join(line.strip() for line in last)}]" if last else ""
    return f"training failed in its process: {name}: {text}{where}"


def _death_message(exitcode: int | None, limit: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            sig = signal.Signals(-exitcode).name
        except ValueError:
            sig = f"signal {-exitcode}"
        hint = (
            "most likely the kernel's out-of-memory killer; lower the data size or the memory "
            "limit so the cap triggers first"
            if -exitcode == signal.SIGKILL
            else "a crash in native code"
        )
        return f"the training process died of {sig} ({_limit_text(limit)}): {hint}"
    return (
        f"the training process exited with code {exitcode} without a result "
        f"({_limit_text(limit)}); see the log above for its output"
    )
