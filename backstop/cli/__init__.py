"""`backstop`, the one command line."""

from backstop.cli.main import main  # noqa: F401
