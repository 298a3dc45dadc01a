"""`backstop replay`: replay a crash scenario into a report folder, or finish a partial one (--resume)."""

from __future__ import annotations

from pathlib import Path

import click

from backstop.cli.errors import BackstopCommand, require_file, require_writable_dir
from backstop.cli.options import parse_sets
from backstop.errors import BackstopError


@click.command(cls=BackstopCommand)
@click.argument("scenario", type=click.Path(path_type=Path), required=False)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), default=None, help="Report folder to write (default: reports/<scenario name>, or reports/<scenario name>-<variant>)."
)
@click.option(
    "--network",
    default=None,
    metavar="anvil|revm|hardhat|URL",
    help="anvil (default: a local Anvil started and stopped here, without step tracing), revm (the embedded EVM "
    "in this process: the same report, several times faster, nothing left to inspect with cast), hardhat (a "
    "Hardhat node that ape-hardhat starts), or the RPC URL of a running node, e.g. http://127.0.0.1:8545.",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a scenario field, e.g. --set keepers.0.latency=600 (a YAML value; repeatable).")
@click.option("--variant", default=None, metavar="NAME", help="Apply one of the scenario file's named variants (its `variants:` section).")
@click.option(
    "--resume",
    "resume",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    help="Finish the replay whose partial report is in DIR (same scenario file and overrides, from t = 0 on a fresh chain); give nothing else with it.",
)
@click.option(
    "--check-step",
    is_flag=True,
    help="Replay at half the step as well (every step of the grid halved, into OUT/half-step) and write "
    "OUT/check-step.md and .json: each headline figure side by side with its difference. Exits 1 when "
    "bad debt, fund used or ADL'd notional differ by more than 10% (and more than $1,000).",
)
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
def replay(
    scenario: Path | None, out: Path | None, network: str | None, sets: tuple[str, ...], variant: str | None, resume: Path | None, check_step: bool, no_progress: bool
) -> None:
    """Replay SCENARIO (a YAML file) and write a report folder; or, with --resume DIR, finish a partial one.

    Prints the totals (liquidations, fund used, bad debt, peak drawdown), the throughput and the report's path.
    Run it from the project folder (Ape reads ape-config.yaml and the compiled contracts there).
    """
    if resume is not None:
        if scenario is not None or sets or variant or out or check_step:
            raise click.UsageError("--resume DIR takes the scenario, overrides and folder from DIR/report.json; give nothing else")
        out_dir = require_writable_dir(resume, "report folder")
    else:
        if scenario is None:
            raise click.UsageError("give a SCENARIO file, or --resume DIR")
        require_file(scenario, "scenario file")
        out_dir = require_writable_dir(out or Path("reports") / (scenario.stem + (f"-{variant}" if variant else "")), "report folder")
        overrides = parse_sets(sets)

    from ape.logging import logger  # noqa: PLC0415

    from backstop.replay import NothingToResume, ReplayFailed, resume_replay, run_replay  # noqa: PLC0415
    from backstop.report.reconcile import reconcile  # noqa: PLC0415

    logger.set_level("WARNING")  # no line per deployment transaction; the progress bar tells the story
    if check_step:
        _check_step(scenario, out_dir, network, not no_progress, overrides, variant)
        return
    try:
        if resume is not None:
            report = resume_replay(resume, network=network, progress=not no_progress)
        else:
            report = run_replay(scenario, out_dir, network=network, progress=not no_progress, overrides=overrides, variant=variant)
    except NothingToResume as exc:  # not an error: the report is already complete
        click.echo(str(exc))
        return
    except ReplayFailed as exc:
        if exc.out_dir is None:
            raise
        raise ReplayFailed(f"{exc}\nto finish it: backstop replay --resume {exc.out_dir}", exc.out_dir) from None
    for note in report["run"].get("setup", {}).get("notes", []):
        click.echo(f"note: {note}", err=True)
    t = report["totals"]
    click.echo(
        f"{report['scenario']['name']}: {t['liquidations']} liquidations (${t['liquidated_notional']:,.0f}), "
        f"fund used ${t['fund_used']:,.0f}, bad debt ${t['bad_debt']:,.0f}, "
        f"peak sub-pool drawdown {t['peak_drawdown_pct']:.1f}%"
    )
    for problem in reconcile(report):
        click.echo(f"warning: the report does not reconcile: {problem}", err=True)
    settlement = report.get("settlement")
    if settlement and settlement["liquidations_waited"]:
        click.echo(
            f"block space: {settlement['liquidations_waited']:,} of {settlement['liquidations']:,} liquidations waited for a block "
            f"({settlement['mean_wait_s']:.1f} s on average, {settlement['longest_wait_s']:,} s at most; "
            f"{settlement['full_blocks']:,} full blocks of {settlement['block_gas_limit']:,} gas)"
        )
    tp = report["throughput"]
    if tp.get("ratio") is not None:
        node = "embedded EVM" if report["run"].get("network") == "revm" else "Anvil"
        click.echo(f"throughput: {tp['tx_per_s']} tx/s, raw {node} {tp['raw_anvil_tx_per_s']} tx/s (ratio {tp['ratio']})")
    click.echo(f"report: {out_dir / 'report.md'}")


class StepCheckDisagrees(BackstopError):
    """`--check-step`: a gated figure moved with the step."""


def _check_step(scenario: Path, out_dir: Path, network: str | None, progress: bool, overrides: dict, variant: str | None) -> None:
    from backstop.replay.check import GATED, check_step  # noqa: PLC0415

    check = check_step(scenario, out_dir, network=network, progress=progress, overrides=overrides, variant=variant)
    for f in check["figures"]:
        rel = "" if f["relative"] is None else f" ({f['relative']:.1%})"
        click.echo(f"{f['name']}: {f['full_step']:,.2f} at {check['step']} s, {f['half_step']:,.2f} at {check['half_step']} s{rel}")
    click.echo(f"step check: {out_dir / 'check-step.md'}")
    if not check["agrees"]:
        moved = [f["name"] for f in check["figures"] if f["name"] in GATED and not f["agrees"]]
        raise StepCheckDisagrees(f"the answer depends on the step: {', '.join(moved)} differ by more than 10% and $1,000")
