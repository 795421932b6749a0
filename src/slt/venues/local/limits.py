"""Rate limits of the local exchange, and the request log every test reads back.

Binance USDⓈ-M limits (binance-usdm-protocol.md §4), all counted in fixed windows aligned to
the wall clock (a 1-minute window starts on the minute, a 10-second one on a multiple of 10 s):

- REQUEST_WEIGHT, 2400 per minute per IP. Every REST call is charged its weight, also calls
  that are then refused; `X-MBX-USED-WEIGHT-1M` reports the window's total on every response.
  The call that takes the total over the limit, and any call after it in the same window, is
  refused: the first one with HTTP 429 and `-1003` ("Too many requests; ..."), with
  `Retry-After` = seconds to the window's end. A client that sends again in that window after
  its 429 is banned: HTTP 418, `-1003` "Way too many requests; IP banned until <ms>. ...", and
  `Retry-After` = seconds until the ban ends. Bans grow with each one the IP earns: the base
  (2 minutes) doubled each time, capped at 3 days. Calls during a ban are refused the same way
  (not charged, not lengthening the ban).
- ORDERS, 300 per 10 seconds and 1200 per minute per account, on order-placing endpoints
  (`Endpoint.orders`); their responses carry `X-MBX-ORDER-COUNT-10S` and `-1M`. Every order
  call counts, refused or not. Over either limit → `-1015` "Too many new orders; current limit
  is 300 orders per 10 SECOND." with HTTP **429**: Binance's Spot docs state a 429 for a broken
  order-count limit, sent without `Retry-After` and never leading to a ban; fapi documents no
  status, so the local exchange follows Spot (no `Retry-After`, no ban).

Whether fapi windows are fixed or rolling is unconfirmed (§13); fixed windows are what Binance
documents for Spot and what `slt.venues.binance`'s governor assumes. All times come from an
injectable wall clock, and `LimitConfig` shrinks the numbers for tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from slt.venues.local.clock import wall_ms
from slt.venues.local.errors import ApiError, api_error

MINUTE_MS = 60_000
TEN_SECONDS_MS = 10_000
DAY_MS = 86_400_000

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
ORDERS_10S_HEADER = "X-MBX-ORDER-COUNT-10S"
ORDERS_1M_HEADER = "X-MBX-ORDER-COUNT-1M"

MSG_BANNED = (
    "Way too many requests; IP banned until %s. Please use the websocket for live updates to "
    "avoid bans."
)


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """The limits; Binance's values by default, smaller in tests."""

    weight_per_minute: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    ban_base_ms: int = 2 * MINUTE_MS
    ban_max_ms: int = 3 * DAY_MS
    log_size: int = 100_000
    """The request log keeps this many latest entries."""


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One REST call as answered: what a test asserts weights and statuses on."""

    wall_ms: int
    ip: str
    method: str
    path: str
    weight: int
    """Request weight charged (0 for unknown paths and calls refused during a ban)."""
    status: int
    code: int | None
    """The Binance error code sent, None on success."""


@dataclass(slots=True)
class _IpState:
    window: int = -1
    used: int = 0
    warned: bool = False
    """A 429 was sent in the current window: the next call in it earns a ban."""
    banned_until: int = 0
    bans: int = 0


@dataclass(slots=True)
class _OrderState:
    window_10s: int = -1
    count_10s: int = 0
    window_1m: int = -1
    count_1m: int = 0


def _retry_after(ms: int) -> dict[str, str]:
    return {"Retry-After": str(max(1, -(-ms // 1000)))}


class Limits:
    """Weight and order-count limiters with the request log; see the module docstring."""

    def __init__(
        self, config: LimitConfig | None = None, *, wall: Callable[[], int] = wall_ms
    ) -> None:
        self.config = config or LimitConfig()
        """Read on every call, so a test may replace it at run time."""
        self.wall = wall
        """The exchange's wall clock in UTC ms: windows, bans, the log, auth and serverTime."""
        self._ips: dict[str, _IpState] = {}
        self._orders: dict[str, _OrderState] = {}
        self.log: deque[LoggedRequest] = deque(maxlen=self.config.log_size)

    # request weight --------------------------------------------------------------------------
    def _ip(self, ip: str, now: int) -> _IpState:
        st = self._ips.setdefault(ip, _IpState())
        window = now - now % MINUTE_MS
        if st.window != window:
            st.window, st.used, st.warned = window, 0, False
        return st

    def used_weight(self, ip: str) -> int:
        """Weight used by `ip` in the current 1-minute window."""
        return self._ip(ip, self.wall()).used

    def charge_weight(self, ip: str, weight: int) -> int:
        """Charge one call; the window's used weight, or `ApiError` 429/418 (module docstring)."""
        now = self.wall()
        st = self._ip(ip, now)
        if st.banned_until > now:
            raise self._banned(st, now)
        if st.warned:
            cfg = self.config
            st.banned_until = now + min(cfg.ban_base_ms * 2**st.bans, cfg.ban_max_ms)
            st.bans += 1
            raise self._banned(st, now)
        st.used += weight
        if st.used > self.config.weight_per_minute:
            st.warned = True
            err = api_error(-1003, self.config.weight_per_minute)
            err.headers.update(_retry_after(st.window + MINUTE_MS - now))
            raise err
        return st.used

    def _banned(self, st: _IpState, now: int) -> ApiError:
        err = api_error(-1003, status=418, msg=MSG_BANNED % st.banned_until)
        err.headers.update(_retry_after(st.banned_until - now))
        return err

    def banned_until(self, ip: str) -> int:
        """End of `ip`'s current ban in wall ms (0 when it was never banned)."""
        st = self._ips.get(ip)
        return st.banned_until if st else 0

    # order counts ----------------------------------------------------------------------------
    def _account(self, account: str, now: int) -> _OrderState:
        st = self._orders.setdefault(account, _OrderState())
        w10, w1m = now - now % TEN_SECONDS_MS, now - now % MINUTE_MS
        if st.window_10s != w10:
            st.window_10s, st.count_10s = w10, 0
        if st.window_1m != w1m:
            st.window_1m, st.count_1m = w1m, 0
        return st

    def order_counts(self, account: str) -> tuple[int, int]:
        """(orders in the current 10 s window, orders in the current minute) of `account`."""
        st = self._account(account, self.wall())
        return st.count_10s, st.count_1m

    def charge_order(self, account: str) -> tuple[int, int]:
        """Count one order call; the new counts, or -1015 (HTTP 429) over either limit."""
        st = self._account(account, self.wall())
        st.count_10s += 1
        st.count_1m += 1
        cfg = self.config
        if st.count_10s > cfg.orders_per_10s:
            raise api_error(-1015, cfg.orders_per_10s, "10 SECOND", status=429)
        if st.count_1m > cfg.orders_per_minute:
            raise api_error(-1015, cfg.orders_per_minute, "1 MINUTE", status=429)
        return st.count_10s, st.count_1m

    def headers(self, ip: str, account: str | None = None) -> dict[str, str]:
        """The usage headers of a response: weight always, order counts when `account`."""
        out = {WEIGHT_HEADER: str(self.used_weight(ip))}
        if account is not None:
            c10, c1m = self.order_counts(account)
            out[ORDERS_10S_HEADER] = str(c10)
            out[ORDERS_1M_HEADER] = str(c1m)
        return out

    # request log -----------------------------------------------------------------------------
    def record(
        self, ip: str, method: str, path: str, weight: int, status: int, code: int | None
    ) -> LoggedRequest:
        entry = LoggedRequest(self.wall(), ip, method, path, weight, status, code)
        self.log.append(entry)
        return entry

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        """Logged calls, oldest first; only those to `path` when given."""
        return [r for r in self.log if path is None or r.path == path]

    def reset(self) -> None:
        """Forget every window, ban and log entry (a fresh exchange for the next test)."""
        self._ips.clear()
        self._orders.clear()
        self.log.clear()
