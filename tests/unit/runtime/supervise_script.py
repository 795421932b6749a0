"""Runs the Orchestrator over the stand-in children as a real main process, for the end-to-end
signal tests: `python supervise_script.py DATA_DIR RING BOARD [--json] [--brain-stop-s S]`.
Exits with `supervise`'s code. Its own folder is on sys.path (it is the script's), and
spawned children inherit that path, so they find `runtime_standins` too."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import runtime_standins

from slt.config import Settings
from slt.logs import setup_logging
from slt.runtime.children import ProcessPlan
from slt.runtime.orchestrator import supervise
from slt.runtime.spec import RunSpec, VenueSpec
from slt.runtime.supervisor import SupervisorPolicy
from slt.venues.binance.urls import local


def main(argv: list[str]) -> int:
    data_dir, ring, board = Path(argv[0]), argv[1], argv[2]
    json = "--json" in argv
    brain_stop_s = float(argv[argv.index("--brain-stop-s") + 1]) if "--brain-stop-s" in argv else 4
    setup_logging("INFO", json=json, role="orchestrator")
    spec = RunSpec(
        settings=Settings(data_dir=data_dir),
        venue=VenueSpec("local", local(1), "", ""),
        symbols=("BTCUSDT",),
        interval="1m",
        ring_name=ring,
        ring_capacity=1024,
        heartbeat_name=board,
        log_json=json,
        beat_interval_s=0.05,
    )
    policy = SupervisorPolicy(poll_s=0.05, status_every_s=0.5, brain_stop_s=brain_stop_s)
    plans = [
        ProcessPlan("feed", runtime_standins.feed),
        ProcessPlan("brain", runtime_standins.brain),
    ]
    return asyncio.run(supervise(spec, plans, policy))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
