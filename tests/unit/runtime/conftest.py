"""Fixtures for the Orchestrator tests: a RunSpec whose data_dir is the test's folder (where
the stand-in children read their modes and write their events), with fresh shared-memory
names, and the stand-in module importable by name in spawned children."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from slt.config import Settings
from slt.runtime.spec import RunSpec, VenueSpec
from slt.venues.binance.urls import local

HERE = Path(__file__).parent

MakeSpec = Callable[..., RunSpec]


@pytest.fixture
def standins(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """`runtime_standins`, imported from a path spawned children also get (sys.path travels
    with spawn's preparation data)."""
    monkeypatch.syspath_prepend(str(HERE))
    import runtime_standins

    yield runtime_standins
    sys.modules.pop("runtime_standins", None)


@pytest.fixture
def make_spec(tmp_path: Path) -> Iterator[MakeSpec]:
    """Builds specs; after the test (and its own checks) removes whatever of their blocks a
    failed run left in /dev/shm."""
    made: list[str] = []

    def make(feed: str = "healthy", brain: str = "healthy", beat_s: float = 0.05) -> RunSpec:
        (tmp_path / "feed.mode").write_text(feed)
        (tmp_path / "brain.mode").write_text(brain)
        tag = uuid.uuid4().hex[:10]
        made.extend((f"slt-test-ring-{tag}", f"slt-test-board-{tag}"))
        return RunSpec(
            settings=Settings(data_dir=tmp_path),
            venue=VenueSpec("local", local(1), "", ""),
            symbols=("BTCUSDT",),
            interval="1m",
            ring_name=f"slt-test-ring-{tag}",
            ring_capacity=1024,
            heartbeat_name=f"slt-test-board-{tag}",
            beat_interval_s=beat_s,
        )

    yield make
    for name in made:
        for leftover in Path("/dev/shm").glob(f"{name}*"):
            leftover.unlink()
