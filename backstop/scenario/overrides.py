"""Dotted-key overrides of a scenario: ``markets.0.auction.tau``, ``keepers.arb-bot.outages``, ``--set k=v``.

Keys walk the scenario's fields; a list item is chosen by its index or by its ``name``. The value replaces
what is at the path (a list or mapping as a whole). :func:`apply_overrides` changes a scenario's plain data
(``Scenario.model_dump``); validating the result is the caller's (``Scenario.with_overrides``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from backstop.errors import BackstopError
from backstop.scenario.errors import Loc, ScenarioError, short

__all__ = ["OverrideError", "apply_overrides", "parse_overrides", "set_dotted"]


class OverrideError(BackstopError, ValueError):
    """A command-line override that is not ``key=value``."""


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], label: str) -> dict[str, Loc]:
    """Sets every override in `data` (a deep copy of each value); returns key -> the field path it set, with
    list items resolved to indices. Raises ScenarioError (file `label`) for a key that names no field."""
    where: dict[str, Loc] = {}
    for key, value in overrides.items():
        if not isinstance(key, str) or not key:
            raise ScenarioError(label, [(f"overrides[{key!r}]", "a dotted key string such as markets.0.auction.tau")])
        where[key] = set_dotted(data, key, copy.deepcopy(value), label)
    return where


def set_dotted(data: Any, key: str, value: Any, label: str) -> Loc:
    """Sets `value` at the dotted `key` in `data`; returns the path it set. Raises ScenarioError naming `key`."""
    parts = key.split(".")
    node = data
    loc: list[str | int] = []
    for depth, part in enumerate(parts):
        where = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                raise ScenarioError(label, [(f"overrides[{key!r}]", f"at {where}: {_list_choices(node)}")])
            loc.append(index)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            loc.append(part)
            if last:
                node[part] = value
            elif part not in node:
                raise ScenarioError(label, [(f"overrides[{key!r}]", f"at {where}: one of {', '.join(map(str, node))}")])
            else:
                if node[part] is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ScenarioError(label, [(f"overrides[{key!r}]", f"at {where}: a list or mapping to descend into (found {short(node)})")])
    return tuple(loc)


def _list_index(items: list[Any], part: str) -> int | None:
    if part.isdigit():
        i = int(part)
        return i if i < len(items) else None
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("name") == part:
            return i
    return None


def _list_choices(items: list[Any]) -> str:
    """What may select an item of `items`: an index, or the name of an item (listed when items have names)."""
    names = [str(item["name"]) for item in items if isinstance(item, Mapping) and item.get("name") is not None]
    choices = f"an index 0..{len(items) - 1} or the name of an item"
    return f"{choices} (names: {', '.join(names)})" if names else choices


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Command-line overrides ``key=value`` to a dict; values are read as YAML (``600``, ``[]``, ``{a: 1}``).
    Raises OverrideError (a ValueError) for an item without ``=`` or key."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise OverrideError(f"override {item!r}: expected key=value, e.g. markets.0.auction.tau=600")
        out[key.strip()] = yaml.safe_load(raw)
    return out
