"""The long-running loops of a Feed or Brain process, and what happens when one of them dies.

A process whose heartbeat loop (or candle, fill or timer loop) died of an unexpected error
while the rest kept running is the worst kind of failure: it looks alive, trades on half its
senses, and is only found when the Orchestrator notices a stale heartbeat. So every loop is
started through `loop_task`: an error that ends a loop is logged with its traceback, handed
to `on_failure` and sets the process's stop event. The process then stops the normal way
(state saved) with a non-zero exit code, and the Orchestrator restarts it at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("slt.runtime")


def loop_task(
    coro: Coroutine[Any, Any, None],
    name: str,
    stop: asyncio.Event,
    on_failure: Callable[[BaseException], None] = lambda exc: None,
) -> asyncio.Task[None]:
    """`coro` as a task named `name` whose failure stops the process (module docstring)."""
    task = asyncio.create_task(coro, name=name)

    def ended(t: asyncio.Task[None]) -> None:
        if t.cancelled():
            return
        exc = t.exception()
        if exc is None:
            return
        log.critical(
            "the %s loop failed, stopping this process for a restart: %s: %s",
            name,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        on_failure(exc)
        stop.set()

    task.add_done_callback(ended)
    return task


async def cancel_all(tasks: list[asyncio.Task[None]], steps: asyncio.Lock | None = None) -> None:
    """Cancel `tasks` and wait until each has ended (their errors are already reported).

    With `steps`, the lock each loop holds while it applies one input, the cancellation waits
    for the step under way and lands only between steps: a loop cut in the middle of one
    would leave the state changed but its commands unsent, or a closed trade unrecorded."""
    if steps is None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return
    async with steps:
        await cancel_all(tasks)
