"""Keep numba's on-disk cache of this package honest.

numba invalidates a cached function only when *its own* source file changes (it stamps the
file's mtime and size). The feature kernels call compiled functions of sibling modules
(the incremental kernel inlines the step of every primitive), so after an edit to, say,
fvg.py the kernel in incremental.py would keep loading machine code built from the old
fvg.py: wrong numbers with no error. To rule that out, `drop_stale_cache` hashes the source
of every module of the package and, when the hash differs from the one recorded beside the
cache, deletes the package's cache files before anything is compiled or loaded. Any edit to
the package thus recompiles all of it once (a few seconds); an unchanged package loads from
the cache as before.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

_DIGEST_NAME = "slt-features-sources.sha256"


def _sources_digest(package_dir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(package_dir.glob("*.py")):
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def drop_stale_cache(package_dir: Path, dispatcher: Any) -> bool:
    """Delete the package's numba cache files when its sources changed; True if it did.

    `dispatcher` is any cached njit function of the package (it tells where numba keeps the
    cache: beside the sources, or in a user-wide folder). Best effort: when the cache folder
    cannot be found or written, numba's own behaviour is left unchanged.
    """
    try:
        cache_dir = Path(dispatcher._cache._cache_path)
    except AttributeError:
        return False
    digest = _sources_digest(package_dir)
    marker = cache_dir / _DIGEST_NAME
    try:
        if marker.read_text().strip() == digest:
            return False
    except OSError:
        pass
    modules = {p.stem for p in package_dir.glob("*.py")}
    try:
        for f in cache_dir.iterdir():
            if f.suffix in (".nbi", ".nbc") and f.name.split(".", 1)[0] in modules:
                f.unlink(missing_ok=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".digest-")
        with os.fdopen(fd, "w") as out:
            out.write(digest + "\n")
        os.replace(tmp, marker)
    except OSError:
        return False
    return True
