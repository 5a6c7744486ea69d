"""Validators for Finnish identifiers and contact data, as ``Annotated`` pydantic types.

The rules for the identity code (henkilötunnus) and the Business ID (Y-tunnus) are those of
``shared/docs/domain.md``; phone numbers, e-mail addresses, countries and currencies are left to
phonenumbers, email-validator and pycountry.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field


def _plausible_year(moment: Any) -> Any:
    # Beyond these, converting a time to UTC can overflow Python's datetime; nothing the
    # registry stores is dated so.
    if not 1900 <= moment.year <= 2200:
        raise ValueError("must be between the years 1900 and 2200")
    return moment


PlausibleTime = Annotated[AwareDatetime, AfterValidator(_plausible_year)]
"""A time with a time zone, in the years 1900-2200: events, cursors."""
PlausibleDate = Annotated[date, AfterValidator(_plausible_year)]


_HETU = re.compile(r"^(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])$")
_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_CENTURY = {"+": 1800, **dict.fromkeys("-YXWVU", 1900), **dict.fromkeys("ABCDEF", 2000)}
_BUSINESS_ID = re.compile(r"^(\d{7})-(\d)$")
_BUSINESS_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def check_identity_code(
    value: str, *, allow_temporary: bool = False, today: date | None = None
) -> str:
    """Returns the code if valid; raises ValueError saying what is wrong otherwise.

    The century sign is part of the identity and is kept as given (only upper-cased).
    """
    code = value.strip().upper()
    match = _HETU.match(code)
    if match is None:
        raise ValueError("must be DDMMYYCNNNQ: six digits, a century sign, three digits, a check")
    day, month, year, sign, individual, check = match.groups()
    try:
        born = date(_CENTURY[sign] + int(year), int(month), int(day))
    except ValueError:
        raise ValueError("the date of birth is not a calendar date") from None
    if born > (today or date.today()):
        raise ValueError("the date of birth is in the future")
    number = int(individual)
    if number < 2:
        raise ValueError("the individual number 000 or 001 is never valid")
    if number >= 900 and not allow_temporary:
        raise ValueError("temporary identity codes (individual number 900-999) are not accepted")
    if _HETU_CHECK[int(day + month + year + individual) % 31] != check:
        raise ValueError("the check character does not match")
    return code


def mask_identity_code(code: str) -> str:
    """``131052-308T`` -> ``131052-****``: the date and century sign, nothing else."""
    return code[:7] + "****"


def check_business_id(value: str) -> str:
    code = value.strip()
    match = _BUSINESS_ID.match(code)
    if match is None:
        raise ValueError("must be seven digits, a hyphen and a check digit (NNNNNNN-C)")
    digits, check = match.groups()
    remainder = sum(int(d) * w for d, w in zip(digits, _BUSINESS_ID_WEIGHTS, strict=True)) % 11
    if remainder == 1:
        raise ValueError("is not a Business ID that can be issued (remainder 1)")
    expected = 0 if remainder == 0 else 11 - remainder
    if int(check) != expected:
        raise ValueError("the check digit does not match")
    return code


def normalise_phone(value: str) -> str:
    """Any common notation, Finnish by default, to E.164."""
    try:
        number = phonenumbers.parse(value, "FI")
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid e-mail address: {exc}") from None


def check_country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, e.g. FI")
    return code


def check_currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError("must be an ISO 4217 currency code, e.g. EUR")
    return code


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def reject_card_number(value: str) -> str:
    """Payment references must never be card numbers (PCI DSS): 13-19 digits passing Luhn."""
    digits = re.sub(r"[\s-]", "", value)
    if digits.isdigit() and 13 <= len(digits) <= 19 and _luhn_valid(digits):
        raise ValueError("looks like a card number; store the payment provider's reference")
    return value.strip()


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class IdentityCodePolicy:
    """Process-wide: whether temporary codes are accepted (REGISTRY_ALLOW_TEMPORARY_IDENTITY_CODES,
    applied by create_app). Request schemas validate before any service sees them, so the policy
    is read here."""

    allow_temporary = False


def _check_identity_code_by_policy(value: str) -> str:
    return check_identity_code(value, allow_temporary=IdentityCodePolicy.allow_temporary)


IdentityCode = Annotated[str, AfterValidator(_check_identity_code_by_policy)]
BusinessId = Annotated[str, AfterValidator(check_business_id)]
Phone = Annotated[str, Field(max_length=40), AfterValidator(normalise_phone)]
Email = Annotated[str, Field(max_length=254), AfterValidator(normalise_email)]
Country = Annotated[str, Field(min_length=2, max_length=2), AfterValidator(check_country)]
Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(check_currency)]
PaymentReference = Annotated[
    str, Field(min_length=1, max_length=100), AfterValidator(reject_card_number)
]
Text = Annotated[str, BeforeValidator(_strip)]
