"""Stream fills carry the venue's trade id (`t`), the key the ledger stores them under, so the
same fill read back over REST after a crash is recognised as one (`slt.live.backfill`)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import orjson
from hypothesis import given
from hypothesis import strategies as st

from slt.domain import Fill, OrderFilled, Side
from slt.live.translate import StreamTranslator
from slt.storage.trading_ops import fill_key
from slt.venues.binance.userstream import decode_user_event


def _trade(t: int | None, c: str = "slt-1-entry", i: int = 9) -> bytes:
    o = {"s": "BTCUSDT", "c": c, "S": "BUY", "o": "MARKET", "x": "TRADE", "X": "FILLED", "i": i}
    o |= {"l": "0.010", "L": "65000.10", "n": "0.32500050", "N": "USDT", "T": 7}
    if t is not None:
        o["t"] = t
    return orjson.dumps({"e": "ORDER_TRADE_UPDATE", "E": 8, "T": 7, "o": o})


def _fill(raw: bytes) -> Fill:
    (event,) = StreamTranslator().translate(decode_user_event(raw), lambda _c: None)
    assert isinstance(event, OrderFilled)
    return event.fill


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_the_trade_id_reaches_the_fill_and_its_ledger_key(t: int) -> None:
    fill = _fill(_trade(t))
    assert fill.trade_id == t
    assert fill_key(fill, fill.trade_id) == f"BTCUSDT:t{t}"


def test_no_trade_id_or_zero_means_none() -> None:
    assert _fill(_trade(None)).trade_id is None
    assert _fill(_trade(0)).trade_id is None


def test_fills_saved_before_the_field_still_decode() -> None:
    old = Fill("slt-1-entry", "BTCUSDT", Side.LONG, Decimal(1), Decimal(1), Decimal(0), 5)
    legacy = orjson.loads(msgspec.json.encode(old))
    del legacy["trade_id"]
    back = msgspec.json.decode(orjson.dumps(legacy), type=Fill)
    assert back.trade_id is None and back.client_id == "slt-1-entry"
