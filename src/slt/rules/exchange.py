"""ExchangeRules: the set of symbols we may trade, and how to build it from raw replies.

Only USDT-margined perpetual contracts that have both filters and leverage brackets are kept. A
symbol without brackets is left out rather than given an empty tuple, because every sizing and
liquidation decision needs its brackets; the reason it was left out is kept and shown when
someone asks for it, so "unknown symbol" never has to be a mystery.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from slt.rules.brackets import parse_brackets
from slt.rules.parsing import parse_symbol_rules
from slt.rules.symbol import SymbolRules


class UnknownSymbolError(KeyError):
    """A symbol the loaded exchange rules do not cover; the message says why and what to do."""

    def __init__(self, symbol: str, message: str, known: tuple[str, ...]) -> None:
        super().__init__(message)
        self.symbol = symbol
        self.message = message
        self.known = known

    def __str__(self) -> str:
        # KeyError would print the repr of the message (quoted); we want the sentence itself.
        return self.message


@dataclass(frozen=True, slots=True)
class ExchangeRules:
    """Symbol rules by Binance symbol name, plus why excluded symbols were excluded."""

    symbols: Mapping[str, SymbolRules]
    skipped: Mapping[str, str] = field(default_factory=dict)
    source: str = "exchangeInfo"

    def __post_init__(self) -> None:
        # Read-only views, so a shared (cached) instance cannot be changed behind other users.
        object.__setattr__(self, "symbols", MappingProxyType(dict(self.symbols)))
        object.__setattr__(self, "skipped", MappingProxyType(dict(self.skipped)))

    def get(self, symbol: str) -> SymbolRules:
        """Rules of `symbol`; raises UnknownSymbolError explaining the miss."""
        try:
            return self.symbols[symbol]
        except KeyError:
            raise self._unknown(symbol) from None

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.symbols

    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.symbols))

    def _unknown(self, symbol: str) -> UnknownSymbolError:
        known = tuple(sorted(self.symbols))
        parts = [f"unknown symbol {symbol!r}:"]
        if symbol in self.skipped:
            parts.append(f"it is in the {self.source} but {self.skipped[symbol]}.")
        else:
            parts.append(f"not among the {len(known)} symbols of the {self.source}.")
        suggestion = _suggest(symbol, known)
        if suggestion:
            parts.append(f"Did you mean {' or '.join(repr(s) for s in suggestion)}?")
        parts.append(
            "Use Binance's symbol name (upper case, base and quote joined, e.g. 'BTCUSDT'); "
            "a symbol listed after these rules were captured needs rules loaded from live "
            "exchangeInfo and leverageBracket replies with slt.rules.load_exchange_rules()."
        )
        if known:
            sample = ", ".join(known[:8])
            parts.append(f"Known symbols include {sample}, ...")
        return UnknownSymbolError(symbol, " ".join(parts), known)


def _suggest(symbol: str, known: Sequence[str]) -> list[str]:
    """Likely intended names: the same name without separators or case, else close spellings."""
    cleaned = symbol.upper().replace("/", "").replace("-", "").replace("_", "")
    cleaned = cleaned.split(":", 1)[0]
    if cleaned in known and cleaned != symbol:
        return [cleaned]
    return difflib.get_close_matches(cleaned, known, n=3, cutoff=0.8)


def load_exchange_rules(
    exchange_info: Mapping[str, Any],
    leverage_brackets: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    quote_asset: str = "USDT",
    source: str = "exchangeInfo",
) -> ExchangeRules:
    """Build ExchangeRules from a raw `exchangeInfo` reply and raw brackets keyed by symbol.

    `leverage_brackets` maps a Binance symbol to its list of raw bracket dicts (see
    `brackets_from_binance_reply` / `brackets_from_ccxt_tiers` for the usual sources). Kept:
    contractType PERPETUAL with quote and margin asset `quote_asset`, with brackets. Any status is
    kept (check `SymbolRules.is_trading`). A malformed entry raises ValueError naming the symbol:
    trading on half-parsed rules is worse than not starting.
    """
    symbols: dict[str, SymbolRules] = {}
    skipped: dict[str, str] = {}
    for raw in exchange_info.get("symbols", ()):
        name = str(raw.get("symbol", ""))
        contract = raw.get("contractType") or "no contract type"
        if contract != "PERPETUAL":
            skipped[name] = f"is not a perpetual ({contract})"
            continue
        if raw.get("quoteAsset") != quote_asset or raw.get("marginAsset") != quote_asset:
            skipped[name] = (
                f"is quoted in {raw.get('quoteAsset')} and margined in {raw.get('marginAsset')}, "
                f"not {quote_asset}"
            )
            continue
        raw_brackets = leverage_brackets.get(name)
        if not raw_brackets:
            skipped[name] = "has no leverage brackets in the bracket data"
            continue
        symbols[name] = parse_symbol_rules(raw, parse_brackets(raw_brackets, name))
    return ExchangeRules(symbols=symbols, skipped=skipped, source=source)
