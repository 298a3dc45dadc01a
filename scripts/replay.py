"""`ape run replay SCENARIO [--out DIR] [--network anvil|hardhat|URL]`: the same as `backstop replay`."""

from backstop.cli.main import replay as cli  # noqa: F401  (ape run picks up `cli`)
