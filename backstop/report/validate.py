"""Checking a report dict against the schema (backstop.report.schema): every problem, one line each, with its
path in report.json (``series[3].markets.OM-USD.peak_8h: expected a number, got str``)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from backstop.report.schema import Report, type_name

__all__ = ["validate_report"]


_EXPECTED = {
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected an object",
    "model_type": "expected an object",
}
_LATE = ("schema_version", "fund_risk_bits")  # listed after every structural problem, in this order


def validate_report(report: Any) -> list[str]:
    """Every problem of `report` against the schema, one human-readable line each; [] when it conforms.

    Checks presence and type of every field, the enumerations (side, filled_by, via), ISO times, finite
    numbers, known fund_risk bits, the schema version and unknown top-level keys. It does not check that
    totals add up.
    """
    try:
        Report.model_validate(report)
    except ValidationError as exc:
        return _problems(report, exc.errors(include_url=False))
    return []


def _problems(report: Any, errors: list[Any]) -> list[str]:
    found: list[str] = []
    late: dict[str, list[str]] = {kind: [] for kind in _LATE}
    extra: list[str] = []
    for err in errors:
        kind, loc = err["type"], tuple(err["loc"])
        if kind == "extra_forbidden":
            extra.append(str(loc[0]))
        elif kind == "string_type" and loc and loc[-1] == "[key]":
            found.append(f"{_path(report, loc[:-2])}: key {loc[-2]!r} is not a string")
        else:
            line = f"{_path(report, loc, kind == 'missing')}: {_words(err)}"
            if kind in late:
                late[kind].append(line)
            else:
                found.append(line)
    found += [line for kind in _LATE for line in late[kind]]
    if extra:
        found.append(f"report: unknown top-level keys {', '.join(sorted(extra))}")
    return found


def _words(err: Any) -> str:
    kind, value = err["type"], err.get("input")
    if kind == "missing":
        return "missing"
    if kind == "finite_number":
        return f"expected a finite number, got {value!r}"
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {type_name(value)}"
    if kind == "invalid-json-value":
        return f"{type_name(value)} cannot be written to JSON"
    return err["msg"]


def _path(data: Any, loc: tuple[Any, ...], missing: bool = False) -> str:
    """`loc` as report.json's path (``series[3].markets.OM-USD.peak_8h``), read along `data` so that list
    indexes, keys and pydantic's union tags (``JsonValue``'s "list", "float", ...) are told apart."""
    text, value = "", data
    for i, key in enumerate(loc):
        if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            text, value = f"{text}[{key}]", value[key]
        elif isinstance(value, dict) and key in value or missing and i == len(loc) - 1:
            text = f"{text}.{key}" if text else str(key)
            value = value.get(key) if isinstance(value, dict) else None
    return text or "report"
