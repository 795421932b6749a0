"""Leverage brackets: one row of `GET /fapi/v1/leverageBracket`, and finding the row for a notional.

A bracket decides two things that hurt when wrong: the highest leverage allowed while the position
notional is inside it, and the maintenance margin (notional × MMR − cum) that sets the liquidation
price. `cum` is what keeps maintenance margin continuous where one bracket hands over to the next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slt.rules.numbers import to_decimal, to_int


@dataclass(frozen=True, slots=True)
class Bracket:
    """One notional tier: [notional_floor, notional_cap), its leverage cap, MMR and cum."""

    bracket: int
    notional_floor: Decimal
    notional_cap: Decimal
    max_leverage: int
    maint_margin_ratio: Decimal
    cum: Decimal

    def __post_init__(self) -> None:
        if self.bracket < 1:
            raise ValueError(f"bracket number must be >= 1, got {self.bracket}")
        if self.notional_floor < 0 or self.notional_cap <= self.notional_floor:
            raise ValueError(
                f"bracket {self.bracket}: need 0 <= notional_floor < notional_cap, "
                f"got {self.notional_floor} .. {self.notional_cap}"
            )
        if self.max_leverage < 1:
            raise ValueError(f"bracket {self.bracket}: max_leverage must be >= 1")
        if not 0 <= self.maint_margin_ratio < 1:
            raise ValueError(
                f"bracket {self.bracket}: maint_margin_ratio must be a fraction in [0, 1), "
                f"got {self.maint_margin_ratio}"
            )

    def contains(self, notional: Decimal) -> bool:
        """floor <= notional < cap (the cap itself belongs to the next bracket)."""
        return self.notional_floor <= notional < self.notional_cap


def parse_bracket(raw: Mapping[str, Any], where: str = "bracket") -> Bracket:
    """Build a Bracket from one raw Binance bracket dict.

    Binance sends numbers; cached copies (ccxt, freqtrade) send the same values as strings. Both
    are accepted, floats through their shortest repr so 0.0065 stays 0.0065.
    """
    return Bracket(
        bracket=to_int(raw["bracket"], f"{where}.bracket"),
        notional_floor=to_decimal(raw["notionalFloor"], f"{where}.notionalFloor"),
        notional_cap=to_decimal(raw["notionalCap"], f"{where}.notionalCap"),
        max_leverage=to_int(raw["initialLeverage"], f"{where}.initialLeverage"),
        maint_margin_ratio=to_decimal(raw["maintMarginRatio"], f"{where}.maintMarginRatio"),
        cum=to_decimal(raw["cum"], f"{where}.cum"),
    )


def parse_brackets(raw: Sequence[Mapping[str, Any]], symbol: str) -> tuple[Bracket, ...]:
    """Parse and order a symbol's raw brackets, then check they tile [0, ∞) without gaps."""
    brackets = tuple(
        sorted(
            (parse_bracket(item, f"{symbol} bracket #{i}") for i, item in enumerate(raw)),
            key=lambda b: b.bracket,
        )
    )
    validate_brackets(brackets, symbol)
    return brackets


def validate_brackets(brackets: Sequence[Bracket], symbol: str) -> None:
    """Refuse brackets that leave a notional without a tier: liquidation math on them is guesswork.

    Requires bracket numbers 1..n in order, the first floor at 0, each floor equal to the previous
    cap, and leverage never rising with notional. `cum` is taken as the exchange gives it.
    """
    if not brackets:
        raise ValueError(f"{symbol}: no leverage brackets")
    if brackets[0].notional_floor != 0:
        raise ValueError(f"{symbol}: the first bracket must start at notional 0")
    for index, current in enumerate(brackets):
        if current.bracket != index + 1:
            numbers = [b.bracket for b in brackets]
            raise ValueError(f"{symbol}: bracket numbers must be 1..n, got {numbers}")
        if index == 0:
            continue
        previous = brackets[index - 1]
        if current.notional_floor != previous.notional_cap:
            raise ValueError(
                f"{symbol}: bracket {current.bracket} starts at {current.notional_floor} "
                f"but bracket {previous.bracket} ends at {previous.notional_cap}"
            )
        if current.max_leverage > previous.max_leverage:
            raise ValueError(
                f"{symbol}: bracket {current.bracket} allows more leverage than bracket "
                f"{previous.bracket}"
            )


def find_bracket(brackets: Sequence[Bracket], notional: Decimal) -> Bracket:
    """The bracket containing |notional|; beyond the last cap the last bracket still applies.

    The sign is ignored because a short's notional is often carried negative, and Binance looks
    brackets up by the absolute size.
    """
    size = abs(notional)
    for candidate in brackets:
        if candidate.contains(size):
            return candidate
    return brackets[-1]
