"""The world the live learner's tests share: the last days of the bundled sample stored where
the training child reads them, a champion registered to order, and a closed trade to count."""

from __future__ import annotations

from decimal import Decimal

from slt.config import Settings
from slt.data.csv_import import parse_file
from slt.data.sample import sample_files
from slt.domain import CandleSeries, ExitReason, Side, TradeRecord
from slt.model.features import FeatureSpec, default_feature_spec
from slt.model.registry import ModelRecord, ModelStatus, new_model_id
from slt.model.service import open_registry
from slt.storage import CandleStore, create_engine, migrate

SYMBOLS = ("BTCUSDT", "DOGEUSDT")
LOGGER = "slt.brain.learning"


def sample_tail(days: int, symbols: tuple[str, ...] = SYMBOLS) -> dict[str, CandleSeries]:
    """The last `days` days of 1m candles of `symbols` from the bundled sample."""
    out = {}
    for path in sample_files():
        series = parse_file(path).series
        if series.symbol in symbols:
            out[series.symbol] = series.slice(len(series) - days * 1440, len(series))
    return out


async def store_candles(settings: Settings, candles: dict[str, CandleSeries]) -> None:
    """Write `candles` to the settings' database (migrated first), as the Feed would have."""
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
        for series in candles.values():
            await CandleStore(engine).write(series)
    finally:
        await engine.dispose()


async def register_champion(
    settings: Settings, model: bytes, created_ms: int, spec: FeatureSpec | None = None
) -> str:
    """Register `model` (trained on `spec`, the default feature schema unless given) and make
    it the champion."""
    spec = spec or default_feature_spec()
    draft = ModelRecord(
        model_id=new_model_id(created_ms, model), created_ms=created_ms,
        status=ModelStatus.CANDIDATE, parent_id=None, schema_version=spec.schema_version,
        schema_hash=spec.schema_hash, feature_names=(*spec.names, "direction"), interval="1m",
        symbols=SYMBOLS, train_first_ms=0, train_last_ms=0, data_fingerprint="test",
        label_horizon=settings.model.horizon_bars, label_params={}, xgb_params={}, metrics={},
    )  # fmt: skip
    async with open_registry(settings) as registry:
        record = await registry.register(draft, model)
        await registry.set_status(record.model_id, ModelStatus.CHAMPION)
    return record.model_id


def a_trade(now_ms: int) -> TradeRecord:
    """A closed trade of no consequence: the learner only counts it."""
    one = Decimal(1)
    return TradeRecord(
        "BTCUSDT", Side.LONG, now_ms - 600_000, now_ms, one, one, one, 1, one, one, one, one,
        one, 0.001, ExitReason.TIME_EXIT, (), 0.002, 0.6, "ml:m-any",
    )  # fmt: skip
