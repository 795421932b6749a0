"""Helpers that write small kline files for the parser tests."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

MIN = 60_000

RowFn = Callable[..., str]


def simple_row(
    t: int, o: float = 10.0, h: float = 11.0, lo: float = 9.0, c: float = 10.5, v: float = 100.0
) -> str:
    """One line of the 6-column layout; floats written with repr so they parse back exactly."""
    return f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}"


def binance_row(
    t: int, o: float = 10.0, h: float = 11.0, lo: float = 9.0, c: float = 10.5, v: float = 100.0
) -> str:
    """One line of Binance's 12-column dump layout (µs open times get a µs close time)."""
    close_time = t + MIN - 1 if t < 10**14 else t + MIN * 1000 - 1
    return f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r},{close_time},1050.0,42,50.0,525.0,0"


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """write_file(name, lines, gz=False): write *lines* under tmp_path and return the path."""

    def write(name: str, lines: Sequence[str], *, gz: bool = False) -> Path:
        path = tmp_path / name
        data = ("\n".join(lines) + "\n").encode()
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


@pytest.fixture
def srow() -> RowFn:
    """Builder of one simple-layout line: srow(open_time, o, h, l, c, v)."""
    return simple_row


@pytest.fixture
def brow() -> RowFn:
    """Builder of one Binance 12-column line: brow(open_time, o, h, l, c, v)."""
    return binance_row
