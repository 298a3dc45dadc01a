"""`backstop bench`: every benchmark into benchmarks/results.json and .md (backstop.bench.run); `backstop gas`: gas per
operation against the committed snapshot (backstop.bench.snapshot)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from backstop.cli.connect import connected, network_option
from backstop.cli.errors import BackstopCommand, require_writable_file

ADL_SIZES = (10, 100, 1_000, 10_000)  # = backstop.bench.adl.SIZES (not imported: --help stays free of Ape)
BID_SIZES = (10, 100, 1_000, 10_000)  # = backstop.bench.bids.SIZES
TRADER_SIZES = (1_000, 3_000, 10_000)  # = backstop.bench.backends.TRADER_SIZES


def _sizes(ctx: click.Context, param: click.Parameter, text: str) -> tuple[int, ...]:
    """A comma-separated list of positive integers ('' for none)."""
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated whole numbers, e.g. 10,100, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise click.BadParameter(f"every size must be at least 1, got {text!r}")
    return sizes


def _command(ctx: click.Context) -> str:
    """The command line as run (`backstop bench ...` or `ape run bench ...`), recorded in the results file."""
    args = sys.argv[sys.argv.index(ctx.info_name) + 1 :] if ctx.info_name in sys.argv else []
    return shlex.join([*ctx.command_path.split(), *args])


@click.command(cls=BackstopCommand)
@network_option
@click.option("--out", type=click.Path(path_type=Path), default=Path("benchmarks/results.json"), show_default=True,
              help="Results file (JSON) to write; its Markdown twin goes beside it with the suffix .md.")
@click.option("--adl-sizes", default=",".join(map(str, ADL_SIZES)), show_default=True, callback=_sizes,
              help="Open positions per market at which the ADL scaling figures are measured (comma-separated; '' skips them).")
@click.option("--bid-sizes", default=",".join(map(str, BID_SIZES)), show_default=True, callback=_sizes,
              help="Standing bids in the book at which the fill-gas scaling figures are measured (comma-separated; '' skips them).")
@click.option("--trader-sizes", default=",".join(map(str, TRADER_SIZES)), show_default=True, callback=_sizes,
              help="Traders at which the cost per step is measured on Anvil and on the embedded EVM (comma-separated; '' skips it).")
@click.option("--quick", is_flag=True, help="Skip the full OM replays (about 8 min) and the cost per step; the throughput target then reads the mini-crash fixture.")
@click.pass_context
def bench(
    ctx: click.Context, network: str | None, out: Path, adl_sizes: tuple[int, ...], bid_sizes: tuple[int, ...], trader_sizes: tuple[int, ...], quick: bool
) -> None:
    """Run every benchmark and write the results file (several minutes; see docs/benchmarks.md).

    Gas per operation and liquidations per 30M-gas block are measured on --network (a local chain); the ADL and
    standing-bid scaling and the replays start their own Anvil (or run on the embedded EVM). Prints each figure as it is measured, then the
    Markdown table.
    """
    from backstop.bench.run import run_benchmarks  # noqa: PLC0415

    require_writable_file(out, "results file")
    require_writable_file(out.with_suffix(".md"), "results file")
    with connected(network):
        path = run_benchmarks(out, _command(ctx), adl_sizes, bid_sizes, quick, log=click.echo, trader_sizes=trader_sizes)
    click.echo(path.with_suffix(".md").read_text())
    click.echo(f"written: {path} and {path.with_suffix('.md')}")


@click.command(cls=BackstopCommand)
@network_option
@click.option("--snapshot", "path", type=click.Path(path_type=Path), default=Path("snapshots/gas.json"), show_default=True,
              help="The gas snapshot to check against (or to write, with --update).")
@click.option("--update", is_flag=True, help="Write the measured gas as the new snapshot instead of checking it.")
@click.pass_context
def gas(ctx: click.Context, network: str | None, path: Path, update: bool) -> None:
    """Measure gas per operation and check it against the committed snapshot (about a minute).

    Fails when an operation costs more than 1% above the snapshot, or when the snapshot does not name exactly
    the operations measured; cheaper operations pass, with a reminder to --update so the gain is kept
    (backstop.bench.snapshot). Measured on --network (a fresh local chain); two figures start their own Anvil.
    """
    from backstop.bench.snapshot import compare, measure, read_snapshot, render, write_snapshot  # noqa: PLC0415

    if update:
        require_writable_file(path, "gas snapshot")
        with connected(network):
            measured = measure(log=click.echo)
        click.echo(f"written: {write_snapshot(measured, 'make gas-update', path)} ({len(measured)} operations)")
        return
    try:
        snapshot = read_snapshot(path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with connected(network):
        measured = measure(log=click.echo)
    result = compare(snapshot, measured)
    click.echo(render(snapshot, measured))
    if not result.ok:
        raise click.ClickException("gas above the snapshot:\n  " + "\n  ".join(result.problems())
                                   + f"\n(a deliberate change: `make gas-update` rewrites {path})")
    if result.improvements:
        click.echo(f"{len(result.improvements)} operation(s) cheaper than the snapshot: `make gas-update` keeps the gain")
    click.echo(f"gas: {len(measured)} operations within 1% of {path}")
