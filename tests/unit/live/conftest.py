"""Fixtures of the live tests."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def jobs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """`learning_jobs`, importable by name in a spawned child (sys.path and the environment are
    inherited), with the gate of `fail_when_released` in `tmp_path`."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    module = importlib.import_module("learning_jobs")
    monkeypatch.setenv(module.GATE_ENV, str(tmp_path / "release"))
    return module
