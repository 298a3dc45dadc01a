"""The one exception base of Backstop's foreseeable errors.

Every error a user can cause or meet (a malformed scenario, an unknown variant, an unreachable node, a replay
that could not finish, ...) is a ``BackstopError`` subclass defined beside the code that raises it. The command
line (``backstop.cli``) catches ``BackstopError`` in one place, prints its message as one line and exits with
its ``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class BackstopError(Exception):
    """A foreseeable failure, told to the user as one line (``str(error)``) and a non-zero exit."""

    exit_code: int = 1


class BackstopWarning(UserWarning):
    """Something valid but probably a mistake (e.g. backstop.scenario.ScenarioWarning): the command line prints
    each as one ``backstop: warning: <message>`` line on stderr and goes on."""
