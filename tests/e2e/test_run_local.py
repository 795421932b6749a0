"""`slt run` end to end: the real Orchestrator, Feed and Brain processes trading against the
local exchange on loopback, which this test serves and misbehaves on purpose.

One scenario, in the order a trader would worry about things:

1. it trades, and every order it sends is one the exchange accepts;
2. malformed WebSocket frames are counted and trading goes on;
3. a dropped market connection reconnects and the missing candles are filled (from the store:
   no REST kline call ever reaches the exchange);
4. the Brain killed with SIGKILL is restarted, reconciles, and no order is sent twice;
5. SIGTERM stops everything within 10 s with exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_FIRST_OPEN_MS, sample_files
from slt.venues.local.assemble import RunningExchange, build_local_exchange, start_local_exchange
from slt.venues.local.exchange import LocalExchange

pytestmark = pytest.mark.slow
SPEED = 240.0
START = SAMPLE_FIRST_OPEN_MS + 86_400_000
ORDER_PATHS = ("/fapi/v1/order", "/fapi/v1/algoOrder")


@pytest.fixture
async def exchange() -> AsyncIterator[tuple[LocalExchange, RunningExchange]]:
    series = {}
    for path in sample_files():
        s = parse_file(path).series
        series[s.symbol] = s
    ex = build_local_exchange(series, speed=SPEED, start_ms=START)
    running = await start_local_exchange(ex)
    try:
        yield ex, running
    finally:
        await asyncio.wait_for(running.close(), 10)


class Run:
    """`slt run` in a child process, its log in a file."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc, self.log = proc, log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def until(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
        """The first match of `pattern` in the log (from offset `after`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text()[after:])
            if found:
                return found
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"slt run exited ({self.proc.returncode}):\n{self.text()[-4000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.text()[-4000:]}")
            await asyncio.sleep(0.2)


async def _start(tmp_path: Path, running: RunningExchange) -> Run:
    slt = Path(sys.executable).with_name("slt")
    env = {
        **os.environ,
        "SLT_DATA_DIR": str(tmp_path / "data"),
        "SLT_LIVE__REPLAY_SPEED": str(SPEED),
        "SLT_LIVE__STATUS_EVERY_S": "2",
    }
    env.pop("SLT_DATABASE_URL", None)
    env.pop("SLT_REDIS_URL", None)
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(slt),
            "run",
            "--exchange-url",
            running.base_url,
            env=env,
            stdout=out,
            stderr=out,
            cwd=tmp_path,
            start_new_session=True,  # its own process group: cleanup reaches the children
        )
    return Run(proc, log)


def _orders(ex: LocalExchange) -> list[str]:
    """Every order (regular and conditional) the account ever received from us, by client id."""
    ids = [o.client_id for by_id in ex.account.orders.values() for o in by_id.values()]
    ids += [a.client_algo_id for a in ex.account.algos.values()]
    return [i for i in ids if i.startswith("slt-")]


async def test_slt_run_trades_survives_faults_and_a_killed_brain_and_stops_cleanly(
    tmp_path: Path, exchange: tuple[LocalExchange, RunningExchange]
) -> None:
    ex, running = exchange
    run = await _start(tmp_path, running)
    try:
        # 1. it trades
        await run.until(r"brain +fill slt-", timeout=120)
        # 2. malformed frames
        ex.faults.malformed_frames = 3
        await run.until(r"malformed [1-9]", timeout=30)
        # 3. a dropped market connection: reconnect and fill the gap from the store
        mark = len(run.text())
        ex.faults.drop_ws_connections = True
        await asyncio.sleep(1.0)  # about four candles per symbol at this speed
        ex.faults.drop_ws_connections = False
        await run.until(
            r"filled_from_store=\d+|gap of \d+ 1m candles of \w+ filled: [1-9]", 60, mark
        )
        # 4. SIGKILL the Brain
        pid = int(re.findall(r"started brain, pid (\d+)", run.text())[-1])
        mark = len(run.text())
        os.kill(pid, signal.SIGKILL)
        await run.until(r"started brain, pid \d+ \(restart 1\)", 60, mark)
        await run.until(r"brain +(reconcile: |brain ready)", 90, mark)
        await run.until(r"brain +brain ready", 90, mark)
        await asyncio.sleep(3)  # let the restarted Brain trade on
        # 5. SIGTERM
        t0 = time.monotonic()
        run.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(run.proc.wait(), 15)
        stopped_in = time.monotonic() - t0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.proc.pid, signal.SIGKILL)  # whatever is left, children included
        if run.proc.returncode is None:
            await run.proc.wait()
    log = run.text()
    assert code == 0, log[-4000:]
    assert stopped_in < 10, f"stopped in {stopped_in:.1f} s"
    requests = ex.limits.requests()
    orders = [r for r in requests if r.path in ORDER_PATHS and r.method == "POST"]
    assert orders, "no order reached the exchange"
    refused = [(r.path, r.status, r.code) for r in orders if r.status != 200]
    assert refused == [], f"orders the exchange refused: {refused}"
    sent = _orders(ex)
    twice = [cid for cid, n in Counter(sent).items() if n > 1]
    assert twice == [], f"client order ids used twice: {twice}"
    assert not [r for r in requests if r.path == "/fapi/v1/klines"], "a REST kline call was made"
    assert "Traceback" not in log, log[-4000:]
