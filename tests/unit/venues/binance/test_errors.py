"""Every failure maps to what the caller should do: fix config, retry later, give up on a
rejected order, or look the order up before doing anything else."""

from __future__ import annotations

import ccxt
import pytest

from slt.venues.binance.errors import (
    OrderRejected,
    OrderStateUnknown,
    RateLimited,
    VenueConfigError,
    VenueTemporaryError,
    binance_code,
    classify,
)


def body(code: int, msg: str = "x") -> str:
    return f'binanceusdm {{"code":{code},"msg":"{msg}"}}'


@pytest.mark.parametrize(
    ("exc", "places", "kind", "code"),
    [
        (ccxt.InsufficientFunds(body(-2019)), True, OrderRejected, -2019),
        (ccxt.InvalidOrder(body(-4164)), True, OrderRejected, -4164),
        (ccxt.ExchangeError(body(-2022)), True, OrderRejected, -2022),
        (ccxt.AuthenticationError(body(-2015)), False, VenueConfigError, -2015),
        (ccxt.ExchangeError(body(-1022)), True, VenueConfigError, -1022),
        (ccxt.InvalidNonce(body(-1021)), False, VenueTemporaryError, -1021),
        (ccxt.RateLimitExceeded(body(-1003)), False, RateLimited, -1003),
        (ccxt.DDoSProtection(body(-1003)), True, RateLimited, -1003),
        (ccxt.RequestTimeout("binanceusdm POST timed out"), True, OrderStateUnknown, None),
        (ccxt.RequestTimeout("binanceusdm GET timed out"), False, VenueTemporaryError, None),
        (ccxt.NetworkError("connection reset"), True, OrderStateUnknown, None),
        (ccxt.NetworkError("connection reset"), False, VenueTemporaryError, None),
        (ccxt.ExchangeNotAvailable("503 Service Unavailable."), True, VenueTemporaryError, None),
        (
            ccxt.ExchangeNotAvailable("Unknown error, please check your request"),
            True,
            OrderStateUnknown,
            None,
        ),
    ],
)
def test_classification(exc: Exception, places: bool, kind: type, code: int | None) -> None:
    error = classify(exc, places_order=places)
    assert type(error) is kind
    assert error.code == code


def test_a_rate_limit_keeps_the_servers_retry_after() -> None:
    error = classify(ccxt.DDoSProtection(body(-1003)), places_order=False, retry_after_s=120)
    assert isinstance(error, RateLimited) and error.retry_after_s == 120
    by_status = classify(ccxt.ExchangeError("banned"), places_order=False, http_status=418)
    assert isinstance(by_status, RateLimited)


def test_binance_code_is_read_from_the_body() -> None:
    assert binance_code(body(-4116, "clientOrderId is duplicated")) == -4116
    assert binance_code("no json here") is None
