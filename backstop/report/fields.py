"""The report schema's building blocks: its field types (numbers that stay ints, ISO times, closed word sets),
fields with a meaning and a unit, and the base models of the report's parts (backstop.report.schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WrapValidator, model_serializer
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

__all__ = ["IsoTime", "Number", "OmitsUnset", "Part", "described", "field_extra", "iso_time", "one_of", "optional", "type_name"]


def type_name(value: Any) -> str:
    """The JSON-ish name of a value's type, for messages: "null" for None, else the Python type's name."""
    return "null" if value is None else type(value).__name__


def _keep_int(value: Any, handler: Any) -> Any:
    return value if type(value) is int else handler(value)


def _iso_time(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("iso_type", "expected an ISO 8601 time string, got {got}", {"got": type_name(value)})
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("iso_format", "{text} is not an ISO 8601 time", {"text": repr(value)}) from None
    return value


def one_of(values: tuple[str, ...]) -> Any:
    """A Literal of `values` whose error names them all: "expected one of a, b, got 'c'"."""

    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(
                "one_of", "expected one of {allowed}, got {got}", {"allowed": ", ".join(values), "got": repr(value)}
            ) from None

    return Annotated[Literal[values], WrapValidator(check)]


Number = Annotated[float, WrapValidator(_keep_int)]  # an int or a finite float; an int stays an int
IsoTime = Annotated[str, PlainValidator(_iso_time)]


def described(description: str, unit: str = "", label: str = "", key: str = "", **kwargs: Any) -> Any:
    """A field with its one-line meaning, its unit, (totals, throughput) its label in report.md's Summary and
    (an object keyed by name) what its keys name, for the docs."""
    extra = {name: value for name, value in (("unit", unit), ("label", label), ("key", key)) if value}
    return Field(description=description, json_schema_extra=extra or None, **kwargs)


def optional(description: str, unit: str = "") -> Any:
    """A field a report may lack: omitted from `model_dump()` when not given."""
    return described(description, unit, default=None)


class OmitsUnset(BaseModel):
    """Dumps without the optional fields the input did not have."""

    @model_serializer(mode="wrap")
    def _omit_unset_optional(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name, info in type(self).model_fields.items():
            if not info.is_required() and name not in self.model_fields_set:
                data.pop(name, None)
        return data


class Part(OmitsUnset):
    """A part of the report: strict types (no coercion), finite numbers, other keys kept."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="allow")


def field_extra(info: FieldInfo) -> dict[str, Any]:
    """The unit, label and key words `_f` stored on a field."""
    return info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}



iso_time = _iso_time  # the validator of IsoTime fields (the docs name their type after it)
