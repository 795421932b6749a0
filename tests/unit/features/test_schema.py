"""Schema v4: the twelve names, the parameters, and the hash a model is bound to."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import slt.features as features
from slt.features import (
    DEFAULT_PARAMS,
    FEATURE_NAMES,
    FEATURE_UNITS,
    SCHEMA_VERSION,
    FeatureParams,
    SchemaMismatchError,
    check_schema,
    schema_hash,
)

PINNED_DEFAULT_HASH = "46088567358d804faa014d1833df566b011d7477bd7f4c76e6db241a4ee83713"
"""The hash of schema v4 with default parameters. Changing it invalidates every saved model:
update this constant only together with a deliberate schema or parameter change."""


def test_twelve_names_in_the_table_order() -> None:
    assert SCHEMA_VERSION == 4
    assert FEATURE_NAMES == (
        "fvg_dist_atr",
        "fvg_size_atr",
        "ob_balance_atr",
        "sweep_recent",
        "struct_break",
        "log_bars_since_break",
        "swing_trend",
        "atr_pct",
        "vol_z",
        "mtf_trend",
        "ret_k_norm",
        "pd_position",
    )
    assert set(FEATURE_UNITS) == set(FEATURE_NAMES)


def test_every_feature_is_documented_in_the_package_readme() -> None:
    readme = (Path(features.__file__).parent / "README.md").read_text()
    for name in FEATURE_NAMES:
        assert f"`{name}`" in readme, name


def test_default_parameters_match_the_reference_values() -> None:
    p = DEFAULT_PARAMS
    assert (p.atr_period, p.pivot_left, p.pivot_right) == (14, 5, 5)
    assert (p.fvg_min_atr, p.fvg_max_age, p.fvg_max_count) == (0.1, 1440, 64)
    assert (p.ob_max_age, p.sweep_levels, p.sweep_window, p.break_window) == (2880, 5, 10, 1440)
    assert (p.vol_window, p.ret_k, p.ema_fast, p.ema_slow) == (60, 15, 20, 50)
    assert p.mtf_intervals == ("5m", "15m", "1h")
    assert p.mtf_periods_ms == (300_000, 900_000, 3_600_000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.atr_period = 7  # type: ignore[misc]


def test_default_hash_is_pinned() -> None:
    assert schema_hash() == PINNED_DEFAULT_HASH
    assert schema_hash(FeatureParams()) == PINNED_DEFAULT_HASH


def test_hash_is_the_same_in_a_fresh_interpreter() -> None:
    code = "from slt.features import schema_hash; print(schema_hash())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == PINNED_DEFAULT_HASH


@pytest.mark.parametrize(
    "change",
    [
        {"atr_period": 13},
        {"pivot_right": 4},
        {"fvg_min_atr": 0.2},
        {"mtf_intervals": ("5m", "15m")},
        {"mtf_intervals": ("15m", "5m", "1h")},
        {"pd_high": 1.25},
    ],
)
def test_any_parameter_change_changes_the_hash(change: dict[str, object]) -> None:
    other = dataclasses.replace(DEFAULT_PARAMS, **change)  # type: ignore[arg-type]
    assert schema_hash(other) != PINNED_DEFAULT_HASH
    assert len(schema_hash(other)) == 64


def test_check_schema_refuses_another_hash() -> None:
    check_schema(PINNED_DEFAULT_HASH)
    other = dataclasses.replace(DEFAULT_PARAMS, ret_k=10)
    with pytest.raises(SchemaMismatchError) as err:
        check_schema(PINNED_DEFAULT_HASH, other)
    assert err.value.expected == PINNED_DEFAULT_HASH
    assert err.value.actual == schema_hash(other)
    assert "retrain" in str(err.value)


@pytest.mark.parametrize(
    "bad",
    [
        {"atr_period": 0},
        {"pivot_left": -1},
        {"ret_k": 1.5},
        {"fvg_min_atr": -0.1},
        {"pd_low": 2.0},
        {"mtf_intervals": ()},
        {"mtf_intervals": ("1m",)},
        {"mtf_intervals": ("7m",)},
    ],
)
def test_invalid_parameters_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(DEFAULT_PARAMS, **bad)  # type: ignore[arg-type]


def test_order_block_capacity_bound_follows_the_pivot_spacing() -> None:
    # pivots of one side are >= min(L, R) + 1 bars apart, so at most this many breaks of one
    # side fit in ob_max_age bars
    assert DEFAULT_PARAMS.ob_capacity == 2880 // 6 + 3
    assert FeatureParams(pivot_left=1, pivot_right=3, ob_max_age=100).ob_capacity == 53
