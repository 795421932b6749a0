"""The status line from plain board values."""

from __future__ import annotations

from slt.runtime.heartbeat import Beat, Phase
from slt.runtime.status import ChildView, duration, status_line

NOW = 1_700_000_000_000


def test_durations_read_coarsely() -> None:
    assert [duration(ms) for ms in (0, 45_000, 192_000, 18_420_000, 183_600_000)] == [
        "0s",
        "45s",
        "3m12s",
        "5h07m",
        "2d03h",
    ]


def test_the_line_shows_the_business_numbers_and_each_process() -> None:
    feed = Beat(
        "feed", 10, NOW - 192_000, NOW - 400, 190, Phase.RUNNING,
        {"symbols_live": 212, "rejected": 3, "malformed": 0, "rest_weight_used": 0},
    )  # fmt: skip
    brain = Beat(
        "brain", 11, NOW - 60_000, NOW - 800, 60, Phase.RUNNING,
        {"equity": 10012.346, "open_positions": 2, "rest_weight_used": 41, "orders_rejected": 0},
    )  # fmt: skip
    line = status_line(
        {"feed": ChildView("feed", 10, 0, feed), "brain": ChildView("brain", 11, 1, brain)},
        ring_depth=4,
        now_ms=NOW,
        ring_overruns=7,
    )
    assert line == (
        "status: 212 symbols live · ring depth 4 (overruns 7) · rejected 3 · malformed 0"
        " · REST weight feed 0 / brain 41 · equity 10012.35 · open positions 2"
        " · orders rejected 0 · feed pid 10 up 3m12s beat 0.4s ago restarts 0"
        " · brain pid 11 up 1m00s beat 0.8s ago restarts 1"
    )


def test_missing_numbers_are_question_marks_not_zeros() -> None:
    line = status_line(
        {"feed": ChildView("feed", None, 2, None), "brain": ChildView("brain", 11, 0, None)},
        ring_depth=0,
        now_ms=NOW,
    )
    assert "? symbols live" in line and "equity ?" in line
    assert "feed waiting to restart, restarts 2" in line
    assert "brain pid 11 starting restarts 0" in line
