"""L1 of the cache tiers: a bounded in-process LRU whose entries each carry their own expiry.

Why bounded *and* timed: the bound keeps a process that watches 300 symbols on several
intervals from growing without limit, and the TTL keeps an entry that nobody refreshes
(a symbol that was delisted, a stream that stalled) from being served as "latest" forever.
Time comes from an injected clock (int UTC ms) so the rule is testable without sleeping.

No I/O and no locks: the Brain and the Feed each own their L1 and use it from one event loop.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

Clock = Callable[[], int]
"""Returns the current time as int UTC milliseconds."""


def wall_ms() -> int:
    """The real clock, int UTC ms (the default everywhere in the cache)."""
    return time.time_ns() // 1_000_000


class MemoryTier(Generic[T]):
    """At most `max_entries` values; each expires `ttl_ms` after it was written (or its own TTL).

    A read of an expired entry is a miss and drops it. Writing a new key when full evicts
    the least recently used one (reads and writes both count as use).
    """

    def __init__(self, max_entries: int, ttl_ms: int, clock: Clock = wall_ms) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be ≥ 1, not {max_entries}")
        if ttl_ms < 1:
            raise ValueError(f"ttl_ms must be ≥ 1, not {ttl_ms}")
        self.max_entries = max_entries
        self.ttl_ms = ttl_ms
        self.clock = clock
        self.evictions = 0
        """Entries pushed out by the bound (not counting expiries)."""
        self._entries: OrderedDict[str, tuple[int, T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """True when *key* holds a live entry (does not count as use, does not refresh)."""
        if not isinstance(key, str):
            return False
        entry = self._entries.get(key)
        return entry is not None and entry[0] > self.clock()

    def get(self, key: str) -> T | None:
        """The live value of *key*, or None (never stored, evicted or expired)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_ms, value = entry
        if expires_ms <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def peek(self, key: str) -> T | None:
        """Like `get` but leaves the recency order alone (used when re-syncing L2)."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def put(self, key: str, value: T, ttl_ms: int | None = None) -> None:
        """Store *value* under *key* for `ttl_ms` (default: the tier's TTL) from now."""
        ttl = self.ttl_ms if ttl_ms is None else ttl_ms
        if ttl < 1:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self.clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._drop_oldest()

    def pop(self, key: str) -> None:
        """Forget *key* (no error when absent)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def _drop_oldest(self) -> None:
        """Evict the least recently used entry (counted as an eviction only if still live)."""
        now = self.clock()
        key, (expires_ms, _) = next(iter(self._entries.items()))
        del self._entries[key]
        if expires_ms > now:
            self.evictions += 1
