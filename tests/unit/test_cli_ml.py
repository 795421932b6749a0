"""The ML workflow a user runs, through the real command line on the bundled sample:
`slt train` → `slt model list/check/show/promote` → `slt backtest --strategy ml`.

Small model settings (a TOML file, as a user would write) keep it to seconds; everything else
is the default path: SQLite under the working folder, the sample loaded on first use, training
and checks in their capped child processes, the report written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slt import cli, cli_model
from slt.cli import app

SMALL = """
[model]
horizon_bars = 30
walk_forward_folds = 2
retrain_every_trades = 15
memory_limit_mb = 2048

[model.xgb]
num_boost_round = 30
early_stopping_rounds = 10
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SLT_DATABASE_URL", "SLT_DATA_DIR", "RELAXED_SIGNAL_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    for console in (cli.console, cli_model.console):  # wide enough for ids on one line
        monkeypatch.setattr(console, "width", 200)
    (tmp_path / "small.toml").write_text(SMALL)
    return tmp_path


def test_train_check_then_backtest_the_model_against_the_baselines(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    opts = ["--symbols", "BTCUSDT,DOGEUSDT", "--config", "small.toml"]

    trained = runner.invoke(app, ["train", *opts])
    assert trained.exit_code == 0, trained.output
    assert "loading the bundled sample" in trained.output
    assert "checks passed" in trained.output
    model_id = re.search(r"(m\d{8}-\d{9}-[0-9a-f]{8}) is the champion", trained.output)
    assert model_id is not None, trained.output
    mid = model_id.group(1)

    listed = runner.invoke(app, ["model", "list"])
    assert listed.exit_code == 0 and mid in listed.output and "passed" in listed.output

    shown = runner.invoke(app, ["model", "show", mid])
    assert shown.exit_code == 0 and "Checks of" in shown.output and "lookahead" in shown.output

    missing = runner.invoke(app, ["model", "promote", "m-nope"])
    assert missing.exit_code == 1 and "no model 'm-nope'" in missing.output

    # Relaxed thresholds make the model trade on this short sample, so retraining shows.
    monkeypatch.setenv("RELAXED_SIGNAL_MODE", "1")
    bt = runner.invoke(app, ["backtest", "--strategy", "ml", *opts])
    assert bt.exit_code == 0, bt.output
    assert f"model {mid}; trading out of sample from" in bt.output
    assert "Against the baselines" in bt.output and "buy-and-hold" in bt.output
    assert "Model retrains" in bt.output
    reports = list((workdir / "slt-data" / "reports").glob("backtest-*.html"))
    assert len(reports) == 1
    html = reports[0].read_text()
    assert "buy-and-hold" in html and mid in html


def test_a_backtest_without_a_champion_trains_and_checks_one_first(workdir: Path) -> None:
    runner = CliRunner()
    bt = runner.invoke(
        app, ["backtest", "--strategy", "ml", "--symbols", "LTCUSDT", "--config", "small.toml"]
    )
    assert bt.exit_code == 0, bt.output
    assert "No champion model yet" in bt.output
    assert "Against the baselines" in bt.output
    listed = runner.invoke(app, ["model", "list"])
    assert "champion" in listed.output and "passed" in listed.output
