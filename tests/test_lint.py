"""Solidity lint and format, run by `make test` (and alone by `make lint-sol`): solhint (pinned in package.json)
with .solhint.json over every contract and with .solhint-interfaces.json (NatSpec on every interface function
and event) over contracts/interfaces, and `forge fmt --check` (foundry.toml [fmt]); each must report nothing.
No chain: run alone with ``PYTHONPATH=$PWD .venv/bin/python -m pytest tests/test_lint.py -q -p no:ape_test``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "node_modules" / ".bin"
SOLHINT = [str(BIN / "solhint"), "--disc", "--noPoster", "--max-warnings", "0"]


def _run(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    if not Path(args[0]).exists():
        raise AssertionError(f"{args[0]} is not installed; run 'make setup'")
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def _report(proc: subprocess.CompletedProcess) -> str:
    return (proc.stdout[-6000:] + proc.stderr[-2000:]).strip()


def test_solhint_reports_nothing_on_the_contracts():
    proc = _run([*SOLHINT, "contracts/**/*.sol"])
    assert proc.returncode == 0, f"solhint (.solhint.json) found problems:\n{_report(proc)}"


def test_every_interface_function_and_event_has_natspec():
    proc = _run([*SOLHINT, "-c", ".solhint-interfaces.json", "contracts/interfaces/*.sol"])
    assert proc.returncode == 0, f"solhint (.solhint-interfaces.json) found problems:\n{_report(proc)}"


def test_forge_fmt_has_nothing_to_change():
    proc = _run([str(BIN / "forge"), "fmt", "--check", "contracts"])
    assert proc.returncode == 0, f"forge fmt would change the contracts (run `forge fmt contracts`):\n{_report(proc)}"


@pytest.mark.parametrize(
    "source, rule",
    [
        ("pragma solidity ^0.8.24;\n\ncontract Floating {}\n", "compiler-version"),
        ('pragma solidity 0.8.37;\n\ncontract Strings {\n    function f(uint256 x) external pure {\n        require(x > 0, "zero");\n    }\n}\n', "gas-custom-errors"),
        ('pragma solidity 0.8.37;\n\nimport "hardhat/console.sol";\n\ncontract Logs {}\n', "no-console"),
        ("pragma solidity 0.8.37;\n\ncontract Bare {\n    function f() external pure returns (uint256) {\n        return 1;\n    }\n}\n", "comprehensive-interface"),
    ],
)
def test_solhint_fails_on_what_it_must_catch(tmp_path, source, rule):
    bad = tmp_path / "Bad.sol"
    bad.write_text("// SPDX-License-Identifier: MIT\n" + source)
    proc = _run([*SOLHINT, "-c", str(ROOT / ".solhint.json"), str(bad)], cwd=tmp_path)
    assert proc.returncode != 0 and rule in proc.stdout, _report(proc)
