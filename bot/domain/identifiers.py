"""IIN (individual) and BIN (business) identification numbers of Kazakhstan (docs/legal.md, 'IIN and BIN').

Both are 12 digits; the 12th is a check digit: s = Σ aᵢ·i (weights 1..11) mod 11; if s = 10, recompute with
weights 3..11,1,2; if it is 10 again the number is invalid. Results carry reason keys, never text.

Reason keys: ``not_12_digits``, ``bad_century_digit``, ``bad_birth_date``, ``bad_bin_month``,
``bad_bin_type``, ``bad_bin_subdivision``, ``check_digit_unresolvable``, ``check_digit_mismatch``.
Sex keys: ``male``, ``female``. BIN entity types: see :data:`BIN_TYPES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain.clock import Clock

__all__ = ["BIN_SUBDIVISIONS", "BIN_TYPES", "REASONS", "BinResult", "IinResult", "check_digit", "normalize", "validate_bin", "validate_iin"]

_WEIGHTS_1 = tuple(range(1, 12))
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

#: Every reason a number is refused for (each has its own explanation in the wizard).
REASONS = ("not_12_digits", "bad_century_digit", "bad_birth_date", "bad_bin_month", "bad_bin_type",
           "bad_bin_subdivision", "check_digit_unresolvable", "check_digit_mismatch")

#: 7th IIN digit -> (century number, sex key).
_CENTURY_SEX: dict[str, tuple[int, str]] = {
    "1": (19, "male"),
    "2": (19, "female"),
    "3": (20, "male"),
    "4": (20, "female"),
    "5": (21, "male"),
    "6": (21, "female"),
}

#: 5th BIN digit -> entity type key.
BIN_TYPES: dict[str, str] = {
    "4": "resident_legal_entity",
    "5": "non_resident_legal_entity",
    "6": "joint_individual_entrepreneurship",
}

#: 6th BIN digit -> subdivision key (docs/legal.md, 'IIN and BIN').
BIN_SUBDIVISIONS: dict[str, str] = {
    "0": "head_office",
    "1": "branch",
    "2": "representative_office",
    "3": "peasant_farm_joint_entrepreneurship",
}


@dataclass(frozen=True, slots=True)
class IinResult:
    ok: bool
    reason: str | None = None
    birth_date: date | None = None
    sex: str | None = None  # "male" | "female"
    century: int | None = None  # 19, 20 or 21 (born 18xx, 19xx, 20xx)


@dataclass(frozen=True, slots=True)
class BinResult:
    ok: bool
    reason: str | None = None
    entity_type: str | None = None
    subdivision: str | None = None


def normalize(s: str) -> str:
    """Drop whitespace (including non-breaking spaces) that people type inside numbers."""
    return "".join(s.split())


def check_digit(first11: str) -> int | None:
    """Check digit for the first 11 digits, or None when both passes give 10 (no valid number exists)."""
    if len(first11) != 11 or not (first11.isascii() and first11.isdigit()):
        raise ValueError("first11 must be 11 ASCII digits")
    digits = [int(c) for c in first11]
    for weights in (_WEIGHTS_1, _WEIGHTS_2):
        s = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if s != 10:
            return s
    return None


def _checksum_reason(number: str) -> str | None:
    expected = check_digit(number[:11])
    if expected is None:
        return "check_digit_unresolvable"
    if expected != int(number[11]):
        return "check_digit_mismatch"
    return None


def _twelve_digits(s: str) -> str | None:
    number = normalize(s)
    return number if len(number) == 12 and number.isascii() and number.isdigit() else None


def validate_iin(s: str, *, today: date | None = None) -> IinResult:
    """Validate an IIN: 12 digits, birth date YYMMDD, century/sex digit 1-6, check digit.

    A birth date after ``today`` (default: the Clock's current UTC date) is rejected as ``bad_birth_date``.
    """
    number = _twelve_digits(s)
    if number is None:
        return IinResult(False, "not_12_digits")
    century_sex = _CENTURY_SEX.get(number[6])
    if century_sex is None:
        return IinResult(False, "bad_century_digit")
    century, sex = century_sex
    try:
        born = date((century - 1) * 100 + int(number[0:2]), int(number[2:4]), int(number[4:6]))
    except ValueError:
        return IinResult(False, "bad_birth_date")
    if born > (today or Clock().now().date()):
        return IinResult(False, "bad_birth_date")
    reason = _checksum_reason(number)
    if reason:
        return IinResult(False, reason)
    return IinResult(True, None, born, sex, century)


def validate_bin(s: str) -> BinResult:
    """Validate a BIN: 12 digits, registration month (digits 3-4) 01-12, type (5th digit) 4-6, subdivision
    (6th digit) 0-3, check digit."""
    number = _twelve_digits(s)
    if number is None:
        return BinResult(False, "not_12_digits")
    if not 1 <= int(number[2:4]) <= 12:
        return BinResult(False, "bad_bin_month")
    entity_type = BIN_TYPES.get(number[4])
    if entity_type is None:
        return BinResult(False, "bad_bin_type")
    subdivision = BIN_SUBDIVISIONS.get(number[5])
    if subdivision is None:
        return BinResult(False, "bad_bin_subdivision")
    reason = _checksum_reason(number)
    if reason:
        return BinResult(False, reason)
    return BinResult(True, None, entity_type, subdivision)
