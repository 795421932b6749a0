"""The exchange rules shipped with the package (a real production capture, October 2024).

Backtests, paper trading and the local exchange need real filters and brackets without a network.
Reading these packaged files is the only I/O in `slt.rules`; it goes through importlib.resources so
it works from a wheel or a zip as well as from a checkout. See resources/exchange/README.md for
provenance: the values are a snapshot, and live trading must load current ones.
"""

from __future__ import annotations

import functools
import gzip
import json
from importlib import resources
from typing import Any

from slt.rules.exchange import ExchangeRules, load_exchange_rules
from slt.rules.parsing import brackets_from_ccxt_tiers

EXCHANGE_INFO_FILE = "binance_usdm_exchangeInfo_2024-10-20.json.gz"
LEVERAGE_TIERS_FILE = "binance_usdm_leverage_tiers_ccxt_2024-10.json.gz"
BUNDLED_SOURCE = "bundled Binance production capture (exchangeInfo 2024-10-20, brackets 2024-10)"


def _read_json_gz(name: str) -> Any:
    resource = resources.files("slt") / "resources" / "exchange" / name
    return json.loads(gzip.decompress(resource.read_bytes()))


@functools.cache
def bundled_rules() -> ExchangeRules:
    """Rules of the 315 USDT-margined perpetuals of the bundled capture (cached; read once)."""
    exchange_info = _read_json_gz(EXCHANGE_INFO_FILE)
    brackets = brackets_from_ccxt_tiers(_read_json_gz(LEVERAGE_TIERS_FILE))
    return load_exchange_rules(exchange_info, brackets, source=BUNDLED_SOURCE)
