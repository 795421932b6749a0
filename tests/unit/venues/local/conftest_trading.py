"""Helpers for the trading-account tests: a stepped replay of hand-built 1m candles against the
real bundled exchange rules, and calls into the trading endpoints' handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from slt.domain import CandleSeries
from slt.rules import ExchangeRules, bundled_rules
from slt.venues.local.account import Account
from slt.venues.local.clock import ReplayClock
from slt.venues.local.errors import ApiError
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.market import MarketReplay
from slt.venues.local.routes_trading import TRADING, build_account

T0 = 1_749_513_600_000  # 2025-06-10 00:00 UTC, a funding time
MIN = 60_000
Row = tuple[float, float, float, float]


def series(symbol: str, rows: Sequence[Row], start: int = T0) -> CandleSeries:
    a = np.asarray(rows, dtype=np.float64)
    ot = start + MIN * np.arange(len(rows), dtype=np.int64)
    return CandleSeries(
        symbol, "1m", ot, a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.full(len(rows), 5.0)
    )


def flat(price: float, n: int) -> list[Row]:
    return [(price, price, price, price)] * n


@dataclass
class Rig:
    ex: LocalExchange
    clock: ReplayClock
    acct: Account

    def at(self, ms: int) -> Account:
        """Move market time to `ms` and replay the account up to it."""
        self.clock.advance_to(ms)
        self.acct.advance(ms)
        return self.acct

    def order(self, **params: object) -> Any:
        return self.acct.place_order(_strs({"symbol": "BTCUSDT", **params}))

    def algo(self, **params: object) -> Any:
        return self.acct.place_algo(
            _strs({"symbol": "BTCUSDT", "algoType": "CONDITIONAL", **params})
        )

    def code(self, fn: str = "order", **params: object) -> int:
        """The Binance code a request is refused with (fails when it is accepted)."""
        try:
            getattr(self, fn)(**params)
        except ApiError as err:
            return err.code
        raise AssertionError(f"accepted: {params}")

    async def call(self, method: str, path: str, **params: object) -> Any:
        handler = {(e.method, e.path): e.handler for e in TRADING}[(method, path)]
        return await handler(self.ex, _strs(params))


def _strs(params: Mapping[str, object]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items()}


def rig(
    candles: Mapping[str, Sequence[Row]],
    *,
    start: int = T0,
    now: int | None = None,
    rules: ExchangeRules | None = None,
    **account: Any,
) -> Rig:
    """An exchange replaying `candles` (1m rows from `start`) at market time `now`
    (default: 30 s into the first candle), with a fresh account."""
    clock = ReplayClock(start + 30_000 if now is None else now, speed=0)
    market = MarketReplay({s: series(s, rows, start) for s, rows in candles.items()}, clock)
    rules = rules or bundled_rules()
    ex = LocalExchange(market, rules, clock)
    ex.account = build_account(market, rules, **account)
    return Rig(ex, clock, ex.account)


def wallet_identity(acct: Account, start: Decimal, events: list[dict[str, Any]]) -> Decimal:
    """Σ realised − Σ fees + Σ funding booked by `events`, to compare with the wallet's change
    since `start`."""
    total = Decimal(0)
    for e in events:
        if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["x"] in ("TRADE", "CALCULATED"):
            total += Decimal(e["o"]["rp"]) - Decimal(e["o"]["n"])
        elif e["e"] == "ACCOUNT_UPDATE" and e["a"]["m"] == "FUNDING_FEE":
            total += Decimal(e["a"]["B"][0]["bc"])
    return total
