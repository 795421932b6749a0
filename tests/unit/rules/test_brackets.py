"""Leverage brackets: parsing both JSON shapes, validation, lookup at the edges."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from slt.rules import Bracket, bundled_rules
from slt.rules.brackets import parse_bracket, parse_brackets

# The illustrative BTCUSDT table of the protocol notes (§11.2).
ILLUSTRATIVE = (
    Bracket(1, Decimal(0), Decimal(50_000), 125, Decimal("0.004"), Decimal(0)),
    Bracket(2, Decimal(50_000), Decimal(250_000), 100, Decimal("0.005"), Decimal(50)),
    Bracket(3, Decimal(250_000), Decimal(1_000_000), 50, Decimal("0.01"), Decimal(1_300)),
    Bracket(4, Decimal(1_000_000), Decimal(5_000_000), 20, Decimal("0.025"), Decimal(16_300)),
    Bracket(5, Decimal(5_000_000), Decimal(20_000_000), 10, Decimal("0.05"), Decimal(141_300)),
)
RULES = dataclasses.replace(bundled_rules().get("BTCUSDT"), brackets=ILLUSTRATIVE)


@pytest.mark.parametrize(
    ("notional", "number"),
    [
        ("0", 1),
        ("49999.99", 1),
        ("50000", 2),
        ("264000", 3),
        ("999999.9", 3),
        ("1000000", 4),
        ("19999999", 5),
        ("20000000", 5),  # at and beyond the last cap the last bracket still applies
        ("1E+12", 5),
        ("-60000", 2),  # a signed (short) notional is looked up by size
    ],
)
def test_bracket_for_uses_floor_inclusive_cap_exclusive(notional: str, number: int) -> None:
    assert RULES.bracket_for(Decimal(notional)).bracket == number


def test_max_leverage_follows_the_bracket() -> None:
    assert RULES.highest_leverage == 125
    assert RULES.max_leverage_for(Decimal(49_999)) == 125
    assert RULES.max_leverage_for(Decimal(50_000)) == 100
    assert RULES.max_leverage_for(Decimal(2_000_000)) == 20


def test_raw_bracket_numbers_and_strings_parse_identically() -> None:
    as_numbers = {
        "bracket": 2,
        "initialLeverage": 50,
        "notionalCap": 50000,
        "notionalFloor": 10000,
        "maintMarginRatio": 0.0065,
        "cum": 15.5,
    }
    as_strings = {key: str(value) for key, value in as_numbers.items()}
    assert parse_bracket(as_numbers) == parse_bracket(as_strings)
    assert parse_bracket(as_numbers).maint_margin_ratio == Decimal("0.0065")
    ccxt_style = dict(as_strings, bracket="2.0", initialLeverage="50.0")
    assert parse_bracket(ccxt_style).max_leverage == 50


def _raw(number: int, floor: int, cap: int, leverage: int) -> dict[str, object]:
    return {
        "bracket": number,
        "initialLeverage": leverage,
        "notionalFloor": floor,
        "notionalCap": cap,
        "maintMarginRatio": "0.01",
        "cum": "0",
    }


def test_brackets_are_sorted_by_number() -> None:
    parsed = parse_brackets([_raw(2, 100, 200, 10), _raw(1, 0, 100, 20)], "XUSDT")
    assert [b.bracket for b in parsed] == [1, 2]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "no leverage brackets"),
        ([_raw(1, 5, 100, 20)], "start at notional 0"),
        ([_raw(1, 0, 100, 20), _raw(2, 150, 200, 10)], "starts at 150"),
        ([_raw(1, 0, 100, 20), _raw(3, 100, 200, 10)], "1..n"),
        ([_raw(1, 0, 100, 20), _raw(2, 100, 200, 25)], "more leverage"),
    ],
)
def test_broken_bracket_tables_are_refused(raw: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_brackets(raw, "XUSDT")


@pytest.mark.parametrize(
    "fields",
    [
        {"notional_cap": Decimal(0)},
        {"max_leverage": 0},
        {"maint_margin_ratio": Decimal(1)},
        {"maint_margin_ratio": Decimal("-0.01")},
    ],
)
def test_bracket_rejects_impossible_values(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(ILLUSTRATIVE[0], **fields)  # type: ignore[arg-type]


def test_symbol_rules_refuse_missing_brackets() -> None:
    with pytest.raises(ValueError, match="no leverage brackets"):
        dataclasses.replace(RULES, brackets=())
