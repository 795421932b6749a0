"""The guard against stale numba caches: any edit to the package's sources drops its cache."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from slt.features._numba_cache import drop_stale_cache


def _fake_dispatcher(cache_dir: Path) -> SimpleNamespace:
    return SimpleNamespace(_cache=SimpleNamespace(_cache_path=str(cache_dir)))


def test_cache_files_are_dropped_exactly_when_the_sources_change(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    cache = pkg / "__pycache__"
    cache.mkdir(parents=True)
    (pkg / "fvg.py").write_text("x = 1\n")
    (pkg / "incremental.py").write_text("y = 2\n")
    ours = [cache / "incremental._step-89.py311.nbi", cache / "fvg.fvg_step-1.py311.1.nbc"]
    other = [cache / "other.f-1.py311.nbi", cache / "fvg.cpython-311.pyc"]
    for f in ours + other:
        f.write_bytes(b"cached")
    d = _fake_dispatcher(cache)

    assert drop_stale_cache(pkg, d)  # no record yet: treated as changed
    assert not any(f.exists() for f in ours) and all(f.exists() for f in other)

    ours[0].write_bytes(b"compiled again")
    assert not drop_stale_cache(pkg, d)  # unchanged sources: the cache is kept
    assert ours[0].exists()

    (pkg / "fvg.py").write_text("x = 3\n")  # a callee module changes
    assert drop_stale_cache(pkg, d)
    assert not ours[0].exists()


def test_a_dispatcher_without_a_cache_is_left_alone(tmp_path: Path) -> None:
    assert not drop_stale_cache(tmp_path, object())
