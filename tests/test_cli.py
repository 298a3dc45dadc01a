"""The `backstop` command line (backstop.cli): every command documents every option, and every foreseeable error
is one `backstop: ...` line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import ast
import json
import os
import runpy
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
import pytest
from click.testing import CliRunner

from backstop.chain.node import local_anvil
from backstop.cli import main
from backstop.cli.errors import BackstopCommand
from backstop.errors import BackstopError

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini-crash.yaml"
COMMANDS = ("replay", "compare", "size-fund", "deploy", "keeper", "adl-queue", "bench", "gas")
UNREACHABLE = "http://127.0.0.1:1"


# ---------------------------------------------------------------- --help


def test_the_group_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert set(main.commands) == set(COMMANDS)
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_help_documents_every_option(name):
    command = main.commands[name]
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert command.help and " ".join(command.help.split("\n")[0].split()) in " ".join(result.output.split())
    options = [p for p in command.params if isinstance(p, click.Option)]
    assert options
    for option in options:
        assert option.help, f"{name} {option.opts[0]} has no help"
        for opt in option.opts:
            assert opt in result.output, f"{name} --help does not show {opt}"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_maps_backstop_errors(name):
    assert isinstance(main.commands[name], BackstopCommand)


SHIMS = {"replay": "replay", "compare": "compare", "size_fund": "size-fund", "deploy": "deploy", "keeper": "keeper",
         "adl_queue": "adl-queue", "bench": "bench", "gas": "gas"}


@pytest.mark.parametrize("script", sorted(SHIMS))
def test_ape_run_scripts_are_shims_over_the_same_commands(script):
    path = ROOT / "scripts" / f"{script}.py"
    assert len(path.read_text().splitlines()) <= 3
    assert runpy.run_path(str(path))["cli"] is main.commands[SHIMS[script]]


def test_bench_defaults_are_the_benchmarks_sizes():
    from backstop.bench.adl import SIZES as ADL_SIZES  # noqa: PLC0415
    from backstop.bench.backends import TRADER_SIZES  # noqa: PLC0415
    from backstop.bench.bids import SIZES as BID_SIZES  # noqa: PLC0415
    from backstop.cli import bench  # noqa: PLC0415  (the module, not the command)

    assert bench.ADL_SIZES == ADL_SIZES and bench.BID_SIZES == BID_SIZES and bench.TRADER_SIZES == TRADER_SIZES


# ---------------------------------------------------------------- the one error mapping


class _Bad(BackstopError):
    exit_code = 3


def test_a_backstop_error_becomes_prefixed_lines_and_its_exit_code():
    @click.command(cls=BackstopCommand)
    def cmd() -> None:
        raise _Bad("first problem\nsecond problem")

    result = CliRunner(mix_stderr=False).invoke(cmd, [])
    assert result.exit_code == 3
    assert result.stderr.splitlines() == ["backstop: first problem", "backstop: second problem"]
    assert result.stdout == ""


def test_any_other_exception_is_a_bug_and_not_mapped():
    @click.command(cls=BackstopCommand)
    def cmd() -> None:
        raise KeyError("a bug")

    result = CliRunner().invoke(cmd, [])
    assert isinstance(result.exception, KeyError)


def test_abi_of_is_the_project_contracts_json_abi():
    from ape import project  # noqa: PLC0415

    from backstop.chain.abi import abi_of  # noqa: PLC0415
    from backstop.chain.deploy import contract_abi  # noqa: PLC0415

    abi = abi_of(project.MockUSDC)
    assert abi == contract_abi("MockUSDC")
    assert {item["name"] for item in abi if item["type"] == "function"} >= {"mint", "approve", "transfer"}


@pytest.mark.parametrize("area", ["bench", "cli"])
def test_no_private_helper_is_imported_across_modules(area):
    for path in (ROOT / "backstop" / area).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("backstop"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"


# ---------------------------------------------------------------- foreseeable errors, end to end


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backstop.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def _assert_one_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("backstop: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    bad = folder / "bad.yaml"
    bad.write_text(MINI.read_text().replace("duration: 1800", "duration: 0"))
    broken = folder / "broken.json"
    broken.write_text("{not json")
    deployment = folder / "deployment.json"
    deployment.write_text(json.dumps({
        "network": "ethereum:local:foundry", "chain_id": 31337, "deployer": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "contracts": {"Clearinghouse": "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"}, "parameters": {"markets": [{"name": "OM-USD"}]},
    }))
    return {"missing": folder / "nope.yaml", "bad": bad, "broken": broken, "deployment": deployment, "no-deployment": folder / "nope.json"}


@pytest.mark.parametrize("command", ["replay", "compare", "size-fund"])
def test_a_missing_scenario_file(command, files):
    _assert_one_line(_run(command, str(files["missing"])), "scenario file", "does not exist")


@pytest.mark.parametrize("command", ["replay", "compare"])
def test_a_malformed_scenario(command, files):
    args = [command, str(files["bad"])] + (["--builtin", "no_buffer"] if command == "compare" else [])
    _assert_one_line(_run(*args), "bad.yaml", "duration")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["replay", str(MINI), "--variant", "nope"], "variants.nope"),
        (["compare", str(MINI), "--variant", "nope"], "no variant 'nope'"),
        (["compare", str(MINI), "--builtin", "nope"], "unknown builtin variant 'nope'"),
    ],
)
def test_an_unknown_variant(args, fragment):
    _assert_one_line(_run(*args), fragment)


def test_size_fund_bad_tolerance():
    _assert_one_line(_run("size-fund", str(MINI), "--tolerance", "2"), "tolerance must be in (0, 1)")


@pytest.mark.parametrize("command", ["deploy", "keeper", "adl-queue", "bench", "replay"])
def test_an_unreachable_network(command, files):
    extra = {"keeper": ["--deployment", str(files["deployment"])], "adl-queue": ["--deployment", str(files["deployment"]), "--market", "OM-USD"],
             "bench": ["--quick"], "replay": [str(MINI), "--no-progress", "--out", str(files["bad"].parent / "unreachable")]}
    _assert_one_line(_run(command, "--network", UNREACHABLE, *extra.get(command, [])), "cannot connect", UNREACHABLE)


def test_an_unknown_network():
    _assert_one_line(_run("deploy", "--network", "nosuchchain:mainnet"), "cannot connect", "nosuchchain")


@pytest.mark.parametrize("command", ["keeper", "adl-queue"])
def test_a_missing_or_broken_deployment_file(command, files):
    market = ["--market", "OM-USD"] if command == "adl-queue" else []
    _assert_one_line(_run(command, "--deployment", str(files["no-deployment"]), *market), "deployment file", "does not exist")
    _assert_one_line(_run(command, "--deployment", str(files["broken"]), *market), "not a deployment file")


# ---------------------------------------------------------------- outputs, checked before any work


@contextmanager
def _read_only(folder: Path) -> Iterator[Path]:
    """`folder`, made read-only for this process: by its mode bits, or, for root (which ignores them), by the
    immutable attribute (chattr +i); skips the test where neither binds."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        undo = lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)  # noqa: E731
    else:
        pytest.skip("no way to make a folder read-only for root here (chattr +i refused)")
    try:
        yield folder
    finally:
        undo()


