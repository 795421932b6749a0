"""The Binance USDⓈ-M venue: REST through ccxt under a request-weight governor, market data
over the project's own WebSocket client, and order safety (idempotent client ids, query before
any re-send). Base URLs switch between production, testnet and the local exchange."""
