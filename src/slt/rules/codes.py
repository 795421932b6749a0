"""Binance USDⓈ-M error codes that order validation and margin checks can produce.

Validation answers with the code the real exchange would send, so a rejection looks the same in a
backtest, against the local exchange and live; logs and tests can then match on one number. An
IntEnum compares equal to the plain int in an exchange reply.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    OK = 0
    INVALID_MESSAGE = -1013  # generic "Filter failure"
    MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
    PARAM_NOT_REQUIRED = -1106
    BAD_PRECISION = -1111
    INVALID_ORDER_TYPE = -1116
    INVALID_SIDE = -1117
    MARGIN_NOT_SUFFICIENT = -2019
    ORDER_WOULD_IMMEDIATELY_TRIGGER = -2021
    REDUCE_ONLY_REJECT = -2022
    MAX_LEVERAGE_RATIO = -2027
    PRICE_LESS_THAN_ZERO = -4001
    PRICE_GREATER_THAN_MAX_PRICE = -4002
    QTY_LESS_THAN_ZERO = -4003
    QTY_LESS_THAN_MIN_QTY = -4004
    QTY_GREATER_THAN_MAX_QTY = -4005
    STOP_PRICE_LESS_THAN_ZERO = -4006
    STOP_PRICE_GREATER_THAN_MAX_PRICE = -4007
    PRICE_LESS_THAN_MIN_PRICE = -4013
    PRICE_NOT_INCREASED_BY_TICK_SIZE = -4014
    PRICE_HIGHER_THAN_MULTIPLIER_UP = -4016
    QTY_NOT_INCREASED_BY_STEP_SIZE = -4023
    PRICE_LOWER_THAN_MULTIPLIER_DOWN = -4024
    INVALID_LEVERAGE = -4028
    QUANTITY_EXISTS_WITH_CLOSE_POSITION = -4137
    MIN_NOTIONAL = -4164
