"""Request checks: parameter merge, API key, signature (official example, mixed query and
body), timestamp window at its exact boundaries."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slt.venues.local.auth import (
    MSG_AHEAD,
    MSG_OUTSIDE_WINDOW,
    RawRequest,
    check_request,
    check_timestamp,
    parse_params,
    sign,
)
from slt.venues.local.endpoints import Security
from slt.venues.local.errors import ApiError

# binance-usdm-protocol.md §2.3, the official worked example
SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
TOTAL = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
    "&recvWindow=5000&timestamp=1591702613943"
)
SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
TS = 1591702613943
KEYS = {KEY: SECRET}


def check(
    query: str = "",
    body: str = "",
    *,
    method: str = "POST",
    key: str | None = KEY,
    security: Security = Security.SIGNED,
    server_ms: int = TS,
) -> dict[str, str]:
    return check_request(RawRequest(method, query, body, key), security, KEYS, server_ms).params


def refused(*args: object, **kwargs: object) -> ApiError:
    with pytest.raises(ApiError) as info:
        check(*args, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_the_official_example_signs_and_verifies() -> None:
    assert sign(SECRET, TOTAL) == SIGNATURE
    params = check(f"{TOTAL}&signature={SIGNATURE}")
    assert params["price"] == "9000" and params["timestamp"] == str(TS)
    assert "signature" not in params
    # the same in the body, and with upper-case hex (signatures are not case sensitive)
    assert check("", f"{TOTAL}&signature={SIGNATURE.upper()}")["quantity"] == "1"


def test_mixed_query_and_body_sign_their_direct_concatenation() -> None:
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=1&price=9000&recvWindow=5000&timestamp={TS}"
    good = sign(SECRET, query + body)  # no '&' between the two parts
    assert good != sign(SECRET, f"{query}&{body}")
    params = check(query, f"{body}&signature={good}")
    assert params["timeInForce"] == "GTC" and params["quantity"] == "1"
    # the signature may also close the query while the body carries more parameters
    assert check(f"{query}&signature={good}", body)["price"] == "9000"
    assert refused(query, f"{body}&signature={sign(SECRET, f'{query}&{body}')}").code == -1022


def test_the_raw_encoded_text_is_what_is_signed() -> None:
    query = f"symbol=BTCUSDT&newClientOrderId=a%2Fb&timestamp={TS}"
    params = check(f"{query}&signature={sign(SECRET, query)}")
    assert params["newClientOrderId"] == "a/b"
    decoded = query.replace("%2F", "/")
    assert refused(f"{query}&signature={sign(SECRET, decoded)}").code == -1022


def test_query_wins_and_a_duplicate_within_a_part_is_refused() -> None:
    assert parse_params(RawRequest("POST", "symbol=BTCUSDT", "symbol=ETHUSDT&side=BUY")) == {
        "symbol": "BTCUSDT",
        "side": "BUY",
    }
    # GET parameters come from the query only
    assert parse_params(RawRequest("GET", "a=1", "b=2")) == {"a": "1"}
    for query, body in (("a=1&a=2", ""), ("", "a=1&b=2&a=1")):
        with pytest.raises(ApiError) as info:
            parse_params(RawRequest("POST", query, body))
        assert (info.value.code, info.value.msg) == (
            -1101,
            "Duplicate values for a parameter detected.",
        )
    both = f"{TOTAL}&signature={SIGNATURE}"
    assert refused(both, f"x=1&signature={SIGNATURE}").code == -1101


def test_a_signature_that_is_not_the_last_parameter_signs_nothing() -> None:
    err = refused(f"signature={SIGNATURE}&{TOTAL}")
    assert (err.code, err.msg, err.http_status) == (
        -1022,
        "Signature for this request is not valid.",
        400,
    )
    assert refused(f"{TOTAL}&signature={SIGNATURE[:-1]}0").code == -1022
    assert refused(f"{TOTAL}&signature=zz\u00e9").code == -1022


@pytest.mark.parametrize(
    ("key", "code", "msg"),
    [
        (None, -2015, "Invalid API-key, IP, or permissions for action."),
        ("unknownKey123", -2015, "Invalid API-key, IP, or permissions for action."),
        ("", -2014, "API-key format invalid."),
        ("bad key", -2014, "API-key format invalid."),
        ("k" * 129, -2014, "API-key format invalid."),
    ],
)
def test_api_key_errors_are_401(key: str | None, code: int, msg: str) -> None:
    for security in (Security.SIGNED, Security.USER_STREAM, Security.MARKET_DATA):
        err = refused(f"{TOTAL}&signature={SIGNATURE}", key=key, security=security)
        assert (err.code, err.msg, err.http_status) == (code, msg, 401)


def test_security_types_ask_for_what_they_need() -> None:
    # NONE ignores any key; MARKET_DATA / USER_STREAM need a key but no signature
    assert check("symbol=BTCUSDT", key="bad key", security=Security.NONE) == {"symbol": "BTCUSDT"}
    assert check("", security=Security.USER_STREAM) == {}
    assert check("symbol=X", security=Security.MARKET_DATA) == {"symbol": "X"}


@pytest.mark.parametrize(
    ("query", "code", "msg"),
    [
        (
            TOTAL,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        ),
        (
            f"{TOTAL}&signature=",
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        ),
        (
            "symbol=BTCUSDT",
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        ),
        (
            "timestamp=",
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        ),
        (
            "timestamp=12.5",
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        ),
        (
            f"timestamp={TS}&recvWindow=abc",
            -1102,
            "Mandatory parameter 'recvWindow' was not sent, was empty/null, or malformed.",
        ),
        (
            f"timestamp={TS}&recvWindow=60001",
            -1130,
            "Data sent for parameter 'recvWindow' is not valid.",
        ),
        (
            f"timestamp={TS}&recvWindow=0",
            -1130,
            "Data sent for parameter 'recvWindow' is not valid.",
        ),
    ],
)
def test_parameter_errors(query: str, code: int, msg: str) -> None:
    signed = (
        query
        if "signature" in query or query == TOTAL
        else (f"{query}&signature={sign(SECRET, query)}")
    )
    err = refused(signed)
    assert (err.code, err.msg, err.http_status) == (code, msg, 400)


def signed_at(ts: int, recv_window: int | None = None) -> str:
    query = f"symbol=BTCUSDT&timestamp={ts}"
    if recv_window is not None:
        query += f"&recvWindow={recv_window}"
    return f"{query}&signature={sign(SECRET, query)}"


def test_timestamp_window_boundaries() -> None:
    s = 1_700_000_000_000
    assert check(signed_at(s + 999), server_ms=s)
    assert check(signed_at(s - 5000), server_ms=s)  # default recvWindow 5000, inclusive
    assert check(signed_at(s - 60_000, 60_000), server_ms=s)
    ahead = refused(signed_at(s + 1000), server_ms=s)
    assert (ahead.code, ahead.msg, ahead.http_status) == (-1021, MSG_AHEAD, 400)
    assert MSG_AHEAD == "Timestamp for this request was 1000ms ahead of the server's time."
    late = refused(signed_at(s - 5001), server_ms=s)
    assert (late.code, late.msg) == (-1021, MSG_OUTSIDE_WINDOW)
    assert MSG_OUTSIDE_WINDOW == "Timestamp for this request is outside of the recvWindow."
    assert refused(signed_at(s - 1001, 1000), server_ms=s).msg == MSG_OUTSIDE_WINDOW
    # timing is judged before the signature: a stale request with a bad signature gets -1021
    stale = f"timestamp={s - 10_000}&signature={SIGNATURE}"
    assert refused(stale, server_ms=s).code == -1021


@given(
    server=st.integers(0, 2**42),
    offset=st.integers(-70_000, 5_000),
    recv_window=st.integers(1, 60_000),
)
def test_the_timestamp_rule_is_binances(server: int, offset: int, recv_window: int) -> None:
    ts = server + offset
    accept = ts < server + 1000 and server - ts <= recv_window
    try:
        check_timestamp(ts, recv_window, server)
        outcome = None
    except ApiError as err:
        assert err.code == -1021
        outcome = err.msg
    if accept:
        assert outcome is None
    else:
        assert outcome == (MSG_AHEAD if ts >= server + 1000 else MSG_OUTSIDE_WINDOW)


@given(
    params=st.dictionaries(
        st.text("abcdefghijklmnopqrstuvwxyzABC", min_size=1, max_size=8).filter(
            lambda k: k not in ("signature", "timestamp", "recvWindow")
        ),
        st.text(min_size=0, max_size=12),
        max_size=6,
    ),
    split=st.integers(0, 7),
    sig_in_body=st.booleans(),
)
def test_any_split_of_signed_parameters_verifies(
    params: dict[str, str], split: int, sig_in_body: bool
) -> None:
    items = [*params.items(), ("timestamp", str(TS))]
    query, body = urlencode(items[:split]), urlencode(items[split:])
    if not body and sig_in_body:
        query, body = "", query
    sig = sign(SECRET, query + body)
    if sig_in_body or not query:
        body = f"{body}&signature={sig}" if body else f"signature={sig}"
    else:
        query = f"{query}&signature={sig}"
    assert check(query, body) == {**params, "timestamp": str(TS)}
    tampered = body.replace(f"timestamp={TS}", f"timestamp={TS - 1}")
    tampered_q = query.replace(f"timestamp={TS}", f"timestamp={TS - 1}")
    assert refused(tampered_q, tampered).code == -1022
