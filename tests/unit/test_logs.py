"""Logging: the repeat rule with plain values, the filter with an injected clock, the JSON and
plain line formats, and `setup_logging` keeping the earlier call's choices."""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slt import logs
from slt.logs import (
    EVERY_TIME,
    JsonFormatter,
    PlainFormatter,
    RepeatCounter,
    RepeatFilter,
    RoleFilter,
    setup_logging,
    summary_text,
)

WINDOW = 60_000


# --- the rule -------------------------------------------------------------------------------------
def test_first_is_shown_repeats_counted_and_summarised_once_the_window_ends() -> None:
    c = RepeatCounter(WINDOW)
    assert c.offer("k", 0, "a") == (True, [])
    assert c.offer("k", 10_000, "b") == (False, [])
    assert c.offer("k", 59_999, "c") == (False, [])
    assert c.offer("other", 30_000) == (True, [])
    show, due = c.offer("k", 60_000, "d")  # the window has ended: summary, then a fresh first
    assert show
    assert [(s.key, s.count, s.last) for s in due] == [("k", 3, "c")]
    assert c.expire(200_000) == []  # nothing suppressed since: no summary


@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 5 * WINDOW)), min_size=1, max_size=80)
)
def test_every_event_is_shown_or_counted_in_exactly_one_summary(
    events: list[tuple[str, int]],
) -> None:
    c = RepeatCounter(WINDOW)
    shown_at: dict[str, list[int]] = {}
    summarised = 0
    for key, now in sorted(events, key=lambda e: e[1]):
        show, due = c.offer(key, now)
        summarised += sum(s.count - 1 for s in due)
        if show:
            shown_at.setdefault(key, []).append(now)
    summarised += sum(s.count - 1 for s in c.expire(10**12, everything=True))
    assert sum(map(len, shown_at.values())) + summarised == len(events)
    for times in shown_at.values():  # at most one line per key and window
        assert all(b - a >= WINDOW for a, b in itertools.pairwise(times))


def test_beyond_max_keys_events_are_shown_untracked() -> None:
    c = RepeatCounter(WINDOW, max_keys=1)
    assert c.offer("a", 0)[0]
    assert c.offer("b", 1)[0] and c.offer("b", 2)[0]


def test_summary_wording() -> None:
    assert summary_text("x failed", 12) == "x failed (12 times in the last minute)"
    assert summary_text("x failed", 2, 30_000) == "x failed (2 times in the last 30 s)"


# --- the filter -----------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, RepeatFilter, Clock]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    clock = Clock()
    repeats = RepeatFilter(WINDOW, clock).bind(handler)
    logger = logging.getLogger(f"test.logs.{id(out)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, out, repeats, clock
    logger.removeHandler(handler)


def test_repeated_warnings_are_aggregated_per_template(
    captured: tuple[logging.Logger, io.StringIO, RepeatFilter, Clock],
) -> None:
    log, out, _, clock = captured
    for attempt in range(5):
        log.warning("reconnect to %s failed (attempt %d)", "wss://x", attempt)
        log.info("business as usual %d", attempt)  # INFO is never aggregated
        clock.now += 1_000
    log.error("order rejected: %s", "-2019")
    clock.now += WINDOW
    log.info("later")
    assert out.getvalue().splitlines() == [
        "WARNING reconnect to wss://x failed (attempt 0)",
        "INFO business as usual 0",
        "INFO business as usual 1",
        "INFO business as usual 2",
        "INFO business as usual 3",
        "INFO business as usual 4",
        "ERROR order rejected: -2019",
        "WARNING reconnect to wss://x failed (attempt 4) (5 times in the last minute)",
        "INFO later",
    ]


def test_lines_marked_every_time_are_never_aggregated(
    captured: tuple[logging.Logger, io.StringIO, RepeatFilter, Clock],
) -> None:
    log, out, _, _ = captured
    lifecycle = logging.LoggerAdapter(log, EVERY_TIME)
    lifecycle.error("%s (pid %s) %s", "feed", 10, "killed by SIGKILL")
    lifecycle.error("%s (pid %s) %s", "brain", 11, "killed by SIGKILL")
    assert out.getvalue().splitlines() == [
        "ERROR feed (pid 10) killed by SIGKILL",
        "ERROR brain (pid 11) killed by SIGKILL",
    ]


def test_flush_prints_due_summaries_and_everything_at_the_end(
    captured: tuple[logging.Logger, io.StringIO, RepeatFilter, Clock],
) -> None:
    log, out, repeats, clock = captured
    log.warning("disk slow")
    log.warning("disk slow")
    repeats.flush()
    assert out.getvalue().count("disk slow") == 1  # the window is still open
    clock.now += 5_000
    repeats.flush(everything=True)
    assert out.getvalue().splitlines()[-1] == "WARNING disk slow (2 times in the last minute)"


# --- formats --------------------------------------------------------------------------------------
def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("slt.feed", logging.WARNING, "f.py", 1, msg, args, None)
    record.created = 1_700_000_000.123
    for key, value in extra.items():
        setattr(record, key, value)
    RoleFilter("feed").filter(record)
    return record


def test_json_lines_have_ms_time_role_logger_message_and_extra_fields() -> None:
    line = JsonFormatter().format(_record("gap of %d candles", 3, symbol="BTCUSDT", **EVERY_TIME))
    assert orjson.loads(line) == {
        "ts": 1_700_000_000_123,
        "level": "WARNING",
        "role": "feed",
        "logger": "slt.feed",
        "msg": "gap of 3 candles",
        "symbol": "BTCUSDT",
    }


def test_json_carries_the_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = _record("failed")
        record.exc_info = sys.exc_info()
    assert "RuntimeError: boom" in orjson.loads(JsonFormatter().format(record))["exc"]


def test_plain_lines_are_utc_with_level_and_role() -> None:
    line = PlainFormatter().format(_record("gap of %d candles", 3))
    assert line == "2023-11-14T22:13:20.123Z WARNING feed         gap of 3 candles"


# --- set-up ---------------------------------------------------------------------------------------
@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    role, json = logs._role, logs._json
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs._role, logs._json = role, json


def test_setup_logging_keeps_the_earlier_role_and_format(restore_root: None) -> None:
    out = io.StringIO()
    setup_logging("INFO", json=True, role="brain", stream=out)
    setup_logging("DEBUG", stream=out)  # a child's own plain call after the wrapper's
    logging.getLogger("slt.x").debug("hello %s", "there")
    record = orjson.loads(out.getvalue().splitlines()[-1])
    assert (record["role"], record["msg"], record["level"]) == ("brain", "hello there", "DEBUG")


def test_setup_logging_with_a_level_only_writes_plain_lines(restore_root: None) -> None:
    logs._role, logs._json = "main", False
    out = io.StringIO()
    setup_logging("warning", stream=out)
    logging.getLogger("slt.x").info("hidden")
    logging.getLogger("slt.x").warning("shown")
    assert out.getvalue().endswith("WARNING main         shown\n")
    assert "hidden" not in out.getvalue()
