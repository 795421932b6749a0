"""Binance's error answers: `{"code": <negative int>, "msg": "..."}` with an HTTP status.

One catalogue of the codes the local exchange sends, with Binance's documented messages
(`%s` filled in by `api_error`). HTTP statuses follow what clients observe: 400 for business
and validation errors, 401 for API-key errors, 429 for rate limits, 418 for bans
(binance-usdm-protocol.md §3).
"""

from __future__ import annotations

from collections.abc import Mapping

MESSAGES: dict[int, str] = {
    -1000: "An unknown error occured while processing the request.",
    -1003: "Too many requests; current limit is %s requests per minute. Please use the "
    "websocket for live updates to avoid polling the API.",
    -1013: "INVALID_MESSAGE.",
    -1015: "Too many new orders; current limit is %s orders per %s.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1100: "Illegal characters found in parameter '%s'; legal range is '%s'.",
    -1101: "Duplicate values for a parameter detected.",
    -1102: "Mandatory parameter '%s' was not sent, was empty/null, or malformed.",
    -1106: "Parameter '%s' sent when not required.",
    -1111: "Precision is over the maximum defined for this asset.",
    -1115: "Invalid timeInForce.",
    -1116: "Invalid orderType.",
    -1117: "Invalid side.",
    -1120: "Invalid interval.",
    -1121: "Invalid symbol.",
    -1125: "This listenKey does not exist. Please use `POST /fapi/v1/listenKey` to recreate "
    "`listenKey`",
    -1127: "More than %s hours between startTime and endTime.",
    -1128: "Combination of optional parameters invalid.",
    -1130: "Data sent for parameter '%s' is not valid.",
    -2010: "NEW_ORDER_REJECTED",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2019: "Margin is insufficient.",
    -2021: "Order would immediately trigger.",
    -2022: "ReduceOnly Order is rejected.",
    -2025: "Reach max open order limit.",
    -2027: "Exceeded the maximum allowable position at current leverage.",
    -4003: "Quantity less than zero.",
    -4004: "Quantity less than min quantity.",
    -4005: "Quantity greater than max quantity.",
    -4013: "Price less than min price.",
    -4014: "Price not increased by tick size.",
    -4015: "Client order id is not valid.",
    -4016: "Price is higher than mark price multiplier cap.",
    -4023: "Qty not increased by step size.",
    -4024: "Price is lower than mark price multiplier floor.",
    -4028: "Leverage %s is not valid",
    -4046: "No need to change margin type.",
    -4047: "Margin type cannot be changed if there exists open orders.",
    -4048: "Margin type cannot be changed if there exists position.",
    -4061: "Order's position side does not match user's setting.",
    -4062: "Invalid or improper reduceOnly value.",
    -4116: "clientOrderId is duplicated",
    -4120: "Order type not supported for this endpoint. Please use the Algo Order API "
    "endpoints instead.",
    -4131: "The counterparty's best price does not meet the PERCENT_PRICE filter limit",
    -4137: "Quantity must be zero with closePosition equals true",
    -4138: "Reduce only must be true with closePosition equals true",
    -4164: "Order's notional must be no smaller than %s (unless you choose reduce only)",
    -5021: "Due to the order could not be filled immediately, the FOK order has been rejected.",
    -5022: "Due to the order could not be executed as maker, the Post Only order will be rejected.",
}

_HTTP_STATUS = {-2014: 401, -2015: 401, -1003: 429}


class ApiError(Exception):
    """An error answer: Binance `code`, its message, the HTTP status and extra headers."""

    def __init__(
        self,
        code: int,
        msg: str,
        http_status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, int | str]:
        return {"code": self.code, "msg": self.msg}


def api_error(
    code: int, *args: object, status: int | None = None, msg: str | None = None
) -> ApiError:
    """The catalogued error `code` with its message's `%s` slots filled from `args`."""
    text = msg if msg is not None else MESSAGES.get(code, MESSAGES[-1000])
    if args and msg is None:
        text = text % args
    return ApiError(code, text, status if status is not None else _HTTP_STATUS.get(code, 400))
