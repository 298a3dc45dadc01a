"""The one place where a foreseeable error becomes a message and an exit status.

Every `backstop` command (and the `ape run` script that exposes it) is a :class:`BackstopCommand`: when its
callback raises a :class:`backstop.errors.BackstopError`, the command prints the error's message on stderr,
each line prefixed with ``backstop:`` (one line for one problem; a malformed scenario with three problems gives
three), and exits with the error's ``exit_code``. A :class:`backstop.errors.BackstopWarning` (a scenario's
ScenarioWarning: valid, but probably a mistake) is printed as one ``backstop: warning: <message>`` line and the
command goes on. Nothing else is caught here: click's own usage errors keep click's format (exit 2), and any
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import click

from backstop.errors import BackstopError, BackstopWarning


class BackstopCommand(click.Command):
    """A click command whose BackstopError becomes ``backstop: <message>`` on stderr and a non-zero exit, and
    whose BackstopWarnings (a scenario's ScenarioWarnings) each become one ``backstop: warning: <message>`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        """Runs the command; maps a BackstopError to its message and exit code (see the module docstring)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default", BackstopWarning)  # each message once (a scenario loaded twice warns once)
                warnings.showwarning = _show_warning(warnings.showwarning)
                return super().invoke(ctx)
        except BackstopError as error:
            lines = str(error).strip().splitlines() or [type(error).__name__]
            for line in lines:
                click.echo(f"backstop: {line}", err=True)
            sys.exit(error.exit_code)


def _show_warning(fallback: Any) -> Any:
    """warnings.showwarning that prints a BackstopWarning as ``backstop: warning: <message>`` (each line of it)
    and hands any other warning to `fallback`."""

    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: str | None = None) -> None:
        if not issubclass(category, BackstopWarning):
            fallback(message, category, filename, lineno, file, line)
            return
        for text in str(message).strip().splitlines() or [category.__name__]:
            click.echo(f"backstop: warning: {text}", err=True)

    return show


class MissingFile(BackstopError):
    """A file named on the command line does not exist."""


def require_file(path: Path, what: str) -> Path:
    """`path` if it is an existing file; else MissingFile naming it as `what` (e.g. "scenario file")."""
    if not path.is_file():
        raise MissingFile(f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file")
    return path


class UnwritableOutput(BackstopError):
    """An output named on the command line cannot be written (checked before any work starts)."""


def require_writable_dir(path: Path, what: str) -> Path:
    """`path` if it is a folder, or can be made one, that a file can be written into; else UnwritableOutput
    naming it as `what` (e.g. "report folder") and why. It is tried for real (root ignores permission bits, and a
    read-only mount has none to read): the folders made for the try are removed again."""
    if path.exists() and not path.is_dir():
        raise UnwritableOutput(f"cannot write the {what} {path}: it is an existing file, not a folder")
    missing = [p for p in (path, *path.parents) if not p.exists()]
    made: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker else (exc.strerror or str(exc)).lower()
        raise UnwritableOutput(f"cannot write the {what} {path}: {why}") from None
    finally:
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                pass
    return path


def require_writable_file(path: Path, what: str) -> Path:
    """`path` if a file can be written there (its folder writable, the path no folder); else UnwritableOutput."""
    if path.is_dir():
        raise UnwritableOutput(f"cannot write the {what} {path}: it is an existing folder, not a file")
    require_writable_dir(path.parent, f"folder of the {what}")
    return path
