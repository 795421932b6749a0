"""Counters of the cache tiers and the hit rates the Brain's heartbeat shows.

Counts only go up; a heartbeat that wants "the rate since the last beat" subtracts two
snapshots (`now - before`) and asks the difference for its `rates()`, so a Redis outage
shows as a drop straight away instead of being diluted by hours of history.
"""

from __future__ import annotations

import msgspec


class CacheCounts(msgspec.Struct, frozen=True):
    """A snapshot of the counters (or the difference of two).

    gets: calls to `get`. l1_hits: answered from memory. l2_hits / l2_misses: Redis was asked
    and had / lacked the key. l2_skipped: Redis was not asked (down, or its copy of the key
    may be stale after an outage). l3_loads: calls to a loader (the store or the exchange);
    l3_shared: gets that waited on a load already running for the same key instead of
    starting another; l3_empty: loads that found nothing. l2_write_failures: writes or
    deletes that did not reach Redis.
    """

    gets: int = 0
    l1_hits: int = 0
    l2_hits: int = 0
    l2_misses: int = 0
    l2_skipped: int = 0
    l3_loads: int = 0
    l3_shared: int = 0
    l3_empty: int = 0
    l2_write_failures: int = 0

    @property
    def l1_misses(self) -> int:
        return self.gets - self.l1_hits

    def __sub__(self, other: CacheCounts) -> CacheCounts:
        return CacheCounts(
            **{f: getattr(self, f) - getattr(other, f) for f in self.__struct_fields__}
        )

    def __add__(self, other: CacheCounts) -> CacheCounts:
        return CacheCounts(
            **{f: getattr(self, f) + getattr(other, f) for f in self.__struct_fields__}
        )

    def rates(self) -> dict[str, float]:
        """Hit rates as fractions: `l1` of all gets, `l2` of the gets L1 missed (a skipped
        Redis counts as a miss, so an outage pulls it down), `overall` = answered without
        going to the source. A rate with nothing to measure yet is 0.0.
        """
        return {
            "l1": _ratio(self.l1_hits, self.gets),
            "l2": _ratio(self.l2_hits, self.l1_misses),
            "overall": _ratio(self.l1_hits + self.l2_hits, self.gets),
        }


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


class CacheStats:
    """The live, mutable counters (fields as in `CacheCounts`); several caches may share one."""

    __slots__ = CacheCounts.__struct_fields__

    def __init__(self) -> None:
        self.gets = 0
        self.l1_hits = 0
        self.l2_hits = 0
        self.l2_misses = 0
        self.l2_skipped = 0
        self.l3_loads = 0
        self.l3_shared = 0
        self.l3_empty = 0
        self.l2_write_failures = 0

    def snapshot(self) -> CacheCounts:
        return CacheCounts(**{name: getattr(self, name) for name in self.__slots__})