@pytest.mark.parametrize(
    "command, what",
    [(["replay", str(MINI)], "report folder"), (["compare", str(MINI), "--builtin", "no_buffer"], "comparison folder"),
     (["size-fund", str(MINI)], "sizing folder")],
)
def test_an_out_that_cannot_be_written_is_refused_before_the_work(command, what, tmp_path):
    a_file = tmp_path / "report.txt"
    a_file.write_text("not a folder")
    started = time.monotonic()
    _assert_one_line(_run(*command, "--out", str(a_file)), f"cannot write the {what} {a_file}: it is an existing file, not a folder")
    _assert_one_line(_run(*command, "--out", str(a_file / "inside")), f"cannot write the {what} {a_file / 'inside'}: {a_file} is a file")
    with _read_only(tmp_path / "locked") as locked:
        result = _run(*command, "--out", str(locked / "out"))
        _assert_one_line(result, f"cannot write the {what} {locked / 'out'}: ")
        assert not (locked / "out").exists()
    assert time.monotonic() - started < 90  # three refusals, no replay (one takes 40 s)


def test_deploy_and_bench_refuse_an_output_that_cannot_be_written(tmp_path):
    _assert_one_line(_run("deploy", "--out", str(tmp_path)), f"cannot write the deployment file {tmp_path}: it is an existing folder")
    _assert_one_line(_run("bench", "--quick", "--out", str(tmp_path)), f"cannot write the results file {tmp_path}: it is an existing folder")


def test_the_check_leaves_no_folder_behind(tmp_path):
    from backstop.cli.errors import require_writable_dir  # noqa: PLC0415

    assert require_writable_dir(tmp_path / "a" / "b", "report folder") == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- compare --list, warnings, a chain that is gone


def test_compare_list_without_a_scenario_lists_the_builtins():
    result = _run("compare", "--list")
    assert result.returncode == 0, result.stderr
    assert "give a SCENARIO file to list its own" in result.stdout
    assert "built-in variants (--builtin):" in result.stdout and "no_standing_bids:" in result.stdout
    nothing = _run("compare")
    assert nothing.returncode == 2 and "give a SCENARIO file to compare (or --list" in nothing.stderr


def test_scenario_warnings_are_one_backstop_warning_line_each(tmp_path):
    odd = tmp_path / "odd.yaml"
    odd.write_text(MINI.read_text().replace("duration: 1800", "duration: 1830"))
    result = _run("compare", str(odd), "--list")
    assert result.returncode == 0, result.stderr
    expected = (f"backstop: warning: {odd}: duration: 1830 s is not a multiple of step = 60 s: the replay steps every 60 s up to "
                "t = 1800 s, then once more at t = 1830 s (a last step of 30 s)")
    assert result.stderr.splitlines() == [expected]
    replayed = _run("replay", str(odd), "--network", UNREACHABLE, "--no-progress", "--out", str(tmp_path / "out"))
    assert replayed.stderr.splitlines()[0] == expected and "Traceback" not in replayed.stderr
    assert replayed.stderr.splitlines()[1].startswith("backstop: cannot connect")


@pytest.mark.parametrize("command", ["keeper", "adl-queue"])
def test_keeper_and_adl_queue_on_a_chain_without_the_deployment_say_so_in_one_line(command, files):
    """The deployment was made on a chain `backstop deploy` started (and stopped): the Anvil started now is empty
    (started here, not by Ape, so that no Ape start-up timeout makes the test depend on the machine's load)."""
    extra = ["--market", "OM-USD"] if command == "adl-queue" else ["--rounds", "1"]
    with local_anvil() as node:
        result = _run(command, "--deployment", str(files["deployment"]), "--network", node.uri, *extra)
    _assert_one_line(result, "no Clearinghouse at", "started and stopped", "deploy to a node you run")
