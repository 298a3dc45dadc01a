"""The scenario format's field types and the base of every scenario model.

Numbers never accept ``true``/``false``; unknown fields are errors that list the known ones. Units in the
type names: :data:`Seconds` (whole [seconds], a uint32 on chain), :data:`Bps` (0..10,000 [bps]),
:data:`Fraction` (0..1), :data:`Usd` (>= 0 [USD]).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from backstop.scenario.errors import FieldProblem
from backstop.units import BPS

__all__ = [
    "UINT16_MAX",
    "UINT32_MAX",
    "Bps",
    "Float",
    "Fraction",
    "Int",
    "Name",
    "ScenarioModel",
    "Seconds",
    "Usd",
]

UINT16_MAX = 2**16 - 1  # the contracts' uint16 fields (oracle deviation and jump bounds [bps])
UINT32_MAX = 2**32 - 1  # the contracts' uint32 fields (times and windows [seconds])


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number, not true/false")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]
Seconds = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=UINT32_MAX)]
Bps = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=BPS)]
Fraction = Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1)]
Usd = Annotated[float, BeforeValidator(_not_bool), Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]


class ScenarioModel(BaseModel):
    """Base of every scenario model: unknown fields are errors that list the known ones."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = list(cls.model_fields)
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                raise FieldProblem(
                    [((k,), f"a known field; '{k}' is unknown here (known: {', '.join(known)})") for k in unknown]
                )
        return data
