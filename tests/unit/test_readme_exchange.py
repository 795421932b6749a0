"""The README's promise, checked as a user would: `slt exchange serve` on the bundled data,
then the README's ccxt script against it, unchanged but for the port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_script() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The local exchange") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's local exchange section has a python block"
    return match.group(1)


def test_the_readme_ccxt_script_runs_against_slt_exchange_serve(tmp_path: Path) -> None:
    env = {**os.environ, "SLT_DATA_DIR": str(tmp_path / "data")}
    env.pop("SLT_DATABASE_URL", None)
    slt = Path(sys.executable).with_name("slt")
    server = subprocess.Popen(
        [str(slt), "exchange", "serve", "--port", "0", "--speed", "60"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        port = None
        deadline = time.monotonic() + 60
        lines = []
        assert server.stdout is not None
        while port is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
        assert port, "".join(lines)
        script = readme_script().replace("127.0.0.1:8900", f"127.0.0.1:{port}")
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
        )
        assert run.returncode == 0, run.stderr[-3000:]
        assert "'status': 'FILLED'" in run.stdout and "BTCUSDT" in run.stdout
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail("slt exchange serve did not stop on SIGTERM within 10 s")
