"""`ape run compare SCENARIO --builtin NAME --vary KEY=V1,V2 ...`: the same as `backstop compare`."""

from backstop.cli.main import compare as cli  # noqa: F401  (ape run picks up `cli`)
