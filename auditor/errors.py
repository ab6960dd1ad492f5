"""Errors with stable codes, so users and tests can tell failures apart.

Codes: E1xx input pages, E2xx reference data and rules, E3xx options and output, E4xx pipeline.
"""
from __future__ import annotations


class AuditorError(Exception):
    """An error the user can act on; ``str()`` is one line starting with its code."""

    code = "E000"

    def __init__(self, message: str, code: str | None = None):
        if code:
            self.code = code
        self.message = message
        super().__init__(f"[{self.code}] {message}")


class IngestError(AuditorError):
    """A page could not be read. The batch goes on; the page is reported with this error."""

    code = "E100"


class RuleError(AuditorError):
    """A rule or reference file is invalid; carries the file and line."""

    code = "E200"

    def __init__(self, message: str, path: str | None = None, line: int | None = None, code: str | None = None):
        where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        self.path, self.line = path, line
        super().__init__(f"{where}{message}", code)


class OptionsError(AuditorError):
    """Wrong options, missing paths, an unwritable output folder."""

    code = "E300"
