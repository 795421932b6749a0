"""What the caller should do when the venue says no: the adapter's error tree.

Every failure of a REST call becomes one of four kinds, decided in one place (`classify`) from
the Binance code in the answer, the HTTP status and the kind of transport failure:

* `VenueConfigError`: stop and fix the configuration (API key, permissions, signature);
* `VenueTemporaryError`: retry later with backoff (network, 5xx, clock skew); `RateLimited`
  carries the server's `Retry-After` and is never retried before it;
* `OrderRejected`: the exchange refused the order: do not retry; log its Binance code. The
  state is unchanged;
* `OrderStateUnknown`: a request that places or cancels an order failed after it may have
  reached the exchange (a timeout, a 503 "Unknown error"): never re-send blindly; query by
  client order id and reconcile.
"""

from __future__ import annotations

import re

import ccxt

_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_CONFIG_CODES = frozenset({-2014, -2015, -1022, -2008})
_TEMPORARY_CODES = frozenset({-1000, -1001, -1006, -1007, -1008, -1021, -5028})
_RATE_CODES = frozenset({-1003, -1015})


class VenueError(Exception):
    """Base of the adapter's errors. `code` is Binance's (None when the answer had none)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class VenueConfigError(VenueError):
    """Stop and fix: keys, permissions or signature are wrong."""


class VenueTemporaryError(VenueError):
    """Retry with backoff: the venue or the network failed, not the request."""


class RateLimited(VenueTemporaryError):
    """429/418: wait `retry_after_s` (or back off) before any further call."""

    def __init__(self, message: str, code: int | None, retry_after_s: float | None) -> None:
        super().__init__(message, code)
        self.retry_after_s = retry_after_s


class OrderRejected(VenueError):
    """The exchange refused the order (filters, margin, reduce-only …): do not retry."""


class OrderStateUnknown(VenueError):
    """The request may or may not have taken effect: query by client id, never re-send."""


def binance_code(text: str) -> int | None:
    """The Binance error code inside an error message or body, if any."""
    found = _CODE.search(text)
    return int(found.group(1)) if found else None


def classify(
    exc: BaseException,
    *,
    places_order: bool,
    http_status: int | None = None,
    retry_after_s: float | None = None,
) -> VenueError:
    """The adapter error for a failed call (see the module docstring)."""
    text = str(exc)
    code = binance_code(text)
    if http_status in (418, 429) or code in _RATE_CODES:
        return RateLimited(f"rate limited ({http_status or code}): {text}", code, retry_after_s)
    if code in _CONFIG_CODES or isinstance(exc, ccxt.AuthenticationError):
        return VenueConfigError(
            f"the venue refused the credentials ({text}); check the API key, secret and its "
            "permissions (futures trading enabled, IP whitelist)",
            code,
        )
    unknown_5xx = http_status == 503 or "Unknown error" in text
    if isinstance(exc, ccxt.RequestTimeout) or (places_order and unknown_5xx):
        kind = OrderStateUnknown if places_order else VenueTemporaryError
        return kind(f"no definite answer: {text}", code)
    if isinstance(exc, ccxt.NetworkError) or code in _TEMPORARY_CODES:
        if places_order and not isinstance(exc, ccxt.ExchangeNotAvailable) and code is None:
            return OrderStateUnknown(f"the connection failed mid-request: {text}", code)
        return VenueTemporaryError(f"temporary failure: {text}", code)
    if code is not None:
        return OrderRejected(f"rejected by the venue: {text}", code)
    return VenueTemporaryError(f"unexpected failure: {text}", code)
