"""The JSON control messages a stream connection accepts (protocol §9.3), as pure functions.

SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY, with Binance's
answers (`{"result":...,"id":...}`) and error texts (codes 0-3). Kept apart from the socket
handling so every answer can be checked without a connection. Errors are sent as
`{"error":{"code":c,"msg":"..."},"id":<id or null>}`; invalid JSON as the documented
`{"error":{"code":3,"msg":"Invalid JSON: expected value at line L column C"}}`, after which the
server disconnects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
MAX_ID = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Request:
    """A valid control request."""

    method: str
    id: int
    params: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Refusal:
    """An error answer; `fatal` when the connection must be closed after sending it."""

    code: int
    msg: str
    id: int | None = None
    fatal: bool = False

    def body(self) -> dict[str, Any]:
        err = {"code": self.code, "msg": self.msg}
        if self.code == 3:
            return {"error": err}
        return {"error": err, "id": self.id}


def parse_request(text: str) -> Request | Refusal:
    """A control message, validated in Binance's order: JSON, request shape, id, method,
    parameters."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        return Refusal(
            3, f"Invalid JSON: expected value at line {e.lineno} column {e.colno}", None, True
        )
    if not isinstance(msg, dict):
        return Refusal(2, "Invalid request: invalid type: expected a map")
    rid = msg.get("id")
    if type(rid) is not int or not 0 <= rid <= MAX_ID:
        return Refusal(2, "Invalid request: request ID must be an unsigned integer")
    if "method" not in msg:
        return Refusal(2, "Invalid request: missing field `method`", rid)
    method = msg["method"]
    if method not in METHODS:
        shown = orjson.dumps(method).decode()
        where = _position(text, shown)
        return Refusal(
            2,
            f"Invalid request: unknown variant {shown}, expected one of "
            f"{', '.join(METHODS)}{where}",
            rid,
        )
    params = msg.get("params", [])
    if params is None:
        params = []
    if not isinstance(params, list):
        return Refusal(2, "Invalid request: invalid type: expected a sequence for `params`", rid)
    return Request(method, rid, params)


def _position(text: str, token: str) -> str:
    idx = text.find(token)
    if idx < 0:
        return ""
    end = idx + len(token)
    line = text.count("\n", 0, end) + 1
    col = end - (text.rfind("\n", 0, end) + 1)
    return f" at line {line} column {col}"


def stream_names(req: Request) -> list[str] | Refusal:
    """The stream names of a SUBSCRIBE / UNSUBSCRIBE, in order, duplicates removed."""
    if not all(isinstance(p, str) for p in req.params):
        return Refusal(2, "Invalid request: invalid type: expected a string stream name", req.id)
    return list(dict.fromkeys(req.params))


def property_request(req: Request, combined: bool) -> tuple[Any, bool | None] | Refusal:
    """(result, new `combined` value or None) of SET_PROPERTY / GET_PROPERTY."""
    want = 2 if req.method == "SET_PROPERTY" else 1
    if len(req.params) > want:
        return Refusal(2, "Invalid request: too many parameters", req.id)
    if len(req.params) < want:
        return Refusal(2, f"Invalid request: invalid length {len(req.params)}", req.id)
    name = req.params[0]
    if not isinstance(name, str):
        return Refusal(2, "Invalid request: property name must be a string", req.id)
    if name != "combined":
        return Refusal(0, "Unknown property", req.id)
    if req.method == "GET_PROPERTY":
        return combined, None
    value = req.params[1]
    if not isinstance(value, bool):
        return Refusal(1, "Invalid value type: expected Boolean", req.id)
    return None, value


def result(value: Any, rid: int) -> dict[str, Any]:
    return {"result": value, "id": rid}
