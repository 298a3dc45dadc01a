"""A replay's whole life cycle: a node (started here or given), the deployment, the set-up, the loop, the
report folder; a replay cut short writes its partial report and can be resumed."""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from backstop.chain.fastchain import ChainDied, FastChain, format_log, raw_throughput
from backstop.chain.node import local_anvil
from backstop.errors import BackstopError
from backstop.replay.engine import Replay
from backstop.units import to_usdc

NETWORKS = {"hardhat": "ethereum:local:hardhat"}  # "anvil" (the default): a node started here, see backstop.chain.node
EMBEDDED = "revm"  # the embedded EVM, in this process: see backstop.chain.revm


class ReplayFailed(BackstopError, RuntimeError):
    """A replay that could not finish; its partial report was written to `out_dir`."""

    def __init__(self, message: str, out_dir: Path | None) -> None:
        super().__init__(message)
        self.out_dir = out_dir


def load_replayed(scenario_path: Path | str, variant: str | None = None, overrides: dict[str, Any] | None = None) -> Any:
    """The scenario a replay runs: the file, its named `variant`, then `overrides` (ScenarioError names what is wrong)."""
    from backstop.scenario import load_scenario  # noqa: PLC0415

    scenario = load_scenario(Path(scenario_path))
    if variant:
        scenario = scenario.variant(variant)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    return scenario


