"""`backstop compare` and `backstop size-fund`: studies made of many replays of one scenario, run in parallel."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from backstop.cli.errors import BackstopCommand, require_file, require_writable_dir
from backstop.cli.options import parse_sets

SET_HELP = "Override a scenario field in every run, e.g. --set population.0.count=100 (a YAML value; repeatable)."
JOBS_HELP = "Replays run at once, each on its own chain (default: the number of CPU cores)."
NETWORK_HELP = (
    "Where each replay runs: anvil (default: a local Anvil of its own) or revm (the embedded EVM, in the "
    "worker's process: the same reports, several times faster; see README, 'Two chains')."
)
network_choice = click.option("--network", type=click.Choice(["anvil", "revm"]), default="anvil", show_default=True, help=NETWORK_HELP)


@click.command(cls=BackstopCommand)
@click.argument("scenario", type=click.Path(path_type=Path), required=False)
@click.option("--vary", "vary", multiple=True, metavar="KEY=V1,V2,...", help="One variant per value of a scenario field, e.g. --vary markets.0.auction.tau=600,1800 (repeatable).")
@click.option("--variant", "named", multiple=True, metavar="NAME", help="A named variant of the scenario file (its `variants:` section; repeatable).")
@click.option("--builtin", "builtins", multiple=True, metavar="NAME[:ARG]", help="A built-in variant, e.g. no_standing_bids (repeatable; see --list).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Folder to write compare.md and its files to (default: reports/<scenario>-compare).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help=JOBS_HELP)
@network_choice
@click.option("--list", "list_only", is_flag=True, help="List the built-in variants and, given a SCENARIO, its named ones, then exit.")
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
def compare(
    scenario: Path | None,
    vary: tuple[str, ...],
    named: tuple[str, ...],
    builtins: tuple[str, ...],
    sets: tuple[str, ...],
    out: Path | None,
    jobs: int | None,
    network: str,
    list_only: bool,
    no_progress: bool,
) -> None:
    """Replay SCENARIO as given and under each variant (in parallel) and write a comparison.

    Prints each variant's bad debt and fund used; exits 1 if any replay failed (its row says why).
    """
    if list_only:
        _list_variants(scenario)
        return
    if scenario is None:
        raise click.UsageError("give a SCENARIO file to compare (or --list to see the built-in variants)")
    require_file(scenario, "scenario file")
    overrides = parse_sets(sets)
    from backstop.studies.compare import compare as run_compare  # noqa: PLC0415

    out_dir = require_writable_dir(out or Path("reports") / f"{scenario.stem}-compare", "comparison folder")
    data = run_compare(scenario, out_dir, vary, named, builtins, overrides, jobs, progress=not no_progress, network=network)
    from backstop.report import fmt_usd  # noqa: PLC0415

    for row in data["variants"]:
        m = row["metrics"]
        status = "" if row["complete"] else f"  FAILED: {row['error']}"
        click.echo(f"{row['name']}: bad debt {fmt_usd(m['bad_debt_usd'])}, fund used {fmt_usd(m['fund_used_usd'])}{status}")
    click.echo(f"{len(data['variants'])} replays in {data['run']['wall_seconds']:.1f} s ({data['run']['jobs']} at a time)")
    click.echo(f"comparison: {out_dir / 'compare.md'}")
    if not all(row["complete"] for row in data["variants"]):
        sys.exit(1)


def _list_variants(scenario: Path | None) -> None:
    """`compare --list`: the scenario's named variants (when one is given) and the built-in ones."""
    from backstop.scenario import load_scenario  # noqa: PLC0415
    from backstop.scenario.variants import describe_builtins, describe_named  # noqa: PLC0415

    if scenario is None:
        click.echo("named variants (--variant): give a SCENARIO file to list its own (its `variants:` section)")
    else:
        named_variants = describe_named(load_scenario(require_file(scenario, "scenario file")))
        click.echo("named variants (--variant):" + ("" if named_variants else " none"))
        for name, what in named_variants.items():
            click.echo(f"  {name}: {what}")
    click.echo("built-in variants (--builtin):")
    for name, what in describe_builtins():
        click.echo(f"  {name}: {what}")


@click.command("size-fund", cls=BackstopCommand)
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Folder to write sizing.md and its files to (default: reports/<scenario>-size-fund).")
@click.option("--tolerance", type=float, default=0.05, show_default=True, help="Stop when the bracket around the smallest fund is within this share of the size found (in (0, 1)).")
@click.option("--safety", type=float, default=0.25, show_default=True, help="Margin of safety added to the size found (a share: 0.25 = 25%).")
@click.option("--max-factor", type=float, default=64.0, show_default=True, help="Give up beyond this multiple of the scenario's fund.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--jobs", type=click.IntRange(min=1), default=None, help=JOBS_HELP)
@click.option(
    "--fund-triggers-only", is_flag=True, help="Count only ADL the fund's own state starts (uncovered loss, fund-risk status), not liquidity-risk ADL after stale auctions."
)
@network_choice
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
def size_fund(
    scenario: Path,
    out: Path | None,
    tolerance: float,
    safety: float,
    max_factor: float,
    sets: tuple[str, ...],
    jobs: int | None,
    fund_triggers_only: bool,
    network: str,
    no_progress: bool,
) -> None:
    """Find the smallest starting fund (all pools scaled together) with which SCENARIO needs no ADL and leaves no bad debt.

    Prints the size found (in USD and as a multiple of the scenario's fund), the size with the safety margin, and
    the path of sizing.md.
    """
    require_file(scenario, "scenario file")
    overrides = parse_sets(sets)
    from backstop.studies.sizing import size_fund as run_sizing  # noqa: PLC0415

    out_dir = require_writable_dir(out or Path("reports") / f"{scenario.stem}-size-fund", "sizing folder")
    data = run_sizing(
        scenario, out_dir, tolerance, safety, jobs, overrides, progress=not no_progress, max_factor=max_factor, fund_triggers_only=fund_triggers_only, network=network
    )
    found = data["found"]
    click.echo(f"{data['message']}")
    click.echo(
        f"smallest fund: ${found['total_usd']:,.0f} ({found['factor']:.4g}x); with {data['safety']:.0%} safety: "
        f"${data['recommended']['total_usd']:,.0f}; {data['run']['replays']} replays in {data['run']['wall_seconds']:.1f} s"
    )
    click.echo(f"sizing: {out_dir / 'sizing.md'}")
