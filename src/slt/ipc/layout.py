"""Where things live in a ring's shared block: the one place both processes must agree on.

Little-endian int64 counters, each on its own 64-byte cache line so that the two processes do
not false-share: write_seq @0, read_seq @64, overruns @128, capacity @192, record size @200,
layout version @208, the consumer's sleep epoch @224 (odd while it sleeps, see
`slt.ipc.bell`); then `capacity` int64 tags @256 (a slot's tag is written when a published
batch ends in it, see `slt.ipc.ring`); then, from the next 64-byte boundary, `capacity`
records back to back. Tags and records live in separate regions so that a batch of records is
one contiguous byte range (two at the wrap): one slice copy, or one numpy view for the
zero-copy calls.

The constants are int64 indexes into the header (byte offset / 8), so that the ring reaches a
counter with one aligned 8-byte load or store through an int64 `memoryview`.
"""

from __future__ import annotations

WRITE = 0
READ = 8  # offset 64
OVERRUNS = 16  # offset 128
CAPACITY = 24  # offset 192
RECORD = 25  # offset 200
LAYOUT = 26  # offset 208
SLEEP = 28  # offset 224, on the line of constants: written only when the consumer dozes off
LAYOUT_VERSION = 3
"""Bumped whenever anything above moves or the tags change meaning (3: one tag per published
batch, in its last slot): a process built against another layout is refused."""
HEADER_BYTES = 256
TAG_BYTES = 8
TAG0 = HEADER_BYTES // TAG_BYTES
"""int64 index of the first slot's tag: slot `s`'s tag is word `TAG0 + s`."""


def records_offset(capacity: int) -> int:
    """Byte offset of the first record: past the tags, on a cache-line boundary."""
    end_of_tags = HEADER_BYTES + TAG_BYTES * capacity
    return (end_of_tags + 63) // 64 * 64
