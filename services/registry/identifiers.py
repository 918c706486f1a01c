"""Validation of national identifiers with python-stdnum, turned into field errors."""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric, uscc
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from shared.errors import FieldError, InvalidInput
from shared.models.registry import Sex


def _reason(exc: ValidationError, what: str) -> str:
    if isinstance(exc, InvalidLength):
        return f"{what} must be 18 characters long"
    if isinstance(exc, InvalidChecksum):
        return f"the check digit of this {what} is wrong"
    if isinstance(exc, InvalidComponent):
        return f"this {what} contains an impossible part (for example its birth date)"
    if isinstance(exc, InvalidFormat):
        return f"{what} has characters that are not allowed"
    return f"not a valid {what}"


def validate_id_number(value: str, field: str = "id_number") -> str:
    """A valid resident identity number (GB 11643), upper-case X; else a 422 naming the field."""
    try:
        number: str = ric.validate(value)
    except ValidationError as exc:
        reason = _reason(exc, "identity number")
        raise InvalidInput(
            f"The identity number is not valid: {reason}.",
            errors=[FieldError(field=field, message=reason)],
        ) from exc
    if ric.get_birth_date(number) > date.today():
        raise InvalidInput(
            "The identity number's birth date is in the future.",
            errors=[FieldError(field=field, message="birth date in the future")],
        )
    return number.upper()


def id_number_facts(number: str) -> tuple[date, Sex]:
    """Birth date and sex encoded in a valid identity number (17th digit odd: male)."""
    return ric.get_birth_date(number), Sex.male if int(number[16]) % 2 else Sex.female


def validate_credit_code(value: str, field: str = "credit_code") -> str:
    try:
        code: str = uscc.validate(value)
    except ValidationError as exc:
        reason = _reason(exc, "unified social credit code")
        raise InvalidInput(
            f"The unified social credit code is not valid: {reason}.",
            errors=[FieldError(field=field, message=reason)],
        ) from exc
    return code.upper()
