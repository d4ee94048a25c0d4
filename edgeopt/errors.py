"""Errors users see. Each names the problem and the fix; the CLI prints them on one line."""

from __future__ import annotations


class EdgeoptError(Exception):
    """A failure the user can act on. exit_code 1 = the step failed, 2 = bad usage or input."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f" ({self.hint})" if self.hint else "")


class UsageError(EdgeoptError):
    """Bad input: a missing file, a malformed option, an unknown name."""

    exit_code = 2


class ParityError(EdgeoptError):
    """An artifact's outputs differ from its source beyond the tolerance."""


class ConversionError(EdgeoptError):
    """A converter could not express the model in the target format."""


class AccuracyError(EdgeoptError):
    """A result misses its accuracy budget (or the default floor) against its float parent."""
