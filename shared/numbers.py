"""One shape for numbers in every API: exact decimals inside, JSON numbers outside.

Pydantic's `Decimal` is serialised as a JSON string ("1.50") and documented as
number-or-string, so every client would have to handle both. `JsonDecimal` is a `Decimal`
that

- is written as a JSON number: an integer when the value is whole (`100`, not `100.0` or
  `"100.00"`), else the shortest float that reads back as the same decimal (`86.5`);
- is documented as `type: number` only, with its precision as `multipleOf` (from the field's
  `decimal_places`) next to the bounds (`minimum`, `maximum`...) the field declares.

Use it with the field's own precision and bounds, which Pydantic also enforces:

    value: JsonDecimal = Field(ge=0, le=100, decimal_places=2)   # multipleOf 0.01

Strings such as "1.5" are still accepted on input (Pydantic's lax mode); the documents do not
promise it. A float already rounded to 3 decimals (computed scores) is `Rounded3`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, GetJsonSchemaHandler, PlainSerializer
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


def to_json_number(value: Decimal) -> int | float:
    """Whole values as integers, others as floats (exact for up to 15 significant digits)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def step(places: int) -> float:
    """The `multipleOf` for `places` decimals: 2 -> 0.01."""
    return float(Decimal(1).scaleb(-places))


class _NumberSchema:
    """Documents the decimal as `type: number` (Pydantic says number-or-string-with-pattern),
    keeping its bounds and adding `multipleOf` from `decimal_places`."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        branches = schema.pop("anyOf", None)
        if branches:
            number = next(b for b in branches if b.get("type") == "number")
            schema.update(number)
        schema["type"] = "number"
        schema.pop("pattern", None)
        places = _decimal_places(core_schema)
        if places is not None:
            schema["multipleOf"] = step(places)
        return schema


def _decimal_places(core_schema: Any) -> int | None:
    """`decimal_places` of the decimal schema, looking through wrappers (serializers)."""
    while isinstance(core_schema, dict):
        if core_schema.get("type") == "decimal":
            places = core_schema.get("decimal_places")
            return int(places) if places is not None else None
        core_schema = core_schema.get("schema")
    return None


JsonDecimal = Annotated[
    Decimal,
    PlainSerializer(to_json_number, return_type=int | float, when_used="json"),
    _NumberSchema(),
]


#: A computed float, rounded to 3 decimals where it is computed (results, talent files).
Rounded3 = Annotated[float, Field(json_schema_extra={"multipleOf": step(3)})]
