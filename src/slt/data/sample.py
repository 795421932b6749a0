"""The bundled sample: two weeks of real 1m futures candles for four symbols.

It makes `slt backtest` work on a fresh install with nothing else: the first run finds the
store empty for these symbols and imports the sample; later runs find it there and skip.
Provenance is in `slt/resources/sample/README.md`.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from slt.data.importer import ImportReport, ProgressCallback, import_files
from slt.storage.candles import CandleStore

SAMPLE_SYMBOLS: tuple[str, ...] = ("BTCUSDT", "LTCUSDT", "DOGEUSDT", "ADAUSDT")
SAMPLE_INTERVAL = "1m"
SAMPLE_FIRST_OPEN_MS = 1_749_551_700_000
"""2025-06-10 10:35 UTC, the first open time of every sample file."""
SAMPLE_LAST_OPEN_MS = 1_750_761_060_000
"""2025-06-24 10:31 UTC, the last open time of every sample file."""


def _sample_dir() -> Traversable:
    return resources.files("slt").joinpath("resources", "sample")


def sample_files() -> list[Path]:
    """Paths of the sample CSVs, one per symbol in `SAMPLE_SYMBOLS` order.

    From a normal install these are the package's own files. When the package is imported
    from a zip archive they are first copied to a temporary folder removed at exit.
    """
    folder = _sample_dir()
    names = [f"{s}-{SAMPLE_INTERVAL}.csv.gz" for s in SAMPLE_SYMBOLS]
    if isinstance(folder, Path):
        paths = [folder / n for n in names]
    else:
        target = Path(tempfile.mkdtemp(prefix="slt-sample-"))
        atexit.register(shutil.rmtree, target, True)
        paths = []
        for name in names:
            path = target / name
            path.write_bytes(folder.joinpath(name).read_bytes())
            paths.append(path)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"bundled sample file {missing[0]} is missing; reinstall the package"
        )
    return paths


async def ensure_sample_loaded(
    store: CandleStore, *, progress: ProgressCallback | None = None
) -> ImportReport | None:
    """Import the sample unless the store already holds 1m candles of any sample symbol.

    Returns the import report, or None when nothing was imported. A store that already
    has any of these series is left alone: its owner chose that data, and merging the
    sample into it would add a two-week island to whatever period they imported.
    """
    for symbol in SAMPLE_SYMBOLS:
        if await store.count(symbol, SAMPLE_INTERVAL) > 0:
            return None
    return await import_files(sample_files(), store, progress=progress)
