"""Rounding onto the tick/step grid and formatting for requests: exact, directed, idempotent."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.rules import Rounding, bundled_rules, round_to_step
from slt.rules.rounding import decimals_of, format_on_step, is_on_step

# Steps as Binance writes them (trailing zeros included) plus a few non-decimal-power grids.
REAL_STEPS = ["0.10", "0.000010", "0.0000001", "0.001", "1", "0.01", "10", "0.5", "0.25", "5"]
PLAIN = re.compile(r"^-?\d+(\.\d*[1-9])?$")


@st.composite
def steps(draw: st.DrawFn) -> Decimal:
    if draw(st.booleans()):
        return Decimal(draw(st.sampled_from(REAL_STEPS)))
    mantissa = draw(st.sampled_from([1, 2, 5, 25]))
    return Decimal(mantissa).scaleb(draw(st.integers(-9, 3)))


values = st.builds(
    lambda units, exponent: Decimal(units).scaleb(exponent),
    st.integers(0, 10**15),
    st.integers(-12, 4),
)


@settings(max_examples=300)
@given(value=values, step=steps(), rounding=st.sampled_from(list(Rounding)))
def test_rounding_lands_on_the_grid_within_one_step_in_the_right_direction(
    value: Decimal, step: Decimal, rounding: Rounding
) -> None:
    result = round_to_step(value, step, rounding)
    assert is_on_step(result, step)
    assert abs(result - value) < step
    if rounding is Rounding.DOWN:
        assert result <= value
    elif rounding is Rounding.UP:
        assert result >= value
    else:
        assert 2 * abs(result - value) <= step
    assert round_to_step(result, step, rounding) == result
    for other in Rounding:
        assert round_to_step(result, step, other) == result


@settings(max_examples=200)
@given(value=values, step=steps(), rounding=st.sampled_from(list(Rounding)))
def test_formatted_string_is_plain_and_round_trips_exactly(
    value: Decimal, step: Decimal, rounding: Rounding
) -> None:
    result = round_to_step(value, step, rounding)
    text = format_on_step(result, step)
    assert PLAIN.match(text), text
    assert "e" not in text.lower()
    assert Decimal(text) == result
    assert len(text.partition(".")[2]) <= decimals_of(step)


@settings(max_examples=100)
@given(value=values, step=steps())
def test_nearest_is_one_of_down_and_up(value: Decimal, step: Decimal) -> None:
    down = round_to_step(value, step, Rounding.DOWN)
    up = round_to_step(value, step, Rounding.UP)
    assert round_to_step(value, step, Rounding.NEAREST) in (down, up)
    assert up - down in (0, step)


def test_negative_values_round_by_magnitude() -> None:
    step = Decimal("0.1")
    assert round_to_step(Decimal("-1.25"), step, Rounding.DOWN) == Decimal("-1.2")
    assert round_to_step(Decimal("-1.25"), step, Rounding.UP) == Decimal("-1.3")
    assert round_to_step(Decimal("-1.25"), step, Rounding.NEAREST) == Decimal("-1.3")


def test_btcusdt_price_and_quantity_examples() -> None:
    btc = bundled_rules().get("BTCUSDT")
    assert btc.round_price(Decimal("67445.94"), Rounding.DOWN) == Decimal("67445.9")
    assert btc.round_price(Decimal("67445.94"), Rounding.UP) == Decimal("67446.0")
    assert btc.round_price(Decimal("67445.95"), Rounding.NEAREST) == Decimal("67446.0")
    assert btc.format_price(btc.round_price(Decimal("67445.94"), Rounding.DOWN)) == "67445.9"
    assert btc.format_price(Decimal("67446.00")) == "67446"
    assert btc.round_qty(Decimal("0.0129"), Rounding.DOWN) == Decimal("0.012")
    assert btc.round_qty(Decimal("0.0121"), Rounding.UP, market=True) == Decimal("0.013")
    assert btc.format_qty(Decimal("0.012")) == "0.012"


def test_dogeusdt_small_prices_format_without_exponent() -> None:
    doge = bundled_rules().get("DOGEUSDT")
    price = doge.round_price(Decimal("0.1234567"), Rounding.NEAREST)
    assert price == Decimal("0.12346")
    assert doge.format_price(price) == "0.12346"
    assert doge.format_price(Decimal("0.00001")) == "0.00001"
    assert doge.format_price(Decimal("1E-5")) == "0.00001"
    assert doge.round_qty(Decimal("152.9"), Rounding.DOWN) == Decimal("152")
    assert doge.format_qty(Decimal("1.5E+2")) == "150"


def test_formatting_refuses_off_grid_values_and_floats() -> None:
    btc = bundled_rules().get("BTCUSDT")
    with pytest.raises(ValueError, match="not a multiple"):
        btc.format_price(Decimal("67445.95"))
    with pytest.raises(ValueError, match="not a multiple"):
        btc.format_qty(Decimal("0.0125"))
    with pytest.raises(TypeError, match="Decimal"):
        btc.format_price(67445.9)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Decimal"):
        btc.round_price(67445.9, Rounding.DOWN)  # type: ignore[arg-type]


def test_invalid_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        round_to_step(Decimal(1), Decimal(0), Rounding.DOWN)
    with pytest.raises(ValueError, match="finite"):
        round_to_step(Decimal("NaN"), Decimal("0.1"), Rounding.DOWN)


@pytest.mark.parametrize(
    ("step", "decimals"),
    [("0.10", 1), ("0.000010", 5), ("1", 0), ("10", 0), ("1E+1", 0), ("0.25", 2)],
)
def test_decimals_of_step(step: str, decimals: int) -> None:
    assert decimals_of(Decimal(step)) == decimals
