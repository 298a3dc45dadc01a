"""Option values the commands share."""

from __future__ import annotations

import click


def parse_sets(sets: tuple[str, ...]) -> dict:
    """The overrides of repeated --set KEY=VALUE options ({dotted key: YAML value}); a malformed one (no `=`, or
    a value that is not YAML) is a usage error naming --set and the option's text."""
    import yaml  # noqa: PLC0415

    from backstop.scenario import parse_overrides  # noqa: PLC0415

    out: dict = {}
    for item in sets:
        try:
            out.update(parse_overrides([item]))
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
            raise click.BadParameter(f"override {item!r}: the value is not YAML ({problem})", param_hint="--set") from None
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--set") from None
    return out
