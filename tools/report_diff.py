#!/usr/bin/env python3
"""Compares two replay report folders figure for figure, ignoring what differs from run to run by nature:
wall times, throughput, the node's URL, the start time, and in events.csv the absolute hour of the fund's snapshots and of chain times (a replay's t = 0
is aligned to an hour boundary after its set-up, whose blocks take the node's wall-clock time). Prints every difference (path: before → after)
and exits 1 if there is any. Usage: python tools/report_diff.py BEFORE_DIR AFTER_DIR [...pairs]"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

VOLATILE = {("run", "wall_seconds"), ("run", "started_at"), ("run", "network"), ("throughput",)}


def _volatile(path: tuple[str, ...]) -> bool:
    return any(path[: len(v)] == v for v in VOLATILE)


def differences(a: Any, b: Any, path: tuple[str, ...] = ()) -> list[str]:
    if _volatile(path):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{'.'.join(path + (str(k),))}: {'missing' if k not in a else a[k]!r} → {'missing' if k not in b else b[k]!r}")
            else:
                out += differences(a[k], b[k], path + (str(k),))
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = [f"{'.'.join(path)}: {len(a)} items → {len(b)} items"] if len(a) != len(b) else []
        for i, (x, y) in enumerate(zip(a, b)):
            out += differences(x, y, path + (str(i),))
        return out
    return [] if a == b else [f"{'.'.join(path)}: {a!r} → {b!r}"]


def _events(path: Path) -> list[list[str]]:
    """events.csv's rows with the fund snapshots' absolute hours made relative to the first: the set-up's blocks
    take the node's wall-clock time, so those hours depend on when the replay ran (the scenario's t = 0 is
    aligned to an hour boundary after the set-up, so everything from there on does not)."""
    if not path.exists():
        return []
    rows = list(csv.reader(path.open()))
    hours = [json.loads(r[5])["hour"] for r in rows[1:] if r[4] == "Snapshot"]
    first = min(hours, default=0)
    for r in rows[1:]:
        args = json.loads(r[5])
        if r[4] == "Snapshot":
            args["hour"] -= first
        for key, value in args.items():  # chain times (`at`, `until`, ...): the same within the hour
            if isinstance(value, int) and not isinstance(value, bool) and 10**9 <= value < 10**11:
                args[key] = f"time%3600={value % 3600}"
        r[5] = json.dumps(args, sort_keys=True)
    return rows


def compare_folders(before: Path, after: Path) -> list[str]:
    out = differences(json.loads((before / "report.json").read_text()), json.loads((after / "report.json").read_text()))
    ev_a, ev_b = before / "events.csv", after / "events.csv"
    if ev_a.exists() or ev_b.exists():
        rows_a, rows_b = _events(ev_a), _events(ev_b)
        if rows_a != rows_b:
            out.append(f"events.csv: {len(rows_a)} rows → {len(rows_b)} rows, first difference at row "
                       f"{next((i for i, (x, y) in enumerate(zip(rows_a, rows_b)) if x != y), min(len(rows_a), len(rows_b)))}")
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    bad = 0
    for before, after in zip(args[::2], args[1::2]):
        diffs = compare_folders(Path(before), Path(after))
        print(f"{after}: {'identical' if not diffs else f'{len(diffs)} differences'}")
        for line in diffs[:40]:
            print("  " + line)
        bad += bool(diffs)
    sys.exit(1 if bad else 0)
