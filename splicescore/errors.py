"""Errors that end a run, each with its documented exit code.

The CLI turns these into one line on stderr and the exit code (``splicescore.cli.main``); library code
only raises them. Exit codes:

====  =====================================================================
0     success
1     internal error (a bug: please report it; ``--debug`` shows the traceback)
2     command-line usage error (unknown option, bad value)
3     input error: unreadable or malformed VCF, FASTA, annotation or sequence table
4     model weights missing, corrupt or not importable
5     output error: the output cannot be written
130   interrupted (Ctrl-C, SIGINT); 143 SIGTERM, 129 SIGHUP: 128 + the signal (the partial output is kept)
====  =====================================================================
"""

from __future__ import annotations


class SpliceScoreError(Exception):
    """Base class: a run stops with ``exit_code`` and the message as one line on stderr."""

    exit_code = 1


class UsageError(SpliceScoreError):
    exit_code = 2


class ResumeMismatch(UsageError):
    """``--resume`` found a partial output that does not belong to this input or these options; the
    partial output is kept (it may be the one the user meant to resume)."""


class InputError(SpliceScoreError):
    """A problem with an input file; ``path`` and ``line`` (1-based) are named when known."""

    exit_code = 3

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class WeightsError(SpliceScoreError):
    exit_code = 4


class OutputError(SpliceScoreError):
    exit_code = 5
