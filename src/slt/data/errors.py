"""The one fatal error of the data layer: a file that cannot be imported at all.

A bad *row* is not fatal (it is rejected, reported and skipped); a bad *file* is. The message
is a single line that names the file, the line where reading stopped and what to do about it,
because the person reading it is at a terminal with the file open in an editor.
"""

from __future__ import annotations

from pathlib import Path


class DataImportError(Exception):
    """A file cannot be imported; nothing of it was written.

    `line` is the 1-based physical line of the (decompressed) text, or None when the problem
    is about the file as a whole (missing, unreadable name, empty).
    """

    def __init__(self, source: str | Path, problem: str, fix: str, line: int | None = None):
        self.source = str(source)
        self.problem = problem
        self.fix = fix
        self.line = line
        where = f"{self.source}:{line}" if line is not None else self.source
        super().__init__(f"{where}: {problem}; {fix}")
