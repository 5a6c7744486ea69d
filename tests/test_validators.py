"""Finnish identifiers per shared/docs/domain.md, and contact data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.validators import (
    check_business_id,
    check_identity_code,
    mask_identity_code,
    normalise_email,
    normalise_phone,
    reject_card_number,
)

CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
SIGNS = {1800: "+", 1900: "-YXWVU", 2000: "ABCDEF"}


@pytest.mark.parametrize(
    "code", ["131052-308T", "131052Y308T", "290200A1239", "010110B234K", "311299+011K"]
)
def test_valid_identity_codes(code: str) -> None:
    assert check_identity_code(code) == code


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("131052-308U", "check character"),
        ("290200-1239", "calendar date"),
        ("131052-001W", "000 or 001"),
        ("131052-900W", "temporary"),
        ("131052Z308T", "DDMMYYCNNNQ"),
        ("1310523-08T", "DDMMYYCNNNQ"),
    ],
)
def test_invalid_identity_codes(code: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_identity_code(code)


def test_century_signs_are_different_people_and_kept() -> None:
    assert check_identity_code("131052-308T") != check_identity_code("131052Y308T")
    assert check_identity_code("131052y308t") == "131052Y308T"  # upper-cased, sign unchanged


def test_future_birth_date_refused() -> None:
    tomorrow = date.today() + timedelta(days=1)
    digits = f"{tomorrow:%d%m%y}002"
    code = f"{tomorrow:%d%m%y}A002{CHECK[int(digits) % 31]}"
    with pytest.raises(ValueError, match="future"):
        check_identity_code(code)


def test_temporary_codes_when_deliberately_allowed() -> None:
    digits = "131052900"
    code = f"131052-900{CHECK[int(digits) % 31]}"
    assert check_identity_code(code, allow_temporary=True) == code


@given(
    born=st.dates(min_value=date(1850, 1, 1), max_value=date.today()),
    individual=st.integers(min_value=2, max_value=899),
    sign_index=st.integers(min_value=0, max_value=5),
)
def test_every_generated_code_is_valid_and_a_wrong_check_is_not(
    born: date, individual: int, sign_index: int
) -> None:
    signs = SIGNS[born.year // 100 * 100]
    sign = signs[sign_index % len(signs)]
    digits = f"{born:%d%m}{born.year % 100:02d}{individual:03d}"
    check = CHECK[int(digits) % 31]
    code = f"{digits[:6]}{sign}{digits[6:]}{check}"
    assert check_identity_code(code) == code
    wrong = CHECK[(CHECK.index(check) + 1) % 31]
    with pytest.raises(ValueError):
        check_identity_code(code[:-1] + wrong)
    assert mask_identity_code(code) == code[:7] + "****"


@pytest.mark.parametrize("business_id", ["2077474-0", "0737546-2", "1234567-1"])
def test_valid_business_ids(business_id: str) -> None:
    assert check_business_id(business_id) == business_id


@pytest.mark.parametrize(
    ("business_id", "why"),
    [("2077474-1", "check digit"), ("0000006-0", "remainder 1"), ("123456-7", "NNNNNNN-C")],
)
def test_invalid_business_ids(business_id: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_business_id(business_id)


def test_phone_numbers_become_e164_finnish_by_default() -> None:
    assert normalise_phone("040 570 0736") == "+358405700736"
    assert normalise_phone("+46 8 123 456 78") == "+46812345678"
    with pytest.raises(ValueError):
        normalise_phone("12")


def test_email_syntax_only() -> None:
    assert normalise_email("juha.jaskara@mezzoforte.fi") == "juha.jaskara@mezzoforte.fi"
    with pytest.raises(ValueError):
        normalise_email("not an address")


def test_card_numbers_are_not_payment_references() -> None:
    with pytest.raises(ValueError, match="card number"):
        reject_card_number("4111 1111 1111 1111")
    assert reject_card_number("pm_1Nv0Ab2eZvKYlo2C") == "pm_1Nv0Ab2eZvKYlo2C"
    assert reject_card_number("1234567812345678") == "1234567812345678"  # fails Luhn
