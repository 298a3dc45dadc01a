"""`backstop` on the command line (also reachable as `ape run replay ...`).

    backstop replay SCENARIO [--out DIR] [--network anvil|hardhat|URL] [--set KEY=VALUE ...]

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
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None, help="Report folder (default: reports/<scenario name>).")
@click.option("--network", default=None, help="anvil (default: started and stopped here), hardhat, or an RPC URL.")
@click.option("--set", "sets", multiple=True, help="Override a scenario field, e.g. --set keepers.0.latency=600 (repeatable).")
@click.option("--variant", default=None, help="Apply one of the scenario's named variants.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def replay(scenario: Path, out: Path | None, network: str | None, sets: tuple[str, ...], variant: str | None, no_progress: bool) -> None:
    """Replay SCENARIO (a YAML file) and write a report folder."""
    from ape.logging import logger  # noqa: PLC0415

    from backstop.replay import ReplayFailed, run_replay  # noqa: PLC0415
    from backstop.scenario import ScenarioError, parse_overrides  # noqa: PLC0415

    logger.set_level("WARNING")  # no line per deployment transaction; the progress bar tells the story

    if not scenario.exists():
        raise click.ClickException(f"scenario file {scenario} does not exist")
    out_dir = out or Path("reports") / (scenario.stem + (f"-{variant}" if variant else ""))
    try:
        overrides = parse_overrides(sets)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None
    try:
        report = run_replay(scenario, out_dir, network=network, progress=not no_progress, overrides=overrides, variant=variant)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    except ReplayFailed as exc:
        click.echo(f"error: {exc}", err=True)
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


if __name__ == "__main__":
    main()
