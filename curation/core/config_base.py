"""The base of every stage's config class: unknown keys are errors, assignments are validated, numbers are finite
(no NaN, no infinity) and a number is never given as ``true`` / ``false``."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Iterator, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError


def _number_kind(annotation: Any) -> str | None:
    """``"integer"`` / ``"number"`` where ``annotation`` asks for an int / a float (alone or in a union) and a bool
    is not one of its choices, else None."""
    if annotation is bool or annotation is Any:
        return None
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _number_kind(args[0])
    if origin in (Union, UnionType):
        if any(a is bool or a is Any or (get_origin(a) is Literal and any(isinstance(v, bool) for v in get_args(a)))
               for a in args):
            return None
        kinds = [k for k in map(_number_kind, args) if k]
        return kinds[0] if kinds else None
    return None


def _bools_for_numbers(
    annotation: Any, value: Any, loc: tuple[Any, ...] = (),
) -> Iterator[tuple[tuple[Any, ...], str, bool]]:
    """Each place in ``value`` where a bool stands for a number ``annotation`` asks for: its location inside
    ``value`` (pydantic's: a mapping's key is ``(key, "[key]")``), the kind of number asked for and the bool."""
    if isinstance(value, bool):
        if kind := _number_kind(annotation):
            yield loc, kind, value
        return
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        yield from _bools_for_numbers(args[0], value, loc)
    elif origin in (Union, UnionType):
        for arg in args:
            if found := list(_bools_for_numbers(arg, value, loc)):
                yield from found
                return
    elif isinstance(value, dict) and origin is dict and len(args) == 2:
        for key, item in value.items():  # a location is str or int: a YAML key may be any scalar
            yield from _bools_for_numbers(args[0], key, loc + (str(key), "[key]"))
            yield from _bools_for_numbers(args[1], item, loc + (str(key),))
    elif isinstance(value, (list, tuple)) and origin in (list, tuple, set, frozenset) and args:
        fixed = origin is tuple and not (len(args) == 2 and args[1] is Ellipsis)
        for i, item in enumerate(value[: len(args)] if fixed else value):
            yield from _bools_for_numbers(args[i] if fixed else args[0], item, loc + (i,))


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1 for an int (and 1.0 for a float): `max_rows: true` would mean 1
        field = cls.model_fields.get(info.field_name or "")
        found = list(_bools_for_numbers(field.annotation, value)) if field is not None else []
        if found:  # raised as pydantic's own errors, so each names its key (``per_source.s0``), not just the field
            raise ValidationError.from_exception_data(cls.__name__, [
                InitErrorDetails(loc=where, input=given, type=PydanticCustomError(
                    "bool_number", f"Input should be a valid {kind}, not a boolean"))
                for where, kind, given in found
            ])
        return value
