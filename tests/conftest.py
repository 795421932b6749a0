"""Shared fixtures. Real market data lives in ../shared/data beside the repository (CI has it);
tests that need it skip with a clear reason where it is absent, as in a user's clone."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data, or skip the test when the shared folder is not beside the repo."""
    if not (SHARED_DATA / "market").is_dir():
        pytest.skip(
            f"real market data not found at {SHARED_DATA} (only present in CI/dev checkouts)"
        )
    return SHARED_DATA
