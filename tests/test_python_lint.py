"""Python lint: ruff (pinned in pyproject.toml, configured under [tool.ruff]) finds nothing in the package, the
tests, the scripts and the tools. `make lint` runs the same check."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ruff() -> str:
    beside = Path(sys.executable).with_name("ruff")  # the venv's, installed with the package
    return str(beside) if beside.exists() else (shutil.which("ruff") or "ruff")


def test_ruff_finds_nothing():
    done = subprocess.run([_ruff(), "check", "backstop", "tests", "scripts", "tools"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_would_fail_on_an_unused_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    done = subprocess.run([_ruff(), "check", "--config", str(ROOT / "pyproject.toml"), str(bad)], capture_output=True, text=True)
    assert done.returncode == 1 and "F401" in done.stdout
