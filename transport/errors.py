"""User-facing errors: one exception tree, one line each, exit code 2 at the CLI.

Every message names where the problem is (file), what (field), the bad value and what was expected, so that a
modeller can fix the input without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

Problem = tuple[str, Any, str]  # (field, bad value, what is expected)


class UserError(Exception):
    """An error in something the user gave us (a file, a name, a query). Printed as one line, exit code 2."""

    exit_code = 2

    def __init__(self, where: str | Path, field: str, value: Any, expected: str) -> None:
        self.where = str(where)
        self.field = field
        self.value = value
        self.expected = expected
        self.problems: tuple[Problem, ...] = ((field, value, expected),)
        super().__init__(self.one_line())

    @classmethod
    def collected(cls, where: str | Path, problems: Sequence[Problem]) -> Self:
        """One error listing every problem found in `where` (checks report everything at once, not the first)."""
        first = problems[0]
        error = cls(where, *first)
        error.problems = tuple(problems)
        error.args = (error.one_line(),)
        return error

    def __reduce__(self) -> tuple[Any, ...]:
        # raised in a worker process (runs.parallel), it crosses to the parent pickled: rebuilt from its problems
        return (_rebuilt, (type(self), self.where, self.problems))

    def one_line(self) -> str:
        parts = [f"{field}: got {_shown(value)}; expected {expected}" for field, value, expected in self.problems]
        if len(parts) == 1:
            text = f"{self.where}: {parts[0]}"
        else:
            text = f"{self.where}: {len(parts)} problems: " + " | ".join(f"({i}) {p}" for i, p in enumerate(parts, 1))
        return " ".join(text.split())


def _rebuilt(cls: type[UserError], where: str, problems: Sequence[Problem]) -> UserError:
    return cls.collected(where, problems)


def _shown(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f"'{value}'"


class ScenarioError(UserError):
    """A scenario file or scenario name is wrong."""


class DatasetError(UserError):
    """A dataset table (CSV or TOML) is wrong."""


class QueryError(UserError):
    """A query against the results store is refused or fails."""


class StoreError(UserError):
    """The results store cannot be opened or written."""


class RunError(UserError):
    """A run's arguments do not fit the machine or the services it needs (memory, disk, a Dask scheduler)."""
