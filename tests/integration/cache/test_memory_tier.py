"""L1's rule, for any sequence of writes, reads and clock moves: never more than
`max_entries` entries, an entry is served only before its expiry, and the bound evicts the
least recently used entry. Checked against a plain reference model with an injected clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.storage.cache_l1 import MemoryTier

from .conftest import T0, FakeClock

KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), KEYS, st.integers(0, 1000), st.none() | st.integers(1, 5_000)),
        st.tuples(st.just("get"), KEYS, st.just(0), st.none()),
        st.tuples(st.just("pop"), KEYS, st.just(0), st.none()),
        st.tuples(st.just("wait"), KEYS, st.integers(0, 6_000), st.none()),
    ),
    max_size=80,
)


class Model:
    """The rule written the obvious way: a list in recency order of (key, expiry, value)."""

    def __init__(self, max_entries: int, ttl_ms: int) -> None:
        self.max_entries, self.ttl_ms = max_entries, ttl_ms
        self.items: list[tuple[str, int, int]] = []

    def get(self, key: str, now: int) -> int | None:
        for i, (k, expires, value) in enumerate(self.items):
            if k == key:
                del self.items[i]
                if expires <= now:
                    return None
                self.items.append((k, expires, value))
                return value
        return None

    def put(self, key: str, value: int, ttl: int | None, now: int) -> None:
        self.items = [item for item in self.items if item[0] != key]
        self.items.append((key, now + (ttl or self.ttl_ms), value))
        del self.items[: max(0, len(self.items) - self.max_entries)]

    def pop(self, key: str) -> None:
        self.items = [item for item in self.items if item[0] != key]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3_000), OPS)
def test_l1_matches_the_bounded_ttl_lru_rule(
    max_entries: int, ttl_ms: int, ops: list[tuple[str, str, int, int | None]]
) -> None:
    clock = FakeClock()
    tier: MemoryTier[int] = MemoryTier(max_entries, ttl_ms, clock)
    model = Model(max_entries, ttl_ms)
    for kind, key, number, ttl in ops:
        if kind == "put":
            tier.put(key, number, ttl)
            model.put(key, number, ttl, clock.now)
        elif kind == "get":
            assert tier.get(key) == model.get(key, clock.now)
        elif kind == "pop":
            tier.pop(key)
            model.pop(key)
        else:
            clock.advance(number)
        assert len(tier) <= max_entries


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10_000), st.integers(0, 20_000))
def test_an_entry_lives_exactly_its_ttl(ttl_ms: int, waited_ms: int) -> None:
    clock = FakeClock()
    tier: MemoryTier[str] = MemoryTier(8, ttl_ms, clock)
    tier.put("k", "v")
    clock.advance(waited_ms)
    expected = "v" if waited_ms < ttl_ms else None
    assert tier.peek("k") == expected
    assert ("k" in tier) is (expected is not None)
    assert tier.get("k") == expected


def test_the_bound_evicts_the_least_recently_used_and_counts_it() -> None:
    clock = FakeClock(T0)
    tier: MemoryTier[int] = MemoryTier(2, 1_000, clock)
    tier.put("a", 1)
    tier.put("b", 2)
    assert tier.get("a") == 1  # "b" is now the least recently used
    tier.put("c", 3)
    assert (tier.get("a"), tier.get("b"), tier.get("c")) == (1, None, 3)
    assert tier.evictions == 1
    clock.advance(1_000)
    tier.put("d", 4)  # pushes out an already expired entry: not an eviction
    assert tier.evictions == 1


def test_a_zero_ttl_write_removes_and_bad_sizes_are_refused() -> None:
    tier: MemoryTier[int] = MemoryTier(2, 1_000, FakeClock())
    tier.put("a", 1)
    tier.put("a", 2, ttl_ms=0)
    assert tier.get("a") is None and len(tier) == 0
    with pytest.raises(ValueError, match="max_entries"):
        MemoryTier(0, 1_000)
    with pytest.raises(ValueError, match="ttl_ms"):
        MemoryTier(1, 0)
