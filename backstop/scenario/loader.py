"""Reading a scenario file: its bytes, as UTF-8, as YAML whose mappings have unique keys.

Every failure is a ScenarioError naming the file and ``<file>`` or the YAML line and column. Validating what
was read is ``backstop.scenario.document``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from backstop.scenario.errors import ScenarioError

__all__ = ["UniqueKeyLoader", "read_scenario_file"]


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a mapping with the same key twice (PyYAML silently keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_scenario_file(path: str | Path) -> tuple[Any, bytes]:
    """The YAML document in `path` and the file's bytes. Raises ScenarioError (file ``str(path)``) for a
    missing or unreadable file, text that is not UTF-8, a YAML syntax error or a duplicate key."""
    label = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ScenarioError(label, [("<file>", "an existing scenario file (not found)")]) from None
    except OSError as exc:
        raise ScenarioError(label, [("<file>", f"a readable scenario file ({exc.strerror})")]) from None
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except UnicodeDecodeError:
        raise ScenarioError(label, [("<file>", "UTF-8 text")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<yaml>"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(label, [(where, f"valid YAML ({problem})")]) from None
    return data, raw
