"""Static analysis: slither over the contracts must report no high-severity finding other than the false
positives listed, with their reasons, in slither.allow.yaml. Slither compiles with forge (foundry.toml), which
runs the offline solc-js stand-in tools/solc/solc; slither.config.json filters out OpenZeppelin and the
test-only contracts in contracts/mocks/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ALLOW_FILE = ROOT / "slither.allow.yaml"
GATED = ("High",)  # impacts that fail the test unless allow-listed


@dataclass(frozen=True)
class Finding:
    check: str
    impact: str
    where: str  # Contract.function or Contract.variable of the first element
    description: str


def run_slither(root: Path = ROOT) -> list[Finding]:
    """Runs slither on the project (settings from slither.config.json) and returns every finding."""
    bin_dir = Path(sys.executable).parent
    slither = bin_dir / "slither"
    if not slither.exists():
        raise AssertionError(f"slither is not installed in {bin_dir}; run 'make setup'")
    env = dict(os.environ, PATH=os.pathsep.join([str(bin_dir), str(root / "node_modules" / ".bin"), os.environ.get("PATH", "")]))
    proc = subprocess.run([str(slither), ".", "--json", "-"], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"slither gave no JSON report (exit {proc.returncode}):\n{proc.stderr[-3000:]}") from exc
    if not report.get("success"):
        raise AssertionError(f"slither failed: {report.get('error')}\n{proc.stderr[-3000:]}")
    return [_finding(d) for d in report.get("results", {}).get("detectors", [])]


def _finding(detector: dict[str, Any]) -> Finding:
    first = detector["elements"][0] if detector.get("elements") else {}
    parent = first.get("type_specific_fields", {}).get("parent", {}).get("name")
    name = first.get("name", "")
    where = f"{parent}.{name}" if parent and first.get("type") != "contract" else name
    return Finding(detector["check"], detector["impact"], where, detector["description"].strip())


def load_allow_list(path: Path = ALLOW_FILE) -> list[dict[str, str]]:
    entries = yaml.safe_load(path.read_text()) or []
    for e in entries:
        missing = {"check", "where", "reason"} - {k for k, v in e.items() if str(v).strip()}
        if missing:
            raise AssertionError(f"{path.name}: entry {e} lacks {sorted(missing)}")
    return entries


def gate(findings: list[Finding], allow: list[dict[str, str]]) -> tuple[list[Finding], list[dict[str, str]]]:
    """The gated findings not allow-listed, and the allow-list entries that match no finding."""
    keys = {(e["check"], e["where"]) for e in allow}
    gated = [f for f in findings if f.impact in GATED]
    unlisted = [f for f in gated if (f.check, f.where) not in keys]
    seen = {(f.check, f.where) for f in gated}
    stale = [e for e in allow if (e["check"], e["where"]) not in seen]
    return unlisted, stale


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    return run_slither()


def test_slither_reports_no_high_severity_finding_beyond_the_allow_list(findings):
    unlisted, _ = gate(findings, load_allow_list())
    assert not unlisted, "slither found high-severity issues (fix them, or list a false positive with its reason in slither.allow.yaml):\n" + "\n".join(
        f"- {f.check} at {f.where}: {f.description}" for f in unlisted
    )


def test_every_allow_list_entry_still_matches_a_finding(findings):
    _, stale = gate(findings, load_allow_list())
    assert not stale, f"slither.allow.yaml lists findings slither no longer reports; remove them: {stale}"


def test_slither_analysed_the_project_contracts(findings):
    # a silent mis-compilation would analyse nothing and report nothing: the known lower findings must be there
    assert any(f.where.startswith("Clearinghouse.") for f in findings)
    assert any(f.where.startswith("LiquidationAuction.") for f in findings)
    assert not any("node_modules" in f.description.split("\n")[0] for f in findings)


def test_gate_fails_on_an_unlisted_high_finding_and_on_a_stale_entry():
    listed = Finding("weak-prng", "High", "InsuranceFund._record", "ring index")
    new = Finding("arbitrary-send-erc20", "High", "Clearinghouse.deposit", "transferFrom with arbitrary from")
    medium = Finding("reentrancy-no-eth", "Medium", "Clearinghouse.trade", "")
    allow = [
        {"check": "weak-prng", "where": "InsuranceFund._record", "reason": "ring"},
        {"check": "weak-prng", "where": "Gone.function", "reason": "was fixed"},
    ]
    unlisted, stale = gate([listed, new, medium], allow)
    assert unlisted == [new]
    assert stale == [allow[1]]
