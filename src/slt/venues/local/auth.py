"""Request checks of the local exchange: parameters, API key, timestamp window and signature.

Pure functions over the raw request (query string and body exactly as received, the
`X-MBX-APIKEY` header, the server's wall time), so every rule can be tested without a server
and `server.py` only has to collect those four things. The rules follow
binance-usdm-protocol.md §2:

- Parameters come from the query string and, for POST/PUT/DELETE, a form body; a key in both
  takes the query's value. A key repeated inside one part is refused with -1101.
- The signature is HMAC-SHA256 over the raw query (without `signature`) concatenated directly
  with the raw body (without `signature`), no `&` between them (§2.3, §2.6). `signature` must
  be the last parameter of the part that carries it; anywhere else it signs nothing and the
  request is refused with -1022. Hex digits compare case-insensitively.
- Check order: API key (-2014 malformed, -2015 missing/unknown, both HTTP 401), then
  `signature` present (-1102), `timestamp` (-1102), `recvWindow` (-1102 malformed, -1130 out of
  (0, 60000]), the timestamp window (-1021), and last the signature itself (-1022). The timing
  check comes before the HMAC, as on Binance, so a client with a drifting clock learns that
  (-1021) rather than a misleading bad signature.

Timestamps are checked against the wall clock (`clock.wall_ms`, passed in as `server_ms`),
never the replay clock: clients sign with their real time whatever market time is replayed.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from slt.venues.local.endpoints import Security
from slt.venues.local.errors import api_error

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60_000
AHEAD_TOLERANCE_MS = 1000
"""A timestamp may lead the server's clock by less than this (§2.4)."""

MSG_OUTSIDE_WINDOW = "Timestamp for this request is outside of the recvWindow."
MSG_AHEAD = "Timestamp for this request was 1000ms ahead of the server's time."

_KEY_FORMAT = re.compile(r"[A-Za-z0-9_\-]{1,128}")
"""What an API key may look like here. Binance keys are 64 alphanumerics; the local exchange
also accepts `-`/`_` and other lengths (its default key is 'slt-local-key'). Anything else —
an empty header, spaces, non-ASCII — is a malformed key (-2014), not an unknown one."""

_INT = re.compile(r"-?[0-9]{1,20}")

CURRENT_API_KEY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "slt_local_api_key", default=None
)
"""The accepted API key of the request being handled (None on NONE endpoints). Handlers only
receive (exchange, params); the server's middleware sets this around the handler call so the
ones that act for an account (listenKeys, orders) know whose."""


@dataclass(frozen=True, slots=True)
class RawRequest:
    """What the checks need from one HTTP request, as received."""

    method: str
    query: str
    """Raw query string, still percent-encoded (what the client signed)."""
    body: str = ""
    """Raw form body, still percent-encoded; ignored for GET (§2.1)."""
    api_key: str | None = None
    """The `X-MBX-APIKEY` header, None when absent."""


@dataclass(frozen=True, slots=True)
class Checked:
    """A request that passed the checks of its security type."""

    params: dict[str, str]
    """Query and body merged (query wins), `signature` removed."""
    api_key: str | None
    """The accepted API key (None for NONE endpoints)."""


@dataclass(frozen=True, slots=True)
class _Part:
    pairs: list[tuple[str, str]]
    signed_text: str
    """The raw text that enters the HMAC: the part without its trailing `signature=`."""
    signature: str | None


def _split(raw: str) -> _Part:
    components = [c for c in raw.split("&") if c]
    pairs: list[tuple[str, str]] = []
    for c in components:
        key, _, value = c.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    signature: str | None = None
    signed_text = raw
    if pairs and pairs[-1][0] == "signature":
        signature = pairs.pop()[1]
        cut = raw.rfind(components[-1])
        signed_text = raw[:cut].removesuffix("&")
    if any(k == "signature" for k, _ in pairs):
        # present but not last: it cannot be told apart from the signed text
        raise api_error(-1022)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise api_error(-1101)
        seen.add(key)
    return _Part(pairs, signed_text, signature)


@dataclass(frozen=True, slots=True)
class _Parsed:
    params: dict[str, str]
    signature: str | None
    message: str


def _parse(req: RawRequest) -> _Parsed:
    query = _split(req.query)
    body = _split(req.body) if req.method != "GET" else _split("")
    if query.signature is not None and body.signature is not None:
        raise api_error(-1101)
    params = dict(body.pairs)
    params.update(query.pairs)  # the query string wins (§2.1)
    signature = query.signature if query.signature is not None else body.signature
    return _Parsed(params, signature, query.signed_text + body.signed_text)


def parse_params(req: RawRequest) -> dict[str, str]:
    """The merged parameters (query wins, `signature` dropped); raises -1101 on a duplicate
    within one part. The server calls it first to price the request (weights read `limit`,
    `symbol`) before any other check."""
    return _parse(req).params


def sign(secret: str, message: str) -> str:
    """Lower-case hex HMAC-SHA256 of `message` under `secret` (§2.3)."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def check_api_key(api_key: str | None, api_keys: Mapping[str, str]) -> str:
    """The key's secret; -2014 for a malformed key, -2015 for a missing or unknown one."""
    if api_key is None:
        raise api_error(-2015)
    if not _KEY_FORMAT.fullmatch(api_key):
        raise api_error(-2014)
    secret = api_keys.get(api_key)
    if secret is None:
        raise api_error(-2015)
    return secret


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not _INT.fullmatch(value):
        raise api_error(-1102, name)
    return int(value)


def check_timestamp(timestamp: int, recv_window: int, server_ms: int) -> None:
    """Binance's rule (§2.4): accept when `timestamp < serverTime + 1000` and
    `serverTime - timestamp <= recvWindow`; otherwise -1021 with the message saying which."""
    if timestamp >= server_ms + AHEAD_TOLERANCE_MS:
        raise api_error(-1021, msg=MSG_AHEAD)
    if server_ms - timestamp > recv_window:
        raise api_error(-1021, msg=MSG_OUTSIDE_WINDOW)


def check_request(
    req: RawRequest,
    security: Security,
    api_keys: Mapping[str, str],
    server_ms: int,
) -> Checked:
    """Run the checks `security` requires (module docstring); raises `ApiError` on the first
    that fails."""
    parsed = _parse(req)
    if not security.needs_key:
        return Checked(parsed.params, None)
    secret = check_api_key(req.api_key, api_keys)
    if not security.needs_signature:
        return Checked(parsed.params, req.api_key)
    if not parsed.signature:
        raise api_error(-1102, "signature")
    timestamp = _int_param(parsed.params, "timestamp")
    if timestamp is None:
        raise api_error(-1102, "timestamp")
    recv_window = _int_param(parsed.params, "recvWindow")
    if recv_window is None:
        recv_window = DEFAULT_RECV_WINDOW
    elif not 0 < recv_window <= MAX_RECV_WINDOW:
        raise api_error(-1130, "recvWindow")
    check_timestamp(timestamp, recv_window, server_ms)
    given = parsed.signature.lower()
    if not given.isascii() or not hmac.compare_digest(sign(secret, parsed.message), given):
        raise api_error(-1022)
    return Checked(parsed.params, req.api_key)
