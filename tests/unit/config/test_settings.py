"""Settings: defaults < config file < environment, and one readable error per bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from slt.config import ConfigError, Settings, load_settings


def test_plain_construction_uses_the_embedded_defaults() -> None:
    settings = Settings()
    assert settings.risk.stop_loss_pct == 0.01
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")


def test_config_file_overrides_defaults_and_env_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "slt.toml"
    path.write_text("[risk]\nstop_loss_pct = 0.02\ntake_profit_pct = 0.05\n")
    from_file = load_settings(path)
    assert (from_file.risk.stop_loss_pct, from_file.risk.take_profit_pct) == (0.02, 0.05)

    monkeypatch.setenv("SLT_RISK__STOP_LOSS_PCT", "0.03")
    both = load_settings(path)
    assert (both.risk.stop_loss_pct, both.risk.take_profit_pct) == (0.03, 0.05)
    # The file is only read by the call that names it.
    assert Settings().risk.take_profit_pct == 0.02


def test_legacy_switch_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISABLE_MODEL_TRAINING", "true")
    assert load_settings().disable_model_training is True


def test_a_bad_value_names_the_key_the_reason_and_the_env_var() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(risk={"risk_per_trade": -0.01})
    message = str(err.value)
    assert "risk.risk_per_trade" in message
    assert "SLT_RISK__RISK_PER_TRADE" in message
    assert "-0.01" in message


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "slt.toml"
    path.write_text("[risk]\nstop_los_pct = 0.02\n")
    with pytest.raises(ConfigError, match="stop_los_pct"):
        load_settings(path)


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
