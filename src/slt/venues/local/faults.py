"""Fault switches a test flips at run time to see how a client copes with a misbehaving venue.

REST faults are applied by the server's middleware to calls of known endpoints, after the
call is charged its weight and before its API key and signature are checked:

- `rest_delay_ms`: every call waits this long before being answered (slow venue, timeouts).
- `reject(n, ...)`: the next `n` calls (optionally only to some paths and HTTP methods) get the
  given answer instead of being handled, e.g. `UNKNOWN_503` — the "execution status unknown"
  case a client must resolve by querying the order — or an injected `-1021` to exercise a time
  re-sync.
  With `code=None` the body is the shape fapi sends for its gateway 503s, which carries no
  code: `{"timestamp": <ms>, "path": "/fapi/...", "msg": "..."}`.
- `lose_answers(n, ...)`: the next `n` matching calls ARE handled (an order lands), but the client
  gets `UNKNOWN_503` instead of the answer — the lost reply a client must resolve by looking the
  order up, never by sending a second copy.
- `clock_skew_ms`: added to the exchange's wall time (serverTime and the timestamp check), to
  simulate a client whose clock drifts from the venue's.

The WebSocket switches (`drop_ws_connections`, `stall_streams`, `malformed_frames`) are only
state here; the stream servers read and act on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Rejection:
    """An injected answer: HTTP status, Binance code (None: a gateway body without one), msg."""

    status: int
    code: int | None
    msg: str


UNKNOWN_503 = Rejection(503, None, "Unknown error, please check your request or try again later.")
"""Sent when the request reached the matching engine but no answer came back in time."""
UNAVAILABLE_503 = Rejection(503, None, "Service Unavailable.")
INTERNAL_503 = Rejection(
    503, -1001, "Internal error; unable to process your request. Please try again."
)
TIMESTAMP_1021 = Rejection(400, -1021, "Timestamp for this request is outside of the recvWindow.")


@dataclass
class Faults:
    """Mutable fault state of one exchange (module docstring); all off by default."""

    rest_delay_ms: int = 0
    clock_skew_ms: int = 0
    rejection: Rejection = UNKNOWN_503
    reject_next: int = 0
    """How many of the next matching REST calls get `rejection`."""
    reject_paths: frozenset[str] = frozenset()
    """Only calls to these paths are rejected (and counted); empty = every path."""
    reject_methods: frozenset[str] = frozenset()
    """Only calls with these HTTP methods are rejected (and counted); empty = every method."""
    lost_next: int = 0
    """How many of the next matching REST calls are handled but answered with `UNKNOWN_503`."""
    lost_paths: frozenset[str] = frozenset()
    lost_methods: frozenset[str] = frozenset()
    drop_ws_connections: bool = False
    """Streams: close every open WebSocket connection (and refuse new ones while set)."""
    stall_streams: set[str] = field(default_factory=set)
    """Streams: stream names (e.g. 'btcusdt@kline_1m') that stop sending while listed."""
    malformed_frames: int = 0
    """Streams: how many of the next frames to send malformed (not JSON)."""

    def reject(
        self,
        n: int,
        rejection: Rejection = UNKNOWN_503,
        *,
        paths: Iterable[str] = (),
        methods: Iterable[str] = (),
    ) -> None:
        """Answer the next `n` REST calls (to `paths` with `methods`, or any) with `rejection`."""
        if n < 0:
            raise ValueError(f"cannot reject a negative number of calls ({n})")
        self.rejection = rejection
        self.reject_next = n
        self.reject_paths = frozenset(paths)
        self.reject_methods = frozenset(m.upper() for m in methods)

    def take_rejection(self, path: str, method: str = "") -> Rejection | None:
        """The injected answer for a `method` call to `path`, consuming one, or None to handle
        it."""
        if self.reject_next <= 0 or not _matches(
            path, method, self.reject_paths, self.reject_methods
        ):
            return None
        self.reject_next -= 1
        return self.rejection

    def lose_answers(
        self, n: int, *, paths: Iterable[str] = (), methods: Iterable[str] = ()
    ) -> None:
        """Handle the next `n` REST calls (to `paths` with `methods`, or any) but answer them
        with `UNKNOWN_503`, as when the reply is lost after the matching engine acted."""
        if n < 0:
            raise ValueError(f"cannot lose a negative number of answers ({n})")
        self.lost_next = n
        self.lost_paths = frozenset(paths)
        self.lost_methods = frozenset(m.upper() for m in methods)

    def take_lost_answer(self, path: str, method: str = "") -> bool:
        """Whether the answer to this handled call is to be lost (consuming one)."""
        if self.lost_next <= 0 or not _matches(path, method, self.lost_paths, self.lost_methods):
            return False
        self.lost_next -= 1
        return True

    def clear(self) -> None:
        """Every switch back off."""
        self.rest_delay_ms = 0
        self.clock_skew_ms = 0
        self.reject_next = 0
        self.reject_paths = frozenset()
        self.reject_methods = frozenset()
        self.lost_next = 0
        self.lost_paths = frozenset()
        self.lost_methods = frozenset()
        self.drop_ws_connections = False
        self.stall_streams.clear()
        self.malformed_frames = 0


def _matches(path: str, method: str, paths: frozenset[str], methods: frozenset[str]) -> bool:
    return (not paths or path in paths) and (not methods or method.upper() in methods)
