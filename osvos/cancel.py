"""Stopping long work on request: the caller's predicate and the exception it leads to. No Keras here, so the
API's worker recognises a cancelled job without importing the model stack."""
from __future__ import annotations

from typing import Callable

Cancel = Callable[[], bool]
"""Asked between steps; True means stop."""


class Cancelled(RuntimeError):
    """Raised when the caller's cancel predicate turned true (a user's cancel, or a worker shutting down)."""
