"""What a child process needs to know to run: one frozen, picklable value per run.

The Orchestrator builds a `RunSpec` once (settings, the venue's addresses, the symbol list
discovered at start, the names of the shared-memory blocks) and hands the same value to every
Feed and Brain it starts, including restarts, so a restarted process runs exactly as the
first one did. Secrets travel inside it to the child over the spawn pipe, never through the
command line or the log (`repr` hides them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from slt.config import Settings
from slt.venues.binance.urls import VenueUrls

VenueKind = Literal["local", "testnet", "live"]


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """Where orders and market data go. `speed` is market time per wall time: 1 on Binance,
    the replay speed on the local exchange (so 60 s of market time may pass in one second)."""

    kind: VenueKind
    urls: VenueUrls
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    speed: float = 1.0


@dataclass(frozen=True, slots=True)
class RunSpec:
    settings: Settings
    venue: VenueSpec
    symbols: tuple[str, ...]
    interval: str
    ring_name: str
    ring_capacity: int
    heartbeat_name: str
    log_level: str = "INFO"
    log_json: bool = False
    beat_interval_s: float = 1.0
    """How often each child stamps the heartbeat board."""
    run_id: str = ""
    """Set for a run whose venue starts fresh each time (the offline local exchange): the
    Brain's saved state is kept per run, so a new run never inherits an old run's orders."""
    session_id: str = ""
    """One `slt run` invocation: the ledger's run id in the database (restarted processes of
    the invocation share it). Empty: the run id, or the venue kind when that is empty too."""

    flatten: bool = False
    """On shutdown the Brain closes every open position and waits for the fills."""

    @property
    def ledger_run_id(self) -> str:
        return self.session_id or self.run_id or self.venue.kind

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir
