"""Errors a tool call answers with, and the JSON body each one becomes.

Every rejection names what was wrong and where (`field`, a path such as
`records[3].annual_spend`), so that the caller, often a language model, can fix
its input and call again. The same body is the HTTP response and the text of an
MCP error result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

# Long inputs are cut in messages: a message must not echo a megabyte back.
_MAX_SHOWN_INPUT = 60


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of the input."""

    field: str
    message: str
    type: str = "invalid"

    def as_json(self) -> dict[str, str]:
        """The problem as it appears in an error body's `errors` list."""
        return {"field": self.field, "message": self.message, "type": self.type}


class ToolError(Exception):
    """A tool call that cannot be answered; `status` is its HTTP status code."""

    status = 500

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": str(self)}


class ToolInputError(ToolError):
    """The caller's input is wrong (HTTP 422); the message says where and how to fix it."""

    status = 422

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        if not problems:
            raise ValueError("ToolInputError needs at least one problem")
        self.problems = list(problems)
        first = self.problems[0]
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        super().__init__(f"{first.field}: {first.message}{suffix}")

    @classmethod
    def at(cls, field: str, message: str, type: str = "invalid") -> ToolInputError:
        """An error about a single field."""
        return cls([FieldProblem(field, message, type)])

    @property
    def field(self) -> str:
        """The first field that is wrong."""
        return self.problems[0].field

    def body(self) -> dict[str, Any]:
        """`error` (readable), `field` (the first wrong field) and every problem in `errors`."""
        return {
            "error": str(self),
            "field": self.field,
            "errors": [problem.as_json() for problem in self.problems],
        }


class BadRequestError(ToolError):
    """The request is not a JSON object at all (HTTP 400)."""

    status = 400

    def body(self) -> dict[str, Any]:
        """The error and the field it concerns: the whole body."""
        return {"error": str(self), "field": "body"}


class LimitExceededError(ToolError):
    """The input is larger than a configured limit (HTTP 413)."""

    status = 413

    def __init__(self, *, limit: str, maximum: int, actual: int, field: str, what: str) -> None:
        self.limit = limit
        self.maximum = maximum
        self.actual = actual
        self.field = field
        super().__init__(
            f"{field}: {actual} {what} is over the limit of {maximum} {what} ({limit}); "
            f"send less per call, or raise {limit} on the service"
        )

    def body(self) -> dict[str, Any]:
        """The error, the limit's setting name, the limit and the actual size."""
        return {
            "error": str(self),
            "field": self.field,
            "limit": self.limit,
            "maximum": self.maximum,
            "actual": self.actual,
        }


class InjectedFaultError(ToolError):
    """A failure injected on purpose by TOOLFLEET_FAULT_RATE (HTTP 500)."""

    def __init__(self, rate: float) -> None:
        super().__init__(
            f"injected fault: TOOLFLEET_FAULT_RATE={rate} makes this fraction of calls fail; "
            "set it to 0 to stop"
        )


def field_path(location: Sequence[int | str]) -> str:
    """A pydantic error location as a path: ("records", 3, "x") -> "records[3].x"."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


def from_validation_error(error: ValidationError) -> ToolInputError:
    """Turn pydantic's errors into one ToolInputError, every problem with its field."""
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"]
        if item["type"] not in ("missing", "extra_forbidden"):
            message += f" (got {_shown(item.get('input'))})"
        problems.append(FieldProblem(field_path(item["loc"]), message, item["type"]))
    return ToolInputError(problems)


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_SHOWN_INPUT:
        text = text[: _MAX_SHOWN_INPUT - 3] + "..."
    return text
