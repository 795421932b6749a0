"""Settings of the model layer, in the style of `slt.config` (frozen, unknown keys rejected).

`ModelConfig` is meant to sit on `Settings` as `model` (so `SLT_MODEL__HORIZON_BARS=30`
works); until it does, the service uses these defaults. Durations are bars of the training
interval or days, fractions are fractions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class XgbParams(BaseModel):
    """Booster parameters. Fixed here, never tuned on a test period.

    `min_child_weight` is a sum of row weights, and rows are weighted by label uniqueness
    (`slt.model.dataset`), so it reads as "about this many independent trades per leaf".
    """

    model_config = _FROZEN
    max_depth: int = Field(6, ge=1, le=16)
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_boost_round: int = Field(400, ge=1, le=10_000)
    early_stopping_rounds: int = Field(40, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    min_child_weight: float = Field(20.0, ge=0)
    reg_lambda: float = Field(1.0, ge=0)
    max_bin: int = Field(256, ge=2, le=4096)
    seed: int = Field(20_240_101, ge=0)
    nthread: int = Field(2, ge=1, description="fixed so a model is reproducible bit for bit")

    def booster_params(self) -> dict[str, Any]:
        """The native `xgboost.train` parameter dict (squared error on winsorised labels)."""
        return {
            "objective": "reg:squarederror",
            "eval_metric": "rmse",
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda,
            "max_bin": self.max_bin,
            "seed": self.seed,
            "nthread": self.nthread,
            "verbosity": 0,
        }


class ModelConfig(BaseModel):
    """How models are trained and evaluated."""

    model_config = _FROZEN
    interval: str = "1m"
    horizon_bars: int = Field(
        120,
        ge=1,
        le=10_000,
        description="label horizon H in bars; the default equals the 2 h time exit on 1m, so a "
        "label is the trade the engine really makes",
    )
    train_window_days: int = Field(60, ge=1, le=3650, description="trailing window trained on")
    eval_fraction: float = Field(
        0.2, ge=0.1, le=0.3, description="last part of the window that drives early stopping"
    )
    embargo_bars: int | None = Field(
        None, ge=1, description="gap between training labels and a test fold; default H"
    )
    walk_forward_folds: int = Field(4, ge=0, le=50, description="0 skips the evaluation")
    walk_forward_test_fraction: float = Field(
        0.4, gt=0, lt=1, description="share of the window split into test folds"
    )
    min_rows_per_day: int = Field(30, ge=3, description="days with fewer rows get no daily IC")
    winsor_quantile: float = Field(0.001, ge=0, lt=0.5)
    retrain_every_trades: int = Field(
        50, ge=1, description="a challenger is trained after this many closed trades"
    )
    max_model_age_days: float = Field(
        7.0, gt=0, description="a challenger is also trained when the champion is this old"
    )
    holdout_fraction: float = Field(
        0.2, ge=0.05, le=0.5, description="recent slice the champion and challenger are judged on"
    )
    memory_limit_mb: int = Field(4096, ge=256, description="address-space cap of the trainer")
    timeout_s: float = Field(3600.0, gt=0)
    xgb: XgbParams = XgbParams()

    @model_validator(mode="after")
    def _embargo_covers_horizon(self) -> ModelConfig:
        if self.embargo_bars is not None and self.embargo_bars < self.horizon_bars:
            raise ValueError(
                f"embargo_bars ({self.embargo_bars}) must be ≥ horizon_bars ({self.horizon_bars})"
            )
        return self

    @property
    def effective_embargo_bars(self) -> int:
        return self.embargo_bars if self.embargo_bars is not None else self.horizon_bars