def run_replay(
    scenario_path: Path | str,
    out_dir: Path | str,
    network: str | None = None,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
    measure_raw: bool = True,
    variant: str | None = None,
    on_step: Callable[[int], None] | None = None,
    resumed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replays `scenario_path` on `network` (default: a local Anvil that it starts and stops), writes the report
    folder `out_dir` and returns the report. A malformed scenario fails before anything is deployed; a chain
    that dies mid-replay or an interrupt writes the partial report and raises ReplayFailed (see
    `resume_replay`). `resumed` is recorded as `run.resumed` (what the run replaced)."""
    scenario = load_replayed(scenario_path, variant, overrides)
    out = Path(out_dir)
    with ExitStack() as stack:
        if network in (None, "anvil"):
            choice = stack.enter_context(local_anvil()).uri
        elif network == EMBEDDED:
            choice = EMBEDDED
        else:
            choice = NETWORKS.get(network, network)
        return _replay_on(scenario, Path(scenario_path), out, choice, progress, measure_raw, on_step, resumed)


class NothingToResume(BackstopError, RuntimeError):
    """`resume_replay` found a complete report: there is nothing left to run."""


def resume_replay(
    out_dir: Path | str,
    network: str | None = None,
    progress: bool = True,
    measure_raw: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Finishes the replay whose partial report is in `out_dir`: the same scenario file (checked by its SHA-256)
    with the same overrides, replayed from t = 0 on a fresh chain into the same folder. A replay is
    deterministic (prices, population and keepers come from the scenario and its seed; hours fall at the same
    scenario times), so the finished report equals the one an uninterrupted run writes; the partial run's
    error and step count are kept in `run.resumed`. Raises ReplayFailed when the report is missing or
    unreadable or the scenario file changed, NothingToResume when the report is already complete."""
    out = Path(out_dir)
    path = out / "report.json"
    try:
        previous = json.loads(path.read_text())
        run = previous["run"]
        file, sha = previous["scenario"]["file"], previous["scenario"]["sha256"]
    except FileNotFoundError:
        raise ReplayFailed(f"nothing to resume: {path} does not exist", None) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ReplayFailed(f"cannot resume from {path}: not a Backstop report ({exc!r})", None) from None
    if run.get("complete"):
        raise NothingToResume(f"{path} is a complete report: nothing to resume")
    scenario_file = Path(file)
    if not scenario_file.is_file():
        raise ReplayFailed(f"cannot resume: the scenario file {file} named by {path} does not exist", None)
    now = hashlib.sha256(scenario_file.read_bytes()).hexdigest()
    if sha and now != sha:
        raise ReplayFailed(
            f"cannot resume: {file} changed since the partial run (sha256 {sha[:12]}… then, {now[:12]}… now); "
            f"replay it afresh with `backstop replay {file}`",
            None,
        )
    resumed = {"error": run.get("error"), "steps": run.get("steps"), "started_at": run.get("started_at"), "restarted_from_t": 0}
    return run_replay(
        scenario_file, out, network=network, progress=progress, overrides=run.get("overrides") or None,
        measure_raw=measure_raw, on_step=on_step, resumed=resumed,
    )


def _replay_on(
    scenario: Any,
    scenario_path: Path,
    out: Path,
    choice: str,
    progress: bool,
    measure_raw: bool,
    on_step: Callable[[int], None] | None,
    resumed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from backstop.report import write_report  # noqa: PLC0415

    wall0 = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with _deployed(scenario, scenario_path, choice) as replay:
        setup: dict[str, Any] = {}
        error: str | None = None
        raw_tps: float | None = None
        try:
            setup = replay.setup()
            bar = _progress(len(scenario.times()), scenario.name) if progress else None

            def step_done(t: int) -> None:
                if bar:
                    bar.update(1)
                if on_step:
                    on_step(t)

            replay.run(on_step=step_done)
            if bar:
                bar.close()
            if measure_raw:
                raw_tps = raw_throughput(replay.chain, replay.admin, replay.c["usdc"])
        except ChainDied as exc:
            error = f"the chain died at t={replay.state.t}s: {exc}"
        except KeyboardInterrupt:
            error = f"interrupted at t={replay.state.t}s"
        report = replay.report(setup, time.perf_counter() - wall0, error is None, error, raw_tps)
        report["run"]["network"] = choice
        report["run"]["started_at"] = started_at
        report["run"]["overrides"] = scenario.overrides
        if resumed:
            report["run"]["resumed"] = resumed
        events = _all_events(replay) if error is None else None
        write_report(report, out, events=events)
        try:
            replay.chain.set_automine(True)
        except ChainDied:
            pass
    if error:
        raise ReplayFailed(f"{error}; partial report in {out}", out)
    return report


@contextmanager
def _deployed(scenario: Any, scenario_path: Path, choice: str) -> Iterator[Replay]:
    """A Replay of `scenario` on a fresh deployment: on the embedded EVM (choice EMBEDDED: deployed through
    backstop.chain.direct, no Ape connection), else on the network Ape connects to (`choice`: an Ape network
    choice or URL), disconnected after."""
    if choice == EMBEDDED:
        from backstop.chain.direct import DirectDeployer  # noqa: PLC0415
        from backstop.chain.node import MNEMONIC  # noqa: PLC0415
        from backstop.chain.revm import RevmNode  # noqa: PLC0415

        node = RevmNode(MNEMONIC)
        chain = FastChain.embedded(node)
        chain.set_automine(False)
        admin = node.test_accounts[0]
        deployer = DirectDeployer(chain, chain.wallet(admin))
        system = deploy_scenario(scenario, deployer)
        yield Replay(scenario, system, bytes(admin.key).hex(), path=scenario_path, chain=chain)
        return
    from ape import accounts, networks  # noqa: PLC0415

    try:
        context = networks.parse_network_choice(choice)
        provider = context.__enter__()
    except Exception as exc:  # noqa: BLE001 - ape raises many kinds for an unreachable network
        raise ReplayFailed(f"cannot connect to network {choice!r}: {exc}", None) from exc
    try:
        admin = accounts.test_accounts[0]
        yield Replay(scenario, deploy_scenario(scenario, admin), admin.private_key, path=scenario_path)
        del provider
    finally:
        try:
            context.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - a dead node cannot be disconnected cleanly; nothing is lost
            pass


def deploy_scenario(scenario: Any, admin: Any) -> Any:
    """Deploys Backstop with the scenario's markets, fund and ADL rules from the Ape account `admin`; returns the
    backstop.chain.deploy.System."""
    from backstop.chain.deploy import deploy_system  # noqa: PLC0415
    from backstop.chain.specs import AdlSpec  # noqa: PLC0415

    rules = scenario.adl
    system = deploy_system(
        admin,
        scenario.market_specs(),
        global_seed=scenario.fund.global_seed,
        adl=AdlSpec(rules.loss_cap_bps, rules.challenge_window, rules.min_bond),
    )
    for what, value in (
        ("drawdownBps", scenario.fund.drawdown_bps),
        ("fastDropBps", scenario.fund.fast_drop_bps),
        ("globalFloor", to_usdc(scenario.fund.global_floor)),
    ):
        system.fund.file(what.encode().ljust(32, b"\0"), value, sender=admin)
    return system

def _progress(total: int, name: str):
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, desc=f"replay {name}", unit="step", dynamic_ncols=True)


def _all_events(replay: Replay) -> list[dict[str, Any]]:
    """Every event of Backstop's contracts over the whole run, decoded, in chain order, each labelled with the
    contract that emitted it (by address: events of the same signature, such as `RoleGranted`, come from
    several), its block's timestamp and the scenario time."""
    from backstop.replay.builder import addresses  # noqa: PLC0415

    chain = replay.chain
    names = {address.lower(): name for name, address in addresses(replay.ctx).items()}
    out: list[dict[str, Any]] = []
    latest = int(chain.rpc("eth_blockNumber"), 16)
    times: dict[int, int] = dict(chain.block_times)
    for start in range(0, latest + 1, 2_000):
        logs = chain.rpc("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(min(latest, start + 1_999)), "address": list(names)}])
        receipt = {"logs": [format_log(log) for log in logs]}
        for _contract, event, args, log in chain.decode(receipt):
            block = log["blockNumber"]
            if block not in times:
                times[block] = int(chain.rpc("eth_getBlockByNumber", [hex(block), False])["timestamp"], 16)
            out.append({
                "block": block,
                "timestamp": times[block],
                "t": times[block] - replay.ctx.t0,
                "tx": "0x" + bytes(log["transactionHash"]).hex(),
                "log_index": log["logIndex"],
                "address": log["address"],
                "contract": names.get(str(log["address"]).lower(), _contract),
                "event": event,
                "args": {k: _plain(v) for k, v in args.items()},
            })
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
