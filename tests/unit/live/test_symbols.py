"""Which symbols a run follows."""

from __future__ import annotations

import pytest

from slt.rules import bundled_rules
from slt.runtime.symbols import SymbolChoiceError, checked_symbols, top_symbols

RULES = bundled_rules()


def _info(*rows: tuple[str, str, str]) -> dict[str, object]:
    return {
        "symbols": [
            {
                "symbol": s,
                "status": status,
                "contractType": kind,
                "quoteAsset": "USDT",
                "marginAsset": "USDT",
            }
            for s, status, kind in rows
        ]
    }


def test_the_most_traded_trading_perpetuals_with_volume_are_chosen() -> None:
    info = _info(
        ("BTCUSDT", "TRADING", "PERPETUAL"),
        ("ETHUSDT", "TRADING", "PERPETUAL"),
        ("LTCUSDT", "SETTLING", "PERPETUAL"),
        ("ADAUSDT", "TRADING", "PERPETUAL"),
        ("DOGEUSDT", "TRADING", "PERPETUAL"),
        ("NOTAREALUSDT", "TRADING", "PERPETUAL"),
    )
    tickers = [
        {"symbol": "BTCUSDT", "quoteVolume": "900"},
        {"symbol": "ETHUSDT", "quoteVolume": "1200"},
        {"symbol": "LTCUSDT", "quoteVolume": "5000"},
        {"symbol": "ADAUSDT", "quoteVolume": "900"},
        {"symbol": "NOTAREALUSDT", "quoteVolume": "9999"},
    ]
    assert top_symbols(info, tickers, RULES, 3) == ("ETHUSDT", "ADAUSDT", "BTCUSDT")
    assert top_symbols(info, tickers, RULES, 10) == ("ETHUSDT", "ADAUSDT", "BTCUSDT")


def test_configured_symbols_are_checked_by_name() -> None:
    info = _info(("BTCUSDT", "TRADING", "PERPETUAL"), ("LTCUSDT", "SETTLING", "PERPETUAL"))
    assert checked_symbols(["BTCUSDT", "BTCUSDT"], info, RULES) == ("BTCUSDT",)
    with pytest.raises(SymbolChoiceError, match=r"LTCUSDT, XYZUSDT.*SLT_LIVE__SYMBOLS"):
        checked_symbols(["LTCUSDT", "XYZUSDT"], info, RULES)
