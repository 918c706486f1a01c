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

from shared import clock
from shared.errors import FieldError, InvalidInput
from shared.models.registry import Sex


def _reason(exc: ValidationError, what: str) -> str:  # for credit codes
    if isinstance(exc, InvalidLength):
        return f"{what} must be 18 characters long"
    if isinstance(exc, InvalidChecksum):
        return f"the check digit of this {what} is wrong"
    if isinstance(exc, InvalidComponent):
        return f"this {what} contains an impossible part (for example its birth date)"
    if isinstance(exc, InvalidFormat):
        return f"{what} has characters that are not allowed"
    return f"not a valid {what}"


# Province-level prefixes of GB/T 2260 (first two digits of an identity number).
PROVINCE_PREFIXES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


def _invalid(field: str, reason: str) -> InvalidInput:
    return InvalidInput(
        f"The identity number is not valid: {reason}.",
        errors=[FieldError(field=field, message=reason)],
    )


def validate_id_number(value: str, field: str = "id_number") -> str:
    """A valid resident identity number (GB 11643), upper-case X; else a 422 naming the field.

    Format, birth date and check digit are checked with python-stdnum's primitives. Its
    `validate` would also refuse region codes missing from its county table, which lacks many
    of Shandong's current districts (for example Linyi 371302, Weihai 371002): real people's
    numbers. So the region is checked at province level only.
    """
    # Most numbers arrive clean (imports: a million at a time), and stdnum's `compact` (Unicode
    # digits to ASCII, separators stripped) is then both a no-op and the slowest step.
    clean = len(value) == 18 and value.isascii() and value.isalnum()
    number = value.upper() if clean else ric.compact(value).upper()
    if len(number) != 18:
        raise _invalid(field, "identity number must be 18 characters long")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise _invalid(field, "identity number has characters that are not allowed")
    try:
        birth = _birth_date(number)
    except ValueError as exc:
        raise _invalid(field, "the birth date inside the identity number does not exist") from exc
    if birth > clock.today():
        raise _invalid(field, "the birth date inside the identity number is in the future")
    if ric.calc_check_digit(number) != number[17]:
        raise _invalid(field, "the check digit of this identity number is wrong")
    if number[:2] not in PROVINCE_PREFIXES:
        raise _invalid(field, "the region code of this identity number does not exist")
    return number


def _birth_date(number: str) -> date:
    """Digits 7-14 as a date, as `ric.get_birth_date` reads them, for an already compact number
    (that function compacts again, which costs more than the date itself)."""
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def id_number_facts(number: str) -> tuple[date, Sex]:
    """Birth date and sex encoded in a valid identity number (17th digit odd: male)."""
    return _birth_date(number), Sex.male if int(number[16]) % 2 else Sex.female


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
