"""`slt run` refuses unsafe or incomplete venue choices before anything starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from slt.cli import app
from slt.runtime.launch import LaunchError, credentials

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--venue", "binance"], "exactly one of --testnet or --live"),
        (["--venue", "binance", "--testnet", "--live"], "exactly one of --testnet or --live"),
        (["--venue", "binance", "--live"], "--i-understand-this-trades-real-money"),
        (["--testnet"], "go with --venue binance"),
        (["--venue", "kraken"], "must be local or binance"),
    ],
)
def test_unsafe_or_incomplete_venue_choices_are_refused(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["run", *args])
    assert result.exit_code != 0
    assert message in result.output


def test_binance_keys_come_from_the_environment_only() -> None:
    with pytest.raises(LaunchError, match="SLT_API_KEY and SLT_API_SECRET"):
        credentials({"SLT_API_KEY": "k"})
    assert credentials({"SLT_API_KEY": "k", "SLT_API_SECRET": "s"}) == ("k", "s")


def test_a_bad_live_setting_names_its_key() -> None:
    result = runner.invoke(app, ["run", "--speed", "-5"])
    assert result.exit_code != 0
    assert "live.replay_speed" in result.output
