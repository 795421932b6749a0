"""Trading fees and funding: Binance's examples, 8-decimal quantization, settlement schedule."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.rules import (
    DEFAULT_MAKER_RATE,
    DEFAULT_TAKER_RATE,
    funding_payment,
    funding_times,
    trading_fee,
)

D = Decimal
HOUR = 3_600_000


def utc_ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def test_fee_faq_examples() -> None:
    # market buy 1 BTC at 10,104 (taker 0.05 %), limit sell at 11,104 (maker 0.02 %)
    assert trading_fee(D("10104"), DEFAULT_TAKER_RATE) == D("5.052")
    assert trading_fee(D("11104"), DEFAULT_MAKER_RATE) == D("2.2208")


def test_fee_matches_a_recorded_fill() -> None:
    # Nov-2023 fill: quoteQty 365.67100 at 0.04 % -> commission "0.14626840"
    fee = trading_fee(D("365.67100"), D("0.0004"))
    assert str(fee) == "0.14626840"


def test_fee_is_quantized_half_up_to_eight_decimals() -> None:
    assert trading_fee(D("0.25"), D("0.0000001")) == D("0.00000003")  # 0.000000025 -> up
    assert trading_fee(D("0.24"), D("0.0000001")) == D("0.00000002")
    assert trading_fee(D("-100"), D("0.0005")) == D("0.05")  # sign of the notional is ignored
    assert trading_fee(D("100"), D("-0.0001")) == D("-0.01")  # a maker rebate is a credit


@settings(max_examples=100)
@given(
    notional=st.integers(0, 10**12).map(lambda n: D(n) / 1000),
    rate=st.integers(-300, 1000).map(lambda n: D(n) / 10**6),
)
def test_fee_is_within_half_a_unit_of_the_exact_product(notional: Decimal, rate: Decimal) -> None:
    fee = trading_fee(notional, rate)
    assert fee.as_tuple().exponent == -8
    assert abs(fee - notional * rate) <= D("0.000000005")


def test_funding_times_over_one_day() -> None:
    day = utc_ms(2024, 10, 21)
    times = funding_times(day, day + 24 * HOUR)
    assert times == [day + 8 * HOUR, day + 16 * HOUR, day + 24 * HOUR]  # start excluded, end in
    assert funding_times(day - 1, day) == [day]
    assert funding_times(day, day + 8 * HOUR - 1) == []


def test_funding_after_the_capture_time_is_next_midnight() -> None:
    captured = 1729454406890  # 2024-10-20 20:00 UTC
    assert funding_times(captured, captured + 8 * HOUR)[0] == utc_ms(2024, 10, 21)


def test_other_funding_intervals() -> None:
    day = utc_ms(2024, 1, 1)
    four_hourly = funding_times(day, day + 24 * HOUR, interval_hours=4)
    assert [(t - day) // HOUR for t in four_hourly] == [4, 8, 12, 16, 20, 24]
    assert len(funding_times(day, day + 24 * HOUR, interval_hours=1)) == 24
    assert funding_times(day, day - 5) == []
    for bad in (0, 5, 7, -8):
        with pytest.raises(ValueError, match="divide 24"):
            funding_times(day, day + HOUR, interval_hours=bad)


@settings(max_examples=100)
@given(
    start=st.integers(1_500_000_000_000, 1_900_000_000_000),
    length=st.integers(0, 40 * 24 * HOUR),
    interval=st.sampled_from([1, 2, 4, 8]),
)
def test_funding_times_are_aligned_inside_and_complete(
    start: int, length: int, interval: int
) -> None:
    end = start + length
    times = funding_times(start, end, interval)
    period = interval * HOUR
    assert all(t % period == 0 and start < t <= end for t in times)
    assert all(b - a == period for a, b in itertools.pairwise(times))
    assert len(times) == end // period - start // period


def test_funding_payment_direction() -> None:
    rate = D("0.0001")
    assert funding_payment(side=1, quantity=D("1"), mark_price=D("67000"), rate=rate) == D("-6.7")
    assert funding_payment(side=-1, quantity=D("1"), mark_price=D("67000"), rate=rate) == D("6.7")
    assert funding_payment(side=1, quantity=D("2"), mark_price=D("100"), rate=-rate) == D("0.02")
    assert funding_payment(side=-1, quantity=D("-2"), mark_price=D("100"), rate=rate) == D("0.02")


def test_funding_payment_is_quantized_and_never_negative_zero() -> None:
    payment = funding_payment(
        side=1, quantity=D("0.003"), mark_price=D("67445.9"), rate=D("0.00038246")
    )
    assert payment == D("-0.07738608")  # -0.077386076742
    assert payment.as_tuple().exponent == -8
    half = funding_payment(side=1, quantity=D(1), mark_price=D(1), rate=D("0.000000025"))
    assert half == D("-0.00000003")  # an exact half goes away from zero
    zero = funding_payment(side=1, quantity=D("1"), mark_price=D("100"), rate=D(0))
    assert zero == 0 and not zero.is_signed()
    with pytest.raises(ValueError):
        funding_payment(side=0, quantity=D(1), mark_price=D(1), rate=D(0))
