"""User-facing errors: one exception tree, one line each, exit code 2 at the CLI.

Every message names where the problem is (file), what (field), the bad value and what was expected, so that a
modeller can fix the input without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class UserError(Exception):
    """An error in something the user gave us (a file, a name, a query). Printed as one line, exit code 2."""

    exit_code = 2

    def __init__(self, where: str | Path, field: str, value: Any, expected: str) -> None:
        self.where = str(where)
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(self.one_line())

    def one_line(self) -> str:
        value = repr(self.value) if not isinstance(self.value, str) else f"'{self.value}'"
        text = f"{self.where}: {self.field}: got {value}; expected {self.expected}"
        return " ".join(text.split())


class ScenarioError(UserError):
    """A scenario file or scenario name is wrong."""


class DatasetError(UserError):
    """A dataset table (CSV or TOML) is wrong."""


class QueryError(UserError):
    """A query against the results store is refused or fails."""


class StoreError(UserError):
    """The results store cannot be opened or written."""
