"""Which symbols a live run follows: the configured list, or the most traded USDT perpetuals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slt.rules import ExchangeRules


class SymbolChoiceError(Exception):
    """The configured symbols cannot be traded; the message names them and the fix."""


def top_symbols(
    exchange_info: Mapping[str, Any],
    tickers: Sequence[Mapping[str, Any]],
    rules: ExchangeRules,
    limit: int,
) -> tuple[str, ...]:
    """The `limit` USDT-margined perpetuals in TRADING status with the largest 24 h quote
    volume (ties by name, so the choice is reproducible), among those the rules know. A
    symbol that did not trade in the last 24 h (no ticker, or zero volume) is not a market."""
    trading = {
        str(s["symbol"])
        for s in exchange_info.get("symbols", ())
        if s.get("contractType") == "PERPETUAL"
        and s.get("status") == "TRADING"
        and s.get("quoteAsset") == "USDT"
        and s.get("marginAsset") == "USDT"
        and str(s["symbol"]) in rules
    }
    volume = {str(t["symbol"]): float(t.get("quoteVolume") or 0) for t in tickers}
    ranked = sorted((s for s in trading if volume.get(s, 0.0) > 0), key=lambda s: (-volume[s], s))
    return tuple(ranked[:limit])


def checked_symbols(
    wanted: Sequence[str], exchange_info: Mapping[str, Any], rules: ExchangeRules
) -> tuple[str, ...]:
    """The configured symbols, each verified to be a trading USDT perpetual."""
    status = {str(s["symbol"]): s.get("status") for s in exchange_info.get("symbols", ())}
    bad = [s for s in wanted if s not in rules or status.get(s) != "TRADING"]
    if bad:
        raise SymbolChoiceError(
            f"cannot trade {', '.join(bad)}: not a trading USDT perpetual on this venue; fix "
            "live.symbols (SLT_LIVE__SYMBOLS) or leave it empty to take the most traded"
        )
    return tuple(dict.fromkeys(wanted))
