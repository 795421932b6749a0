"""Stand-in Feed and Brain processes for the Orchestrator tests (importable by name in a
spawned child, so module-level functions only).

Each incarnation reads how to behave from `<data_dir>/<role>.mode` and appends what it does
to `<data_dir>/events.log` (`<role> <event> <pid> <wall ns>` lines), which the tests read to
check order and counts. Modes:

* `healthy`: beat every `beat_interval_s` until SIGTERM, then (Brain) drain the ring and exit 0;
* `die`: beat twice (and until the other process runs), then exit with code 3, every time;
* `die-once`, `stuck-once`, `sigkill-once`: misbehave only in the first incarnation;
* `config-error`: beat twice, then exit with code 78 (a configuration error);
* `stuck`: beat twice, then block without beating (ignoring SIGTERM's flag);
* `ignore-term`: beat forever, SIGTERM ignored.

The Feed writes one candle record per beat into the ring; the Brain reads the ring on every
beat and once more when stopping (the drain).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from slt.runtime.heartbeat import HeartbeatBoard, Phase
from slt.runtime.shm import attach_ring
from slt.runtime.spec import RunSpec


def record(data_dir: Path, role: str, event: str) -> None:
    line = f"{role} {event} {os.getpid()} {time.time_ns()}\n"
    fd = os.open(data_dir / "events.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def events(data_dir: Path) -> list[tuple[str, str, int, int]]:
    """The events so far, in the order they were written."""
    path = data_dir / "events.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        role, event, pid, ns = line.split()
        out.append((role, event, int(pid), int(ns)))
    return out


def _incarnation(data_dir: Path, role: str) -> int:
    return sum(1 for r, e, _, _ in events(data_dir) if r == role and e == "start")


def _peer_running(data_dir: Path, role: str) -> bool:
    return any(r != role and e == "running" for r, e, _, _ in events(data_dir))


def _behave(role: str, spec: RunSpec) -> None:
    data_dir = spec.data_dir
    mode = (data_dir / f"{role}.mode").read_text().strip()
    first = _incarnation(data_dir, role) == 0
    record(data_dir, role, "start")
    if mode.endswith("-once"):
        mode = mode.removesuffix("-once") if first else "healthy"
    stopping = threading.Event()
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    board = HeartbeatBoard.attach(spec.heartbeat_name)
    ring = attach_ring(spec.ring_name)
    board.start(role, os.getpid())
    beats = 0
    candle = np.zeros((), dtype=ring.dtype)  # whatever fields the record has today
    candle["symbol"], candle["close"] = b"BTCUSDT", 1.5
    while not stopping.is_set():
        if role == "feed":
            ring.write(candle[()])
            board.beat(role, symbols_live=3, rejected=1, rest_weight_used=5)
        else:
            ring.read_batch()
            board.beat(role, equity=1000.5, open_positions=2, rest_weight_used=7)
        beats += 1
        if beats == 1:
            record(data_dir, role, "running")
            logging.getLogger("standin").info("%s is running", role)
        if beats < 2 or not _peer_running(data_dir, role):
            pass  # misbehave only once the other process is up, so it can stop gracefully
        elif mode == "die":
            record(data_dir, role, "die")
            sys.stdout.flush()
            os._exit(3)
        elif mode == "config-error":
            record(data_dir, role, "config-error")
            os._exit(78)
        elif mode == "sigkill":
            record(data_dir, role, "sigkill")
            os.kill(os.getpid(), signal.SIGKILL)
        elif mode == "stuck":
            record(data_dir, role, "stuck")
            while True:
                time.sleep(3600)
        time.sleep(spec.beat_interval_s)
    record(data_dir, role, "term")
    board.set_phase(role, Phase.STOPPING)
    if role == "brain":
        drained = len(ring.read_batch())
        record(data_dir, role, f"drained:{drained}")
    board.beat(role, phase=Phase.STOPPED)
    ring.close()
    board.close()
    record(data_dir, role, "exit")


def feed(spec: RunSpec) -> None:
    _behave("feed", spec)


def brain(spec: RunSpec) -> None:
    _behave("brain", spec)
