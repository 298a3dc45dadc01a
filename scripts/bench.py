"""`ape run bench ...`: the same as `backstop bench` (see `backstop bench --help`)."""

from backstop.cli.bench import bench as cli  # noqa: F401  (ape run picks up `cli`)
