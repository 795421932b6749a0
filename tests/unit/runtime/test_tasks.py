"""A loop of a Feed or Brain that dies of an error stops its process (and says why) instead of
leaving it half alive; a loop cancelled at shutdown is no failure."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from slt.feed.service import FeedService
from slt.runtime.tasks import cancel_all, loop_task

from ..feed.feed_helpers import rig


async def _fails_after(ticks: int) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)
    raise ConnectionError("the link went away")


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_a_failing_loop_is_logged_reported_and_sets_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, logger="slt.runtime")
    stop = asyncio.Event()
    failures: list[BaseException] = []
    healthy = loop_task(_forever(), "timer", stop, failures.append)
    failing = loop_task(_fails_after(3), "heartbeat", stop, failures.append)
    await asyncio.wait_for(stop.wait(), 5)
    assert [type(f) for f in failures] == [ConnectionError]
    assert "the heartbeat loop failed" in caplog.text and "the link went away" in caplog.text
    assert failing.done() and not healthy.done()
    await cancel_all([healthy, failing])
    assert healthy.cancelled()


async def test_a_cancelled_loop_is_no_failure() -> None:
    stop = asyncio.Event()
    failures: list[BaseException] = []
    task = loop_task(_forever(), "candle", stop, failures.append)
    await asyncio.sleep(0)
    await cancel_all([task])
    assert not stop.is_set() and failures == []


async def test_a_feed_whose_report_loop_fails_stops_and_raises_the_error(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        service = FeedService(r.config(report_interval_s=0.05), r.ring, store=r.store)
        calls = 0

        def report() -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise OSError("disk full")

        service._report = report  # type: ignore[method-assign]
        stop = asyncio.Event()
        with pytest.raises(OSError, match="disk full"):
            await asyncio.wait_for(service.run(stop), 10)
        assert stop.is_set()


async def test_loops_are_cancelled_between_their_steps_never_inside_one() -> None:
    """A step (one input applied under the lock) that has begun finishes: cut in the middle,
    it would leave the state changed and its commands unsent."""
    lock = asyncio.Lock()
    started = asyncio.Event()
    steps: list[str] = []

    async def loop() -> None:
        while True:
            async with lock:
                steps.append("begun")
                started.set()
                await asyncio.sleep(0.05)  # the step awaits the ledger, the venue...
                steps.append("done")
            await asyncio.sleep(0)

    stop = asyncio.Event()
    task = loop_task(loop(), "candle", stop)
    await started.wait()
    await cancel_all([task], lock)
    assert task.cancelled() and steps[-1] == "done" and not stop.is_set()
