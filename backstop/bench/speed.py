"""Benchmarks of time: compiling, deploying, replaying (throughput next to raw Anvil, and the whole OM replay).

Each function measures wall time [s] on this machine and returns it with the command that produced it;
nothing is asserted. The replays start their own Anvil (backstop.chain.node), as `backstop replay` does.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backstop.chain.node import PROJECT_ROOT

MINI_CRASH = Path("tests/data/mini-crash.yaml")
OM_SCENARIO = Path("scenarios/om-2025.yaml")


@dataclass
class Timed:
    """A wall time [s] and the command that took it."""

    seconds: float
    command: str


@dataclass
class ReplaySpeed:
    """How fast one replay ran: its wall time, its time loop's throughput and raw Anvil's on the same node."""

    scenario: str
    command: str
    wall_seconds: float  # the whole replay: deploy, set-up, time loop, raw measurement, report
    transactions: int  # sent in the time loop
    loop_seconds: float
    tx_per_s: float
    raw_tx_per_s: float | None  # pre-signed ERC-20 transfers on the same node, after the replay
    ratio: float | None
    steps: int = 0  # of the replay's time grid
    digest: dict[str, Any] | None = None  # backstop.report.digest.report_digest of its report


def _run(cmd: list[str]) -> Timed:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}")
    return Timed(seconds, " ".join(cmd))


def compile_time() -> Timed:
    """`ape compile --force`: every contract from scratch, in a subprocess."""
    return _run(["ape", "compile", "--force"])


def deploy_time() -> Timed:
    """deploy_system of a one-market system (three oracle sources, fund, ledger, auction, book, ADL queue) on the
    connected chain, through Ape as a user deploys it."""
    from ape import accounts  # noqa: PLC0415

    from backstop.chain.deploy import MarketSpec, deploy_system  # noqa: PLC0415

    start = time.perf_counter()
    deploy_system(accounts.test_accounts[0], [MarketSpec("OM-USD", "6", fund_seed=10_000)], global_seed=10_000)
    return Timed(time.perf_counter() - start, "deploy_system(admin, [MarketSpec('OM-USD', '6', fund_seed=10_000)], global_seed=10_000)")


def _speed(report: dict[str, Any], scenario: Path, command: str, wall: float) -> ReplaySpeed:
    from backstop.report.digest import report_digest  # noqa: PLC0415

    tp = report["throughput"]
    return ReplaySpeed(str(scenario), command, wall, tp["transactions"], tp["seconds"], tp["tx_per_s"], tp["raw_anvil_tx_per_s"], tp["ratio"],
                       report["run"]["steps"], report_digest(report))


def replay_throughput(scenario: Path = MINI_CRASH) -> ReplaySpeed:
    """A replay in this process with measure_raw=True: its time loop's tx/s and raw Anvil's on the same node."""
    from backstop.replay import run_replay  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as out:
        start = time.perf_counter()
        report = run_replay(PROJECT_ROOT / scenario, out, progress=False, measure_raw=True)
        wall = time.perf_counter() - start
    return _speed(report, scenario, f"run_replay('{scenario}', measure_raw=True)", wall)


def full_replay(scenario: Path = OM_SCENARIO, sets: tuple[str, ...] = (), network: str | None = None) -> ReplaySpeed:
    """`backstop replay SCENARIO [--network NETWORK] [--set KEY=VALUE ...]` in a subprocess, timed as a user
    runs it (default: on a local Anvil it starts); its report gives the throughput."""
    extra = ([] if network is None else ["--network", network]) + [arg for kv in sets for arg in ("--set", kv)]
    with tempfile.TemporaryDirectory(prefix="bench-om-") as out:
        timed = _run(["backstop", "replay", str(scenario), "--out", out, "--no-progress", *extra])
        report = json.loads((Path(out) / "report.json").read_text())
    return _speed(report, scenario, " ".join(["backstop replay", str(scenario), *extra]), timed.seconds)
