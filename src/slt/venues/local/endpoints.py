"""How a REST endpoint of the local exchange is declared: path, security type, weight, handler.

Each area of the exchange (public market data, trading, account, user stream) lists its
endpoints as `Endpoint` values; `server.build_app` mounts them all behind one middleware that
merges query and body parameters (query wins), checks the API key and signature the
endpoint's `security` requires, charges its weight, logs the request and turns an `ApiError`
into Binance's JSON error body. A handler therefore only sees checked `Params` and returns
the JSON value to send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slt.venues.local.exchange import LocalExchange


class Security(Enum):
    """Binance's security types (binance-usdm-protocol.md §2.2)."""

    NONE = "NONE"
    MARKET_DATA = "MARKET_DATA"
    USER_STREAM = "USER_STREAM"
    SIGNED = "SIGNED"
    """TRADE and USER_DATA: API key, `timestamp` and `signature`."""

    @property
    def needs_key(self) -> bool:
        return self is not Security.NONE

    @property
    def needs_signature(self) -> bool:
        return self is Security.SIGNED


Params = Mapping[str, str]
"""Request parameters, query and body merged (query wins), `signature` removed."""

Handler = Callable[["LocalExchange", Params], Awaitable[Any]]
"""Answers a checked request with the JSON value to send (raises `ApiError` to refuse)."""

Weight = Callable[[Params], int]
"""Request weight of one call, which may depend on its parameters (e.g. `limit`)."""


def fixed(weight: int) -> Weight:
    return lambda _params: weight


def with_symbol(with_: int, without: int) -> Weight:
    """Weight that depends on whether `symbol` was given (openOrders, ticker/24hr, …)."""
    return lambda params: with_ if params.get("symbol") else without


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    security: Security
    weight: Weight
    handler: Handler
    orders: bool = False
    """Counts against the ORDERS limiters (X-MBX-ORDER-COUNT-10S/-1M)."""
