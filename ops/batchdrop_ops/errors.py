"""The one error the operator commands tell."""

from __future__ import annotations


class ReportError(Exception):
    """A problem to tell the operator in one line; the command exits with status 2."""
