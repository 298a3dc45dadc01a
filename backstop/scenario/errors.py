"""What a scenario's problems look like: ScenarioError, ScenarioWarning, and pydantic's errors in the format's words.

Every problem is a ``(field path, what was expected)`` pair; a :class:`ScenarioError` prints one line
``<file>: <field path>: <expected>`` per problem. Validators raise :class:`FieldProblem` with paths relative
to the model they validate; :func:`problems_of` turns a pydantic ``ValidationError`` into the file's problems.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from backstop.errors import BackstopError, BackstopWarning

__all__ = [
    "FieldProblem",
    "Loc",
    "ScenarioError",
    "ScenarioWarning",
    "field_problem",
    "format_path",
    "problems_of",
    "short",
]

Loc = tuple[str | int, ...]  # a field path as parts: ("markets", 0, "venues", "venue-a", 3, "t")


class ScenarioError(BackstopError, ValueError):
    """A scenario file (or an override of it) is not valid.

    ``file`` is the file as given to :func:`backstop.scenario.load_scenario`; ``problems`` is a list of
    ``(field path, what was expected)`` pairs; the message has one line ``<file>: <field path>: <expected>``
    per problem.
    """

    def __init__(self, file: str, problems: list[tuple[str, str]]):
        self.file = file
        self.problems = problems
        super().__init__("\n".join(f"{file}: {path}: {expected}" for path, expected in problems))


class ScenarioWarning(BackstopWarning):
    """A valid scenario with something that is probably a mistake (e.g. an outage after the scenario's end).

    Issued through :func:`warnings.warn` by ``load_scenario`` and ``Scenario.with_overrides``; the message is
    one line ``<file>: <field path>: <what is odd>``, as an error's.
    """


class FieldProblem(ValueError):
    """Raised inside validators: problems at paths relative to the model being validated."""

    def __init__(self, problems: list[tuple[Loc, str]]):
        self.problems = problems
        super().__init__("; ".join(msg for _, msg in problems))


def field_problem(loc: Loc, expected: str) -> FieldProblem:
    """One problem at `loc` (relative to the model being validated)."""
    return FieldProblem([(loc, expected)])


def format_path(parts: Iterable[str | int]) -> str:
    """A field path as the messages write it: ``markets[0].venues.venue-a[3].t``; ``<top level>`` if empty."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# union tags pydantic puts into error locations; they are not part of the file's field path
_UNION_TAGS = {"explicit", "generated", "points", "csv", "one", "each"}


def _file_path(loc: tuple[Any, ...], data: Any) -> list[str | int]:
    """The location of a pydantic error as a path through the input, dropping union tags."""
    parts: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            parts.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            parts.append(part)
            node = node[part]
        elif part in _UNION_TAGS:
            continue
        elif part == "[key]":
            parts[-1] = f"{parts[-1]} (the key)" if parts else "(a key)"
            node = None
        else:
            parts.append(part)
            node = None
    return parts


# pydantic error type -> what was expected, in the scenario format's words (``got`` is appended)
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
_BOUND_KEYS = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}
_KINDS = {
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "list_type": "a list",
    "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "string_type": "a string",
}


def _expected(err: Mapping[str, Any]) -> str:
    """What pydantic's error says was expected, in the scenario format's words."""
    kind, ctx = err["type"], err.get("ctx") or {}
    got = f" (got {short(err['input'])})" if "input" in err else ""
    if kind == "missing":
        return "a value: this field is required"
    if kind in _BOUNDS:
        return f"a value {_BOUNDS[kind]} {ctx[_BOUND_KEYS[kind]]}{got}"
    if kind in _KINDS:
        return _KINDS[kind] + got
    if kind == "literal_error":
        return f"one of {ctx['expected']}{got}"
    if kind == "too_short":
        return f"at least {ctx['min_length']} item(s){got}"
    if kind == "too_long":
        return f"at most {ctx['max_length']} item(s)"
    if kind == "union_tag_invalid":
        return f"'kind' to be one of {ctx['expected_tags']} (got {ctx.get('tag')!r})"
    if kind == "union_tag_not_found":
        return "a 'kind' field: 'explicit' or 'generated'"
    msg = err["msg"]
    for prefix in ("Value error, ", "Input should be "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg + got


def problems_of(exc: ValidationError, data: Any) -> list[tuple[str, str]]:
    """The problems of a pydantic ``ValidationError`` raised validating `data`, as (field path, expected)."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        base = _file_path(err["loc"], data)
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, FieldProblem):
            for loc, expected in inner.problems:
                problems.append((format_path([*base, *loc]), expected))
        else:
            problems.append((format_path(base), _expected(err)))
    return problems
