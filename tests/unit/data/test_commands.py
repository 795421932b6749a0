"""`slt data import` / `slt data list` on a SQLite store in a temporary data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from slt.data.commands import data_app

HEADER = "open_time,open,high,low,close,volume"
T0 = 1_749_551_700_000
MIN = 60_000


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("SLT_DATABASE_URL", raising=False)
    monkeypatch.setenv("SLT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def rows(n: int) -> list[str]:
    return [f"{T0 + i * MIN},10,11,9,10.5,1" for i in range(n)]


def test_import_then_reimport_then_list(runner: CliRunner, tmp_path: Path) -> None:
    path = csv(tmp_path / "BTCUSDT-1m.csv", [*rows(10), f"{T0 + 10 * MIN},10,9,11,10,1"])
    first = runner.invoke(data_app, ["import", str(path)])
    assert first.exit_code == 0, first.output
    assert "BTCUSDT 1m" in first.output
    assert "BTCUSDT-1m.csv:12: high 9.0 is below low 11.0" in first.output
    assert (tmp_path / "data" / "slt.db").is_file()

    again = runner.invoke(data_app, ["import", str(path)])
    assert again.exit_code == 0, again.output
    line = next(x for x in again.output.splitlines() if "BTCUSDT 1m" in x)
    assert line.split()[-6:-2] == ["11", "0", "10", "1"]  # read, new, present, rejected

    listed = runner.invoke(data_app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "BTCUSDT" in listed.output and "2025-06-10 10:35" in listed.output


def test_symbol_and_interval_options(runner: CliRunner, tmp_path: Path) -> None:
    path = csv(tmp_path / "export.csv", rows(3))
    result = runner.invoke(
        data_app, ["import", str(path), "--symbol", "SOLUSDT", "--interval", "1m"]
    )
    assert result.exit_code == 0, result.output
    assert "SOLUSDT" in runner.invoke(data_app, ["list"]).output


def test_bad_file_exits_1_with_one_error_line(runner: CliRunner, tmp_path: Path) -> None:
    good = csv(tmp_path / "LTCUSDT-1m.csv", rows(3))
    bad = csv(tmp_path / "ADAUSDT-1m.csv", [*rows(3), "1,2"])
    result = runner.invoke(data_app, ["import", str(good), str(bad)])
    assert result.exit_code == 1
    errors = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert len(errors) == 1
    assert f"{bad}:5: 2 columns where the file has 6" in errors[0]
    assert "1 earlier file(s) were imported" in errors[0]


def test_uninferable_name_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(data_app, ["import", str(csv(tmp_path / "candles.csv", rows(2)))])
    assert result.exit_code == 1
    assert "pass --symbol and --interval" in result.output


def test_unreachable_database_exits_1(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLT_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    result = runner.invoke(data_app, ["list"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot reach PostgreSQL at")


def test_empty_store_list_says_how_to_fill_it(runner: CliRunner) -> None:
    result = runner.invoke(data_app, ["list"])
    assert result.exit_code == 0 and "slt data import" in result.output
