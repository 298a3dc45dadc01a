"""`ape run size_fund SCENARIO [--tolerance F] [--safety F]`: the same as `backstop size-fund`."""

from backstop.cli.main import size_fund as cli  # noqa: F401  (ape run picks up `cli`)
