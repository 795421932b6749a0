"""One frozen, typed settings object: defaults < config file (TOML) < environment (`SLT_*`).

Nested keys use `__` in the environment (`SLT_RISK__RISK_PER_TRADE=0.005`). Unknown keys are
rejected, so a typo fails at start instead of silently using a default. All percentages are
fractions (0.01 = 1 %), all durations int milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from slt.model.config import ModelConfig

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class FeeConfig(BaseModel):
    """Trading costs. Binance VIP 0: taker 0.05 %, maker 0.02 %; funding every 8 h."""

    model_config = _FROZEN
    taker_rate: float = Field(0.0005, ge=0, le=0.01)
    maker_rate: float = Field(0.0002, ge=-0.001, le=0.01)
    slippage_pct: float = Field(
        0.0002, ge=0, le=0.05, description="adverse fill slippage, fraction"
    )
    funding_rate: float = Field(
        0.0001, ge=-0.03, le=0.03, description="funding rate per interval (data has no history)"
    )
    funding_interval_hours: int = Field(8, ge=1, le=24)


class RiskConfig(BaseModel):
    """The independent risk layer: sizing, leverage, stops, exits, portfolio and protections."""

    model_config = _FROZEN
    sizing: Literal["fixed_risk", "kelly", "fixed_quantity"] = "fixed_risk"
    risk_per_trade: float = Field(0.01, gt=0, le=0.1, description="equity fraction lost at stop")
    fixed_quantity: float = Field(1.0, gt=0, description="base units per trade (fixed_quantity)")
    kelly_fraction: float = Field(0.25, gt=0, le=1)
    kelly_lookback_trades: int = Field(50, ge=5)
    kelly_min_trades: int = Field(20, ge=1)
    max_risk_per_trade: float = Field(0.02, gt=0, le=0.2)
    atr_volatility_target: float = Field(
        0.02, gt=0, le=1, description="cap: notional × atr_pct ≤ equity × this"
    )
    max_leverage: int = Field(10, ge=1, le=125)
    min_leverage: int = Field(4, ge=1, le=125)
    liquidation_buffer_pct: float = Field(0.005, ge=0, le=0.5)
    max_margin_fraction: float = Field(
        0.3, gt=0, le=1, description="a position's margin ≤ this fraction of equity"
    )
    stop_loss_pct: float = Field(0.01, gt=0, le=0.5)
    take_profit_pct: float = Field(0.02, gt=0, le=5)
    partial_take_profit: bool = True
    partial_at: float = Field(0.5, gt=0, lt=1, description="fraction of the way to take-profit")
    partial_fraction: float = Field(0.5, gt=0, lt=1, description="share of the position closed")
    breakeven_after_partial: bool = True
    trailing_activation_pct: float = Field(0.01, gt=0, le=5)
    trailing_distance_pct: float = Field(0.006, gt=0, le=1)
    max_hold_ms: int = Field(7_200_000, ge=60_000)
    emergency_margin_loss: float = Field(
        1.0, gt=0, le=1, description="close when unrealised loss ≥ this × margin"
    )
    signal_reversal_exit: bool = True
    max_positions: int = Field(3, ge=1, le=50)
    rotation_min_edge: float = Field(
        0.002, ge=0, description="extra expected return over fees needed to rotate"
    )
    min_expected_return: float = Field(0.0, ge=0)
    min_confidence: float = Field(0.0, ge=0, le=1)
    daily_drawdown_halt: float = Field(0.05, gt=0, le=1)
    max_consecutive_losses: int = Field(3, ge=1)
    cooldown_ms: int = Field(3_600_000, ge=0)

    @model_validator(mode="after")
    def _coherent(self) -> RiskConfig:
        if self.min_leverage > self.max_leverage:
            raise ValueError(
                f"min_leverage ({self.min_leverage}) is above max_leverage ({self.max_leverage})"
            )
        if self.max_risk_per_trade < self.risk_per_trade:
            raise ValueError("max_risk_per_trade must be ≥ risk_per_trade")
        return self


class BaselineConfig(BaseModel):
    """EMA trend + ATR baseline strategy parameters (bars of the backtest interval)."""

    model_config = _FROZEN
    fast: int = Field(50, ge=2)
    slow: int = Field(200, ge=3)
    atr_period: int = Field(14, ge=2)
    band_atr: float = Field(1.0, ge=0, description="spread beyond ±band×ATR sets the regime")
    min_atr_pct: float = Field(0.0005, ge=0)
    max_atr_pct: float = Field(0.02, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> BaselineConfig:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class MLSignalConfig(BaseModel):
    """How the ML strategy turns predicted net returns into signals (see `slt.strategy.ml`)."""

    model_config = _FROZEN
    min_edge: float = Field(
        0.0005, ge=0, le=0.1, description="predicted net return a trade needs (fraction)"
    )
    relaxed_edge_factor: float = Field(
        0.5, gt=0, le=1, description="RELAXED_SIGNAL_MODE multiplies min_edge by this"
    )
    confidence_span: float = Field(
        0.004, gt=0, le=0.5, description="edge above min_edge at which confidence reaches 1"
    )
    mtf_filter: bool = Field(True, description="higher timeframes confirm (or, relaxed, veto)")


class BacktestConfig(BaseModel):
    model_config = _FROZEN
    initial_balance: float = Field(10_000.0, gt=0, description="USDT")
    interval: str = "1m"
    symbols: tuple[str, ...] = ()
    start_ms: int | None = None
    end_ms: int | None = None
    strategy: Literal["baseline", "ml"] = "baseline"
    report_dir: Path = Path("slt-data/reports")


class VenueConfig(BaseModel):
    """How the Binance adapter talks to the exchange (`slt.venues.binance`)."""

    model_config = _FROZEN
    weight_share: float = Field(
        0.8, gt=0, le=1, description="share of Binance's 2400/min request weight this IP may use"
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="REST request timeout")
    retries: int = Field(3, ge=0, le=10, description="retries of a read after a temporary error")


class LiveConfig(BaseModel):
    """`slt run`: what the live and paper system trades and how it paces itself."""

    model_config = _FROZEN
    strategy: Literal["baseline", "ml"] = "baseline"
    symbols: tuple[str, ...] = Field(
        (), description="symbols to trade; empty = the top USDT perpetuals by 24h quote volume"
    )
    max_symbols: int = Field(300, ge=1, le=1024)
    interval: str = "1m"
    replay_speed: float = Field(
        300.0, gt=0, le=10_000, description="offline: market seconds per wall second"
    )
    replay_warmup_days: float = Field(
        1.0, ge=0, le=30, description="offline: stored history before the replay starts"
    )
    warmup_bars: int = Field(
        600, ge=0, le=20_000, description="stored candles each symbol's strategy starts from"
    )
    ring_capacity: int = Field(65_536, ge=1024, le=4_194_304)
    status_every_s: float = Field(180.0, gt=0, description="the heartbeat status line")
    stuck_after_s: float = Field(30.0, gt=0, description="no heartbeat this long: restart")
    close_retry_base_s: float = Field(
        0.5, gt=0, le=60, description="a failed close is re-sent after about this, doubling"
    )
    close_retry_cap_s: float = Field(
        30.0, gt=0, le=600, description="the longest wait between two tries of a close"
    )
    close_alert_after_s: float = Field(
        60.0, gt=0, description="a close still failing this long raises an ALERT log line"
    )
    close_alert_every_s: float = Field(
        60.0, gt=0, description="the ALERT line repeats at most this often while still failing"
    )
    flatten_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="--flatten: how long shutdown waits for the closes"
    )


class Settings(BaseSettings):
    """Everything configurable. Secrets (API keys) are never part of this object."""

    model_config = SettingsConfigDict(
        env_prefix="SLT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    data_dir: Path = Path("slt-data")
    database_url: str | None = None
    redis_url: str | None = None
    fees: FeeConfig = FeeConfig()
    risk: RiskConfig = RiskConfig()
    baseline: BaselineConfig = BaselineConfig()
    ml: MLSignalConfig = MLSignalConfig()
    model: ModelConfig = ModelConfig()
    backtest: BacktestConfig = BacktestConfig()
    venue: VenueConfig = VenueConfig()
    live: LiveConfig = LiveConfig()
    disable_model_training: bool = Field(
        False, validation_alias=AliasChoices("SLT_DISABLE_MODEL_TRAINING", "DISABLE_MODEL_TRAINING")
    )
    disable_websocket: bool = Field(
        False, validation_alias=AliasChoices("SLT_DISABLE_WEBSOCKET", "DISABLE_WEBSOCKET")
    )
    disable_rest_fallback: bool = Field(
        True, validation_alias=AliasChoices("SLT_DISABLE_REST_FALLBACK", "DISABLE_REST_FALLBACK")
    )
    relaxed_signal_mode: bool = Field(
        False, validation_alias=AliasChoices("SLT_RELAXED_SIGNAL_MODE", "RELAXED_SIGNAL_MODE")
    )

    _config_file: ClassVar[Path | None] = None
    """The TOML file `load_settings` is reading; a class variable, not a setting."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._config_file))
        return tuple(sources)

    @property
    def sqlite_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / 'slt.db'}"

    @property
    def effective_database_url(self) -> str:
        """PostgreSQL when `SLT_DATABASE_URL` is set, else SQLite under `data_dir`."""
        return self.database_url or self.sqlite_url


class ConfigError(Exception):
    """A setting is wrong: stop and fix it. The message names the key, the reason and the fix."""


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, turning validation failures into one readable `ConfigError`."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist; pass an existing TOML file")
    Settings._config_file = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    finally:
        Settings._config_file = None


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(settings)"
        env = "SLT_" + "__".join(str(p) for p in err["loc"]).upper()
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{key}: {err['msg']}{shown}; fix it in the config file or with {env}")
    return "invalid configuration: " + "; ".join(lines)
