"""Parallel replays for the studies (compare, size-fund): each replay on its own local Anvil, in its own worker
process, at most ``jobs`` at once.

The contracts are compiled once, here, before the workers start (:func:`ensure_compiled`); each worker deploys
from the compiled artifacts. Workers are spawned (a clean interpreter each: no Ape state or sockets
inherited) and can be kept from batch to batch (:func:`worker_pool`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

__all__ = ["RunResult", "default_jobs", "ensure_compiled", "run_parallel", "worker_pool"]


def default_jobs() -> int:
    """One worker per core."""
    return max(1, os.cpu_count() or 1)


def ensure_compiled() -> None:
    """Compiles the contracts once, here, if anything changed: the workers then only load the artifacts
    (never several compilers racing on the same .build folder)."""
    from ape import project  # noqa: PLC0415

    project.load_contracts()


# ------------------------------------------------------------------------------------------ parallel runs


@dataclass
class RunResult:
    """One replay of a parallel batch: its report (None if it failed before writing one) and error."""

    label: str
    out: Path
    report: dict[str, Any] | None
    error: str | None
    wall_seconds: float


def _run_one(
    scenario_path: str, out: str, overrides: dict[str, Any], label: str, ticks: Any, network: str | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """Worker: one replay on its own chain (a local Anvil, or the embedded EVM with network "revm"). Runs in a
    spawned process; ``ticks`` receives one item per step."""
    import warnings  # noqa: PLC0415

    from ape.logging import logger  # noqa: PLC0415

    from backstop.errors import BackstopWarning  # noqa: PLC0415
    from backstop.replay import ReplayFailed, run_replay  # noqa: PLC0415

    logger.set_level("WARNING")
    warnings.simplefilter("ignore", BackstopWarning)  # the scenario's warnings: told once, by the parent process
    on_step = (lambda _t: ticks.put(label)) if ticks is not None else None
    try:
        report = run_replay(scenario_path, out, network=network, progress=False, overrides=overrides, measure_raw=False, on_step=on_step)
        return report, None
    except ReplayFailed as exc:
        partial = Path(out) / "report.json"
        return (json.loads(partial.read_text()) if partial.exists() else None), str(exc)
    except Exception as exc:  # noqa: BLE001 - one variant's failure is reported, the others still run
        return None, f"{type(exc).__name__}: {exc}"


def run_parallel(
    scenario_path: Path,
    runs: Sequence[tuple[str, dict[str, Any], Path]],
    jobs: int,
    total_steps: int = 0,
    progress: bool = True,
    desc: str = "replays",
    on_done: Callable[[RunResult], None] | None = None,
    pool: ProcessPoolExecutor | None = None,
    network: str | None = None,
) -> list[RunResult]:
    """Replays ``scenario_path`` once per ``(label, overrides, out dir)``, at most ``jobs`` at a time, each
    in its own process on its own chain (`network`: None or "anvil" for a local Anvil each, "revm" for the
    embedded EVM; see backstop.replay.runner). Shows one progress bar over ``total_steps`` steps of all runs.
    Returns the results in the order of ``runs``. Pass a `pool` (see :func:`worker_pool`) to keep the same
    workers, and their imports, over several batches."""
    if pool is None:
        with worker_pool(min(jobs, len(runs))) as own:
            return run_parallel(scenario_path, runs, jobs, total_steps, progress, desc, on_done, own, network)
    ctx = get_context("spawn")
    manager = ctx.Manager() if progress else None
    ticks = manager.Queue() if manager else None
    bar = None
    stop = threading.Event()
    reader = None
    if progress:
        from tqdm import tqdm  # noqa: PLC0415

        bar = tqdm(total=total_steps or None, desc=desc, unit="step", dynamic_ncols=True)

        def read_ticks() -> None:
            while not stop.is_set() or not ticks.empty():
                try:
                    ticks.get(timeout=0.2)
                except Exception:  # noqa: BLE001 - queue.Empty from a manager proxy
                    continue
                bar.update(1)

        reader = threading.Thread(target=read_ticks, daemon=True)
        reader.start()
    results: dict[int, RunResult] = {}
    try:
        started = time.perf_counter()
        futures = {
            pool.submit(_run_one, str(scenario_path), str(out), overrides, label, ticks, network): (i, label, out)
            for i, (label, overrides, out) in enumerate(runs)
        }
        for fut in as_completed(futures):
            i, label, out = futures[fut]
            report, error = fut.result()
            wall = (report or {}).get("run", {}).get("wall_seconds", time.perf_counter() - started)
            result = RunResult(label, Path(out), report, error, float(wall))
            results[i] = result
            if bar is not None:
                bar.write(f"  {label}: {'failed: ' + error if error else 'done'} ({result.wall_seconds:.0f} s)")
            if on_done:
                on_done(result)
    finally:
        stop.set()
        if reader is not None:
            reader.join(timeout=5)
        if bar is not None:
            bar.close()
        if manager is not None:
            manager.shutdown()
    return [results[i] for i in range(len(runs))]


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """`jobs` worker processes for replays, after compiling the contracts once here. Workers are spawned
    (a clean interpreter each: no Ape state or sockets inherited) and reused from batch to batch."""
    ensure_compiled()
    return ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context("spawn"))
