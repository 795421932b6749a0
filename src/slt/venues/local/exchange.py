"""The local exchange's state in one place: what every handler and stream reads and changes.

`LocalExchange` holds the replayed market, the exchange rules, the API keys it accepts, the
trading account, the request log and limiters, the user-data streams and the fault switches.
It is built once by `build_exchange` and passed to every handler (`endpoints.Handler`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slt.rules import ExchangeRules
from slt.venues.local.clock import ReplayClock
from slt.venues.local.market import MarketReplay

DEFAULT_API_KEY = "slt-local-key"
DEFAULT_API_SECRET = "slt-local-secret"


@dataclass
class LocalExchange:
    market: MarketReplay
    rules: ExchangeRules
    clock: ReplayClock
    api_keys: dict[str, str] = field(default_factory=lambda: {DEFAULT_API_KEY: DEFAULT_API_SECRET})
    """API key → secret. Keys and secrets are case-sensitive, as on Binance."""
    account: Any = None
    """The trading account (`slt.venues.local.account`), set by `build_exchange`."""
    limits: Any = None
    """Request-weight and order-count limiters with the request log (`slt.venues.local.limits`)."""
    user_streams: Any = None
    """listenKeys and their event queues (`slt.venues.local.userstream`)."""
    streams: Any = None
    """The market-stream hub (`slt.venues.local.streams`)."""
    faults: Any = None
    """Fault injection switches for tests (`slt.venues.local.faults`)."""
