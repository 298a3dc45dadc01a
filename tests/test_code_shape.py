"""The package's shape: no module over 600 lines, no class over 300, no function over 80, and no module that
imports another module's private (`_underscore`) names. Prints the largest of each kind (`pytest -s`)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "backstop"
LIMITS = {"module": 600, "class": 300, "function": 80}  # [lines]


def _sizes() -> dict[str, list[tuple[int, str]]]:
    sizes: dict[str, list[tuple[int, str]]] = {kind: [] for kind in LIMITS}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(PACKAGE.parent)
        sizes["module"].append((len(text.splitlines()), str(rel)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                sizes["class"].append((node.end_lineno - node.lineno + 1, f"{rel}:{node.lineno} {node.name}"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sizes["function"].append((node.end_lineno - node.lineno + 1, f"{rel}:{node.lineno} {node.name}"))
    return sizes


def private_imports(root: Path = PACKAGE) -> list[str]:
    """`from backstop.x import _name` anywhere in the package, where x is not the importing module itself."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("backstop"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(root.parent)}:{node.lineno} imports {node.module}.{alias.name}")
    return found


def test_no_module_class_or_function_is_over_its_limit():
    sizes = _sizes()
    over = []
    for kind, limit in LIMITS.items():
        ranked = sorted(sizes[kind], reverse=True)
        print(f"largest of kind {kind} (limit {limit} lines): " + "; ".join(f"{where} {n}" for n, where in ranked[:3]))
        over += [f"{kind} {where}: {n} lines (limit {limit})" for n, where in ranked if n > limit]
    assert not over, "\n".join(over)


def test_no_module_imports_another_modules_private_names():
    assert not private_imports(), "\n".join(private_imports())


def test_the_checks_can_fail(tmp_path):
    pkg = tmp_path / "backstop"
    pkg.mkdir()
    (pkg / "a.py").write_text("from backstop.b import _helper\n")
    assert private_imports(pkg) == ["backstop/a.py:1 imports backstop.b._helper"]
    long_fn = "def f():\n" + "    x = 1\n" * 90
    tree = ast.parse(long_fn)
    fn = tree.body[0]
    assert fn.end_lineno - fn.lineno + 1 > LIMITS["function"]

