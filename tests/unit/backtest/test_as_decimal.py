"""`as_decimal` is `Decimal(repr(x))`, remembered: the same digits and exponent every time."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from slt.domain.numbers import as_decimal


@given(st.one_of(st.floats(), st.integers(-(10**6), 10**6)))
def test_as_decimal_is_the_repr_of_the_number(value: float) -> None:
    for _ in range(2):  # computed, then remembered
        got, want = as_decimal(value), Decimal(repr(value))
        assert str(got) == str(want)


def test_signed_zeros_and_ints_keep_their_own_spelling() -> None:
    assert str(as_decimal(5.0)) == "5.0"
    assert str(as_decimal(5)) == "5"  # equal to 5.0 as a key, but written differently
    assert str(as_decimal(5.0)) == "5.0"
    assert str(as_decimal(0.0)) == "0.0"
    assert str(as_decimal(-0.0)) == "-0.0"
    assert str(as_decimal(0.0)) == "0.0"
