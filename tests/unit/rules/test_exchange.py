"""Loading exchange rules: the bundled capture, raw Binance shapes, and unknown symbols."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from slt.rules import (
    ExchangeRules,
    Rounding,
    UnknownSymbolError,
    brackets_from_binance_reply,
    bundled_rules,
    ccxt_to_binance_symbol,
    load_exchange_rules,
)
from slt.rules.bundled import EXCHANGE_INFO_FILE, LEVERAGE_TIERS_FILE

D = Decimal


def test_bundled_rules_are_cached_and_cover_the_usdt_perpetuals() -> None:
    rules = bundled_rules()
    assert rules is bundled_rules()
    assert len(rules) == 315
    assert "BTCUSDT" in rules and "ETHUSDT" in rules and "DOGEUSDT" in rules
    assert "BTCUSDT_241227" not in rules  # quarterly contract
    assert "BTCUSDC" not in rules  # USDC-margined
    assert list(rules)[:2] == sorted(rules.symbols)[:2]


def test_every_bundled_symbol_parses_into_consistent_rules() -> None:
    for name, rules in bundled_rules().symbols.items():
        assert rules.symbol == name == rules.base_asset + rules.quote_asset
        assert rules.quote_asset == "USDT"
        assert rules.status in {"TRADING", "SETTLING"}
        assert rules.brackets and rules.brackets[0].notional_floor == 0
        assert rules.highest_leverage >= rules.brackets[-1].max_leverage >= 1
        assert rules.min_price == rules.round_price(rules.min_price, Rounding.DOWN)
        assert D(rules.format_price(rules.min_price)) == rules.min_price
        assert D(rules.format_qty(rules.min_qty)) == rules.min_qty
        assert rules.min_qty <= rules.max_qty and rules.market_min_qty <= rules.market_max_qty
        assert rules.min_notional > 0 and rules.percent_down < 1 < rules.percent_up
        assert 0 < rules.liquidation_fee < D("0.05")
        for lower, upper in itertools.pairwise(rules.brackets):
            # cum keeps maintenance margin continuous at every edge (FAQ formula)
            edge = upper.notional_floor
            assert edge * lower.maint_margin_ratio - lower.cum == (
                edge * upper.maint_margin_ratio - upper.cum
            )


def test_btcusdt_matches_the_2024_10_20_production_capture() -> None:
    btc = bundled_rules().get("BTCUSDT")
    assert btc.tick_size == D("0.10") and btc.min_price == D("556.80")
    assert btc.max_price == D("4529764")
    assert btc.step_size == D("0.001") and btc.min_qty == D("0.001")
    assert btc.max_qty == D("1000")
    assert btc.market_max_qty == D("120")
    assert btc.min_notional == D("100")
    assert btc.liquidation_fee == D("0.012500")
    assert (btc.percent_up, btc.percent_down) == (D("1.05"), D("0.95"))
    assert (btc.price_precision, btc.quantity_precision) == (2, 3)
    assert btc.highest_leverage == 125
    assert btc.bracket_for(D(50_000)).maint_margin_ratio == D("0.005")


def test_dogeusdt_matches_the_capture() -> None:
    doge = bundled_rules().get("DOGEUSDT")
    assert doge.step_size == D("1") and doge.tick_size == D("0.000010")
    assert doge.min_notional == D("5")
    assert doge.base_asset == "DOGE"


def test_unknown_symbol_error_says_what_to_do() -> None:
    rules = bundled_rules()
    with pytest.raises(UnknownSymbolError) as caught:
        rules.get("BTC/USDT:USDT")
    message = str(caught.value)
    assert "unknown symbol 'BTC/USDT:USDT'" in message
    assert "Did you mean 'BTCUSDT'?" in message
    assert "load_exchange_rules" in message
    assert "315 symbols" in message
    assert caught.value.symbol == "BTC/USDT:USDT"
    assert "BTCUSDT" in caught.value.known
    assert isinstance(caught.value, KeyError)

    with pytest.raises(UnknownSymbolError, match="is not a perpetual"):
        rules.get("BTCUSDT_241227")
    with pytest.raises(UnknownSymbolError, match="margined in USDC"):
        rules.get("BTCUSDC")
    with pytest.raises(UnknownSymbolError, match="'PIPPINUSDT'"):
        rules.get("PIPPINUSDT")  # listed after the capture


def test_rules_cannot_be_changed_in_place() -> None:
    rules = bundled_rules()
    with pytest.raises(TypeError):
        rules.symbols["FOOUSDT"] = rules.get("BTCUSDT")  # type: ignore[index]
    with pytest.raises(AttributeError):
        rules.source = "x"  # type: ignore[misc]


def _symbol(name: str, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "symbol": name,
        "contractType": "PERPETUAL",
        "status": "TRADING",
        "baseAsset": name.removesuffix("USDT"),
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "liquidationFee": "0.015000",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.10",
                "maxPrice": "100000",
                "tickSize": "0.10",
            },
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "500", "stepSize": "0.001"},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
        ],
    }
    entry.update(overrides)
    return entry


RAW_BRACKETS = [
    {
        "bracket": 1,
        "initialLeverage": 50,
        "notionalCap": 5000,
        "notionalFloor": 0,
        "maintMarginRatio": 0.01,
        "cum": 0.0,
    },
    {
        "bracket": 2,
        "initialLeverage": 20,
        "notionalCap": 25000,
        "notionalFloor": 5000,
        "maintMarginRatio": 0.025,
        "cum": 75.0,
    },
]


def test_load_exchange_rules_from_raw_shapes_keeps_only_bracketed_usdt_perpetuals() -> None:
    info = {
        "symbols": [
            _symbol("AAAUSDT"),
            _symbol("BBBUSDT"),
            _symbol("CCCUSDT", contractType="CURRENT_QUARTER"),
            _symbol("DDDUSDC", quoteAsset="USDC", marginAsset="USDC"),
        ]
    }
    reply = [{"symbol": "AAAUSDT", "brackets": RAW_BRACKETS}]
    rules = load_exchange_rules(info, brackets_from_binance_reply(reply))
    assert list(rules) == ["AAAUSDT"]
    aaa = rules.get("AAAUSDT")
    # optional filters missing: MARKET_LOT_SIZE falls back to LOT_SIZE, PERCENT_PRICE disabled
    assert aaa.market_max_qty == D("500") and aaa.market_step_size == D("0.001")
    assert aaa.percent_up == 0 and aaa.percent_down == 0
    assert aaa.brackets[1].cum == D("75.0") and aaa.brackets[0].maint_margin_ratio == D("0.01")
    assert set(rules.skipped) == {"BBBUSDT", "CCCUSDT", "DDDUSDC"}
    with pytest.raises(UnknownSymbolError, match="has no leverage brackets"):
        rules.get("BBBUSDT")


def test_malformed_symbol_entries_fail_loudly() -> None:
    no_lot = _symbol("AAAUSDT", filters=[{"filterType": "PRICE_FILTER", "tickSize": "0.1"}])
    with pytest.raises(ValueError, match="AAAUSDT: exchangeInfo entry has no LOT_SIZE"):
        load_exchange_rules({"symbols": [no_lot]}, {"AAAUSDT": RAW_BRACKETS})
    bad_number = _symbol("AAAUSDT", liquidationFee="abc")
    with pytest.raises(ValueError, match="not a number"):
        load_exchange_rules({"symbols": [bad_number]}, {"AAAUSDT": RAW_BRACKETS})


def test_leverage_bracket_reply_accepts_object_or_array() -> None:
    single = {"symbol": "ETHUSDT", "notionalCoef": 1.5, "brackets": RAW_BRACKETS}
    assert brackets_from_binance_reply(single) == {"ETHUSDT": RAW_BRACKETS}
    assert brackets_from_binance_reply([single]) == {"ETHUSDT": RAW_BRACKETS}
    with pytest.raises(ValueError):
        brackets_from_binance_reply("nope")
    with pytest.raises(ValueError):
        brackets_from_binance_reply([{"brackets": []}])


@pytest.mark.parametrize(
    ("ccxt", "binance"),
    [
        ("BTC/USDT:USDT", "BTCUSDT"),
        ("1000PEPE/USDT:USDT", "1000PEPEUSDT"),
        ("ETH/BTC:BTC", "ETHBTC"),
        ("BTC/USDT:USDT-241227", "BTCUSDT_241227"),
    ],
)
def test_ccxt_symbols_map_to_binance_names(ccxt: str, binance: str) -> None:
    assert ccxt_to_binance_symbol(ccxt) == binance


def test_ccxt_symbol_without_settle_is_refused() -> None:
    with pytest.raises(ValueError):
        ccxt_to_binance_symbol("BTC/USDT")


def test_exchange_rules_built_directly_are_read_only_views() -> None:
    btc = bundled_rules().get("BTCUSDT")
    source = {"BTCUSDT": btc}
    rules = ExchangeRules(symbols=source)
    source.clear()
    assert "BTCUSDT" in rules and rules.get("BTCUSDT") is btc


# -- against the shared real-data folder ------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("name", [EXCHANGE_INFO_FILE, LEVERAGE_TIERS_FILE])
def test_bundled_files_are_unmodified_copies_of_the_shared_data(
    shared_data: Path, name: str
) -> None:
    bundled = (resources.files("slt") / "resources" / "exchange" / name).read_bytes()
    original = (shared_data / "exchange" / name).read_bytes()
    digest = hashlib.sha256
    assert digest(gzip.decompress(bundled)).digest() == digest(gzip.decompress(original)).digest()


@pytest.mark.integration
def test_raw_binance_bracket_reply_and_trimmed_exchange_info_load(shared_data: Path) -> None:
    folder = shared_data / "exchange"
    info = json.loads((folder / "binance_usdm_exchangeInfo_2022-02-19_trimmed.json").read_text())
    reply = json.loads((folder / "binance_usdm_leverageBracket_BTCUSDT_2023-11.json").read_text())
    rules = load_exchange_rules(info, brackets_from_binance_reply(reply))
    assert list(rules) == ["BTCUSDT"]  # ETHUSDT: no brackets in that reply; the quarterly: skipped
    btc = rules.get("BTCUSDT")
    assert len(btc.brackets) == 10
    assert btc.bracket_for(D(300_000)).cum == D("1300")
    assert "no leverage brackets" in rules.skipped["ETHUSDT"]
