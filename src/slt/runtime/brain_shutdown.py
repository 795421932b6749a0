"""`slt run --flatten`: the Brain's last act is to close every position it holds."""

from __future__ import annotations

import asyncio
import logging
import time

from slt.live.trader import Trader

log = logging.getLogger("slt.brain")


async def flatten(trader: Trader, lock: asyncio.Lock, now_ms: int, timeout_s: float) -> bool:
    """Close everything, then wait until the book is flat or `timeout_s` has passed; True when
    flat. The fills arrive on the user-data stream, which is still open (and applied under
    `lock`, as every input); each close retries until the exchange has it."""
    async with lock:
        count = await trader.flatten(now_ms)
    if count == 0:
        log.info("flatten: no open position")
        return True
    log.info("flatten: closing %d positions (waiting up to %g s)", count, timeout_s)
    deadline = time.monotonic() + timeout_s
    while trader.state.positions and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    left = trader.state.positions
    if left:
        log.error(
            "ALERT: flatten: %d positions still open after %g s: %s; their stops stay on the "
            "exchange, and the next start reconciles them",
            len(left),
            timeout_s,
            ", ".join(p.symbol for p in left),
        )
        return False
    log.info("flatten: every position closed")
    return True
