"""A local exchange that speaks Binance USDⓈ-M's REST and WebSocket protocol on loopback.

It replays stored candles on a `ReplayClock`, matches orders with the same `slt.rules` the
backtest uses, and answers with Binance's JSON shapes, error codes, weights and headers, so
the live stack (and any Binance client, ccxt included) runs end to end with no internet.
"""
