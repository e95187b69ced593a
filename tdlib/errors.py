"""The project's errors: each message names what went wrong, the file involved, and the fix.

Long runs stop on these *before* storing anything wrong (non-finite losses, diverged weights,
mismatched recipes, bad data), and the command line turns them into one line and a non-zero exit:
``TdlibError`` -> exit 2, :class:`Diverged` -> exit 3.
"""
from __future__ import annotations


class TdlibError(Exception):
    """Base class: a user-facing error whose message says how to fix it."""


class DataError(TdlibError, ValueError):
    """A data file or array is missing, malformed or of the wrong shape or range."""


class ConfigError(TdlibError, ValueError):
    """A profile field, command-line flag or notebook parameter has a value that cannot work."""


class RecipeMismatch(TdlibError, ValueError):
    """A stored result was made with another recipe (config fields or data) than the one asked for.
    ``stale_file``: the results file to set aside to recompute (``run --replace-stale``), where one is."""

    def __init__(self, msg: str, stale_file=None):
        super().__init__(msg)
        self.stale_file = stale_file


class ResultsFileError(TdlibError, OSError):
    """A results file cannot be read or written (truncated JSON, read-only folder, ...)."""


class Diverged(TdlibError, FloatingPointError):
    """Training produced a non-finite loss or weights (or a loss far out of range): nothing is stored."""
