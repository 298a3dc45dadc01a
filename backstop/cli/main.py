"""`backstop` on the command line (also reachable as `ape run replay ...`).

    backstop replay SCENARIO [--out DIR] [--network anvil|hardhat|URL] [--set KEY=VALUE ...]
    backstop replay --resume DIR [--network ...]      (finish a replay that left a partial report in DIR)
    backstop compare SCENARIO [--vary KEY=V1,V2 ...] [--variant NAME ...] [--builtin NAME ...] [--out DIR] [--jobs N]
    backstop size-fund SCENARIO [--out DIR] [--tolerance F] [--safety F] [--jobs N] [--fund-triggers-only]

Run it from the project folder (Ape reads ape-config.yaml and the compiled contracts there).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def main() -> None:
    """Backstop: replay crashes against an on-chain insurance fund, liquidation auction and ADL queue."""


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path), required=False)
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Report folder (default: reports/<scenario name>).")
@click.option("--network", default=None, help="anvil (default: started and stopped here), hardhat, or an RPC URL.")
@click.option("--set", "sets", multiple=True, help="Override a scenario field, e.g. --set keepers.0.latency=600 (repeatable).")
@click.option("--variant", default=None, help="Apply one of the scenario's named variants.")
@click.option("--resume", "resume", type=click.Path(path_type=Path), default=None, help="Finish the replay whose partial report is in this folder (same scenario file and overrides, from t = 0 on a fresh chain).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def replay(scenario: Path | None, out: Path | None, network: str | None, sets: tuple[str, ...], variant: str | None, resume: Path | None, no_progress: bool) -> None:
    """Replay SCENARIO (a YAML file) and write a report folder; or, with --resume DIR, finish a partial one."""
    from ape.logging import logger  # noqa: PLC0415

    from backstop.replay import NothingToResume, ReplayFailed, resume_replay, run_replay  # noqa: PLC0415
    from backstop.scenario.document import ScenarioError, parse_overrides  # noqa: PLC0415

    logger.set_level("WARNING")  # no line per deployment transaction; the progress bar tells the story

    if resume is not None:
        if scenario is not None or sets or variant or out:
            raise click.UsageError("--resume DIR takes the scenario, overrides and folder from DIR/report.json; give nothing else")
        out_dir = resume
        run = lambda: resume_replay(resume, network=network, progress=not no_progress)  # noqa: E731
    else:
        if scenario is None:
            raise click.UsageError("give a SCENARIO file, or --resume DIR")
        if not scenario.exists():
            raise click.ClickException(f"scenario file {scenario} does not exist")
        out_dir = out or Path("reports") / (scenario.stem + (f"-{variant}" if variant else ""))
        try:
            overrides = parse_overrides(sets)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--set") from None
        run = lambda: run_replay(scenario, out_dir, network=network, progress=not no_progress, overrides=overrides, variant=variant)  # noqa: E731
    try:
        report = run()
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    except NothingToResume as exc:
        click.echo(str(exc))
        return
    except ReplayFailed as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.out_dir is not None:
            click.echo(f"to finish it: backstop replay --resume {exc.out_dir}", err=True)
        sys.exit(1)
    for note in report["run"].get("setup", {}).get("notes", []):
        click.echo(f"note: {note}", err=True)
    t = report["totals"]
    click.echo(
        f"{report['scenario']['name']}: {t['liquidations']} liquidations (${t['liquidated_notional']:,.0f}), "
        f"fund used ${t['fund_used']:,.0f}, bad debt ${t['bad_debt']:,.0f}, peak drawdown {t['peak_drawdown_pct']:.1f}%"
    )
    tp = report["throughput"]
    if tp.get("ratio") is not None:
        click.echo(f"throughput: {tp['tx_per_s']} tx/s, raw Anvil {tp['raw_anvil_tx_per_s']} tx/s (ratio {tp['ratio']})")
    click.echo(f"report: {out_dir / 'report.md'}")


def _base_overrides(sets: tuple[str, ...]) -> dict:
    from backstop.scenario.document import parse_overrides  # noqa: PLC0415

    try:
        return parse_overrides(sets)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--vary", "vary", multiple=True, help="KEY=V1,V2,...: one variant per value (repeatable).")
@click.option("--variant", "named", multiple=True, help="A named variant of the scenario file (repeatable).")
@click.option("--builtin", "builtins", multiple=True, help="A built-in variant (repeatable; see --list).")
@click.option("--set", "sets", multiple=True, help="Override a field in every run, e.g. --set population.0.count=100.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Folder (default: reports/<scenario>-compare).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Replays at once (default: the number of cores).")
@click.option("--list", "list_only", is_flag=True, help="List the scenario's named variants and the built-in ones, then exit.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def compare(scenario: Path, vary: tuple[str, ...], named: tuple[str, ...], builtins: tuple[str, ...], sets: tuple[str, ...], out: Path | None, jobs: int | None, list_only: bool, no_progress: bool) -> None:
    """Replay SCENARIO as given and under each variant (in parallel) and write a comparison."""
    from backstop.studies.compare import compare as run_compare  # noqa: PLC0415
    from backstop.scenario.document import ScenarioError, load_scenario  # noqa: PLC0415
    from backstop.scenario.variants import VariantError, describe_builtins, describe_named  # noqa: PLC0415

    if not scenario.exists():
        raise click.ClickException(f"scenario file {scenario} does not exist")
    overrides = _base_overrides(sets)
    if list_only:
        try:
            named_variants = describe_named(load_scenario(scenario))
        except ScenarioError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("named variants (--variant):" + ("" if named_variants else " none"))
        for name, what in named_variants.items():
            click.echo(f"  {name}: {what}")
        click.echo("built-in variants (--builtin):")
        for name, what in describe_builtins():
            click.echo(f"  {name}: {what}")
        return
    out_dir = out or Path("reports") / f"{scenario.stem}-compare"
    try:
        data = run_compare(scenario, out_dir, vary, named, builtins, overrides, jobs, progress=not no_progress)
    except (ScenarioError, VariantError) as exc:
        raise click.ClickException(str(exc)) from None
    from backstop.report import fmt_usd  # noqa: PLC0415

    for row in data["variants"]:
        m = row["metrics"]
        status = "" if row["complete"] else f"  FAILED: {row['error']}"
        click.echo(f"{row['name']}: bad debt {fmt_usd(m['bad_debt_usd'])}, fund used {fmt_usd(m['fund_used_usd'])}{status}")
    click.echo(f"{len(data['variants'])} replays in {data['run']['wall_seconds']:.1f} s ({data['run']['jobs']} at a time)")
    click.echo(f"comparison: {out_dir / 'compare.md'}")
    if not all(row["complete"] for row in data["variants"]):
        sys.exit(1)


@main.command("size-fund")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Folder (default: reports/<scenario>-size-fund).")
@click.option("--tolerance", type=float, default=0.05, show_default=True, help="Stop when the bracket is within this share of the size found.")
@click.option("--safety", type=float, default=0.25, show_default=True, help="Margin of safety added to the size found (a share).")
@click.option("--max-factor", type=float, default=64.0, show_default=True, help="Give up beyond this multiple of the scenario's fund.")
@click.option("--set", "sets", multiple=True, help="Override a field in every run, e.g. --set population.0.count=100.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Replays at once (default: the number of cores).")
@click.option("--fund-triggers-only", is_flag=True, help="Count only ADL the fund's own state starts (uncovered loss, fund-risk status), not liquidity-risk ADL after stale auctions.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def size_fund(scenario: Path, out: Path | None, tolerance: float, safety: float, max_factor: float, sets: tuple[str, ...], jobs: int | None, fund_triggers_only: bool, no_progress: bool) -> None:
    """Find the smallest starting fund (all pools scaled together) with which SCENARIO needs no ADL and leaves no bad debt."""
    from backstop.scenario.document import ScenarioError  # noqa: PLC0415
    from backstop.studies.sizing import SizingError  # noqa: PLC0415
    from backstop.studies.sizing import size_fund as run_sizing  # noqa: PLC0415

    if not scenario.exists():
        raise click.ClickException(f"scenario file {scenario} does not exist")
    overrides = _base_overrides(sets)
    out_dir = out or Path("reports") / f"{scenario.stem}-size-fund"
    try:
        data = run_sizing(scenario, out_dir, tolerance, safety, jobs, overrides, progress=not no_progress, max_factor=max_factor, fund_triggers_only=fund_triggers_only)
    except (ScenarioError, SizingError) as exc:
        raise click.ClickException(str(exc)) from None
    found = data["found"]
    click.echo(f"{data['message']}")
    click.echo(
        f"smallest fund: ${found['total_usd']:,.0f} ({found['factor']:.4g}x); with {data['safety']:.0%} safety: "
        f"${data['recommended']['total_usd']:,.0f}; {data['run']['replays']} replays in {data['run']['wall_seconds']:.1f} s"
    )
    click.echo(f"sizing: {out_dir / 'sizing.md'}")


if __name__ == "__main__":
    main()
