"""Awaiting a blocking call from the event loop without ever holding up the process's exit.

The live learner waits minutes for a retraining job (`slt.live.learning`); the Brain must stay
free to stop meanwhile, so the wait runs in a daemon thread rather than an executor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


async def off_loop(fn: Callable[[], R], *, name: str) -> R:
    """`fn()` in a daemon thread called `name`, awaited. Unlike `asyncio.to_thread`, whose
    executor threads are joined at exit, a call still running when the Brain stops cannot hold
    up its exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[R] = loop.create_future()

    def done(result: R) -> None:
        if not future.done():
            future.set_result(result)

    def failed(error: BaseException) -> None:
        if not future.done():
            future.set_exception(error)

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting task, which decides
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(failed, exc)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(done, result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
