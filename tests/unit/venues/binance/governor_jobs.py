"""Work for spawned processes in the governor tests (importable by name in the child)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from slt.venues.binance.governor import WeightGovernor
from slt.venues.binance.governor_stores import FileStore

T0 = 1_749_513_600_000


def charge_many(path: str, count: int) -> int:
    """Charge weight 1 `count` times against the file at `path`, all in the window of T0."""

    async def run() -> int:
        store = FileStore(Path(path))
        gov = WeightGovernor(store, limit=10_000, share=1.0, clock=lambda: T0 + 1)
        try:
            for _ in range(count):
                await gov.acquire(1)
        finally:
            store.close()
        return gov.charged

    return asyncio.run(run())
