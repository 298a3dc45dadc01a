"""Venue price paths: points in the YAML or a CSV file with a ``t,price`` header, their checks and interpolation.

A path is a list of :class:`PricePoint`, strictly increasing in ``t`` [seconds], the first at t = 0, every
price [USD per base unit] at least one unit at the market's ``source_decimals``. Between points the price
is linear; after the last point the last price holds.
"""

from __future__ import annotations

import bisect
import csv
from pathlib import Path
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, ValidationError

from backstop.scenario.fields import Float, ScenarioModel, Seconds

__all__ = ["PricePoint", "VenuePath", "check_points", "interpolate", "read_csv"]


class PricePoint(ScenarioModel):
    """One published or interpolated price of one venue.

    - ``t`` [seconds] since the scenario's start, >= 0; a venue's points are strictly increasing in ``t`` and
      the first is at 0.
    - ``price`` [USD per base unit], finite and > 0.
    """

    t: Seconds
    price: Annotated[Float, Field(gt=0)]


def _venue_kind(value: Any) -> str | None:
    if isinstance(value, list):
        return "points"
    if isinstance(value, str):
        return "csv"
    if isinstance(value, PricePoint):
        return "points"
    return None


VenuePath = Annotated[
    Annotated[list[PricePoint], Tag("points")] | Annotated[str, Tag("csv")],
    Discriminator(
        _venue_kind,
        custom_error_type="venue_path",
        custom_error_message="a list of {t, price} points or the path of a CSV file with a 't,price' header",
    ),
]
"""A venue's path in the YAML: a list of points, or the path of a CSV file relative to the YAML file."""


def check_points(points: list[PricePoint], min_price: float) -> list[tuple[int, str, str]]:
    """Problems of one venue's path as (point index, field, expected); index -1 for the path as a whole."""
    problems: list[tuple[int, str, str]] = []
    if not points:
        return [(-1, "", "at least one price point, the first at t = 0")]
    if points[0].t != 0:
        problems.append((0, "t", f"the first point at t = 0 (got t = {points[0].t})"))
    for i in range(1, len(points)):
        if points[i].t <= points[i - 1].t:
            what = "duplicate" if points[i].t == points[i - 1].t else "unsorted"
            problems.append((i, "t", f"times strictly increasing; {what}: t = {points[i].t} after t = {points[i - 1].t}"))
    for i, p in enumerate(points):
        if p.price < min_price:
            problems.append((i, "price", f"a price >= {min_price:g} (one unit at source_decimals; got {p.price:g})"))
    return problems


def read_csv(path: Path) -> tuple[list[PricePoint], list[int]]:
    """A venue path from a CSV file with a 't,price' header, and each point's line number; raises ValueError
    naming the line."""
    if not path.is_file():
        raise ValueError(f"an existing CSV file {path} (not found)")
    points: list[PricePoint] = []
    lines: list[int] = []
    with path.open(newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header is None or [h.strip() for h in header] != ["t", "price"]:
            raise ValueError(f"the CSV file {path} to start with the header 't,price' (got {header})")
        for row in rows:
            line = rows.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2:
                raise ValueError(f"2 columns t,price in CSV file {path} line {line} (got {row})")
            try:
                points.append(PricePoint(t=int(row[0].strip()), price=float(row[1].strip())))
                lines.append(line)
            except (ValueError, ValidationError) as exc:
                raise ValueError(
                    f"whole seconds >= 0 and a finite price > 0 in CSV file {path} line {line} (got {row})"
                ) from exc
    if not points:
        raise ValueError(f"at least one row in CSV file {path}")
    return points, lines


def interpolate(points: list[PricePoint], t: float) -> float:
    """The path's price at `t` [seconds] >= 0: linear between points, the last price after the last point."""
    times = [p.t for p in points]
    i = bisect.bisect_right(times, t) - 1
    if i >= len(points) - 1:
        return points[-1].price
    a, b = points[i], points[i + 1]
    return a.price + (b.price - a.price) * (t - a.t) / (b.t - a.t)
