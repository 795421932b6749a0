"""`as_float` is `float` for Decimals, remembered: the same float for every value and spelling."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from slt.domain.numbers import as_float


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_as_float_equals_float(value: Decimal) -> None:
    for _ in range(2):  # computed, then remembered
        got, want = as_float(value), float(value)
        assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def test_equal_values_written_differently_and_signed_zeros() -> None:
    assert as_float(Decimal("0.10")) == as_float(Decimal("0.1")) == 0.1
    assert math.copysign(1.0, as_float(Decimal("-0"))) == -1.0
    assert math.copysign(1.0, as_float(Decimal("0"))) == 1.0
    assert math.copysign(1.0, as_float(Decimal("-0"))) == -1.0
