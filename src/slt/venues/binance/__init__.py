"""The Binance USDⓈ-M venue: REST through ccxt under a request-weight governor (`rest`,
`governor`), market data over the project's own WebSocket client (`ws`), and order safety
(idempotent client ids, a lookup before any re-send). Base URLs switch between production,
testnet and the local exchange (`urls`)."""

from slt.venues.binance.ws import (
    PRODUCTION_MARKET_URL,
    TESTNET_MARKET_URL,
    Counters,
    MarketStreamClient,
    WsClientConfig,
    local_market_url,
)

__all__ = [
    "PRODUCTION_MARKET_URL",
    "TESTNET_MARKET_URL",
    "Counters",
    "MarketStreamClient",
    "WsClientConfig",
    "local_market_url",
]
