"""Where the venue lives: production, testnet, or the local exchange on loopback.

Four bases per venue (binance-usdm-protocol.md §1): REST, the routed market and public
WebSocket bases (klines and mark prices on `/market`, book tickers on `/public`) and the
private base for the user-data stream.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VenueUrls:
    rest: str
    ws_market: str
    ws_public: str
    ws_private: str

    def ccxt_api(self) -> dict[str, str]:
        """The `urls['api']` entries of ccxt's binanceusdm that this venue replaces."""
        out = {}
        for version in ("", "V2", "V3"):
            number = version[1:] if version else "1"
            out[f"fapiPublic{version}"] = f"{self.rest}/fapi/v{number}"
            out[f"fapiPrivate{version}"] = f"{self.rest}/fapi/v{number}"
        out["fapiData"] = f"{self.rest}/futures/data"
        return out


PRODUCTION = VenueUrls(
    "https://fapi.binance.com",
    "wss://fstream.binance.com/market",
    "wss://fstream.binance.com/public",
    "wss://fstream.binance.com/private",
)
TESTNET = VenueUrls(
    "https://demo-fapi.binance.com",
    "wss://fstream.binancefuture.com/market",
    "wss://fstream.binancefuture.com/public",
    "wss://fstream.binancefuture.com/private",
)


def local(port: int, host: str = "127.0.0.1") -> VenueUrls:
    """The local exchange (`slt exchange serve`), REST and WebSocket on one port."""
    return VenueUrls(
        f"http://{host}:{port}",
        f"ws://{host}:{port}/market",
        f"ws://{host}:{port}/public",
        f"ws://{host}:{port}/private",
    )
