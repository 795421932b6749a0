"""The heartbeat board: each child process stamps its slot in shared memory; the Orchestrator
reads the slots to find a dead or stuck process and to write the periodic status line.

Why shared memory and not a pipe: a stuck process (a blocked event loop, a deadlock) cannot
answer a ping, but its last stamp stays readable, so "stuck" is simply "stamp too old". Each
slot is written by its own process alone; the Orchestrator only reads (and clears a slot
before restarting its process). An aligned int64 store is atomic on the platforms we run on,
so the stamp is never torn; a stat read mid-update is at worst one beat old, which is fine
for a status line.

Stats are a small fixed set of named float64 numbers per role (`STATS`), so the block has a
fixed layout both sides agree on without any serialisation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from slt.runtime.shm import attach_shm

ROLES: tuple[str, ...] = ("feed", "brain")

STATS: dict[str, tuple[str, ...]] = {
    "feed": (
        "symbols_live",
        "candles_published",
        "rejected",
        "malformed",
        "gaps_filled",
        "close_lag_p99_ms",
        "reconnects",
        "ring_overruns",
        "rest_weight_used",
    ),
    "brain": (
        "equity",
        "open_positions",
        "rest_weight_used",
        "ring_depth",
        "candles_processed",
        "orders_sent",
        "fills",
        "last_candle_ms",
        "orders_rejected",
        "latency_p50_ms",
        "latency_p99_ms",
        "cache_l1_hit_rate",
        "cache_l2_hit_rate",
        "cache_hit_rate",
        "close_retries",
        "close_alerts",
    ),
}
"""Each role's named stats. The `cache_*_hit_rate` ones are fractions (0.97 = 97 %), as
`CacheCounts.rates()` gives them: l1 of all gets, l2 of the gets L1 missed, and overall
(answered without going to the source); `slt status` shows them from the stored beat."""
MAX_STATS = 16


class Phase(IntEnum):
    """Where a process is in its life (it writes this itself)."""

    EMPTY = 0
    STARTING = 1
    RUNNING = 2
    STOPPING = 3
    STOPPED = 4


_SLOT = np.dtype(
    [
        ("pid", "<i8"),
        ("started_ms", "<i8"),
        ("beat_ms", "<i8"),
        ("beats", "<i8"),
        ("phase", "<i8"),
        ("stats", "<f8", (MAX_STATS,)),
    ]
)


def wall_ms() -> int:
    """Wall-clock UTC ms (the stamp is compared across processes, so not a monotonic clock)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Beat:
    """One slot as read by the Orchestrator."""

    role: str
    pid: int
    started_ms: int
    beat_ms: int
    beats: int
    phase: Phase
    stats: dict[str, float]

    def age_ms(self, now_ms: int) -> int:
        """How long since the last stamp (since the start when it never beat)."""
        return now_ms - (self.beat_ms or self.started_ms)


class HeartbeatBoard:
    """One view of the board. `create` in the Orchestrator, `attach` in each child."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self.shm = shm
        self.owner = owner
        self._slots: np.ndarray[Any, Any] = np.ndarray((len(ROLES),), dtype=_SLOT, buffer=shm.buf)

    @classmethod
    def create(cls, name: str | None = None) -> HeartbeatBoard:
        shm = shared_memory.SharedMemory(name, create=True, size=_SLOT.itemsize * len(ROLES))
        board = cls(shm, owner=True)
        board._slots[:] = np.zeros(len(ROLES), dtype=_SLOT)
        return board

    @classmethod
    def attach(cls, name: str) -> HeartbeatBoard:
        """The board the Orchestrator created, attached without resource tracking (see
        `slt.runtime.shm`), so a child's exit or death never unlinks it."""
        return cls(attach_shm(name), owner=False)

    @property
    def name(self) -> str:
        return self.shm.name

    @staticmethod
    def _index(role: str) -> int:
        try:
            return ROLES.index(role)
        except ValueError:
            raise ValueError(f"unknown process role {role!r}; expected one of {ROLES}") from None

    # the child's side ------------------------------------------------------------------------
    def start(self, role: str, pid: int, now_ms: int | None = None) -> None:
        """Claim the slot for a (re)started process: fresh counters, phase STARTING."""
        slot = self._slots[self._index(role)]
        slot["stats"] = 0.0
        slot["beats"] = 0
        slot["beat_ms"] = 0
        slot["pid"] = pid
        slot["started_ms"] = wall_ms() if now_ms is None else now_ms
        slot["phase"] = Phase.STARTING

    def beat(
        self,
        role: str,
        now_ms: int | None = None,
        phase: Phase = Phase.RUNNING,
        **stats: float,
    ) -> None:
        """Stamp the slot (and update any of the role's named stats). Unknown stat names are an
        error: a typo would otherwise silently show zero forever."""
        i = self._index(role)
        names = STATS[role]
        slot = self._slots[i]
        for key, value in stats.items():
            try:
                slot["stats"][names.index(key)] = value
            except ValueError:
                raise ValueError(f"{role} has no stat {key!r}; known: {names}") from None
        slot["phase"] = phase
        slot["beats"] += 1
        slot["beat_ms"] = wall_ms() if now_ms is None else now_ms

    def set_phase(self, role: str, phase: Phase) -> None:
        self._slots[self._index(role)]["phase"] = phase

    # the Orchestrator's side -----------------------------------------------------------------
    def read(self, role: str) -> Beat:
        slot = self._slots[self._index(role)].copy()
        names = STATS[role]
        return Beat(
            role,
            int(slot["pid"]),
            int(slot["started_ms"]),
            int(slot["beat_ms"]),
            int(slot["beats"]),
            Phase(int(slot["phase"])),
            {n: float(slot["stats"][k]) for k, n in enumerate(names)},
        )

    def clear(self, role: str) -> None:
        """Forget a dead process's slot before its replacement starts."""
        self._slots[self._index(role)] = np.zeros((), dtype=_SLOT)

    def close(self) -> None:
        del self._slots
        self.shm.close()
        if self.owner:
            self.shm.unlink()
