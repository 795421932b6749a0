"""The project's own Binance USDⓈ-M client: market-data WebSocket streams (`ws`)."""

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
