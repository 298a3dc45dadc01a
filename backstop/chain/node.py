"""A local Anvil node that the replay engine starts and always stops.

ape-foundry starts Anvil with `--steps-tracing`, which records every opcode of every transaction: right for
debugging tests, but it makes a replay's blocks of hundreds of trades several times slower. Replays start
their own Anvil without it, on a free port, and stop it on exit, on error and on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

from backstop.errors import BackstopError

MNEMONIC = "test test test test test test test test test test test junk"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class NodeError(BackstopError, RuntimeError):
    """The node could not be started or did not answer."""


def find_anvil() -> str:
    local = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if not found:
        raise NodeError("anvil was not found: run 'make setup' (it installs @foundry-rs/anvil into node_modules)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LocalNode:
    uri: str
    process: subprocess.Popen

    def kill(self) -> None:
        """Kills the node at once (tests use it to show what a replay does when its chain dies)."""
        os.killpg(self.process.pid, signal.SIGKILL)


@contextmanager
def local_anvil(hardfork: str = "cancun", startup_timeout: float = 20) -> Iterator[LocalNode]:
    """Starts Anvil (gas free, 10 funded test accounts from the standard mnemonic) and yields it."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    cmd = [
        find_anvil(), "--port", str(port), "--mnemonic", MNEMONIC, "--accounts", "10", "--balance", "10000",
        "--block-base-fee-per-gas", "0", "--gas-price", "0", "--hardfork", hardfork, "--silent",
        "--max-persisted-states", "0",  # old states are dropped, not written to ~/.foundry/anvil/tmp (left behind when killed)
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_ready(uri, proc, startup_timeout)
        yield LocalNode(uri, proc)
    finally:
        _stop(proc)


DAY = 86_400  # [seconds]


def steady_clock(uri: str) -> int:
    """Makes the Anvil at `uri` keep time independently of the wall clock: its next block is at the start of the
    next UTC day, and every block after it one second after the one before (unless mined at a given time). The
    gas of operations that depend on the time (the insurance fund records an hourly snapshot at its first touch
    in each hour) is then the same on every run. Returns that start [chain seconds]."""

    def rpc(method: str, params: list) -> object:
        answer = requests.post(uri, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30).json()
        if "error" in answer:
            raise NodeError(f"{uri}: {method} failed: {answer['error'].get('message', answer['error'])}")
        return answer["result"]

    latest = int(rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)  # type: ignore[index]
    start = (latest // DAY + 1) * DAY
    rpc("anvil_setBlockTimestampInterval", [1])
    rpc("evm_mine", [start])
    return start


def _wait_ready(uri: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise NodeError(f"anvil exited at start (code {proc.returncode}): {err.strip()[:500]}")
        try:
            requests.post(uri, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise NodeError(f"anvil did not answer at {uri} within {timeout:.0f}s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
