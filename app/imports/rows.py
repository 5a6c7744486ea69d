"""Reading an import file and validating its rows by the API's own rules.

A row is validated by the API's request models (the same names, phone numbers, e-mail addresses,
Business IDs and identity codes), extended only by the old register's ids. Nothing here touches
the database, so that batches can be validated in worker processes while the database writes.
Column names are the API's field names; a nested field is written with a dot
(``address.street``) in a CSV header. An empty cell is a missing value.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError, model_validator

from app.consents.schemas import Channel, DecisionValue, Language, PurposeCode
from app.core.schemas import Input
from app.core.validators import IdentityCode, IdentityCodePolicy, PlausibleDate, PlausibleTime
from app.records.schemas import BillingWrite, ContractCreate
from app.users.schemas import CompanyUserCreate, IdentityCodeSet, Password, PrivateUserCreate

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
IdentificationMethod = IdentityCodeSet.model_fields["method"].annotation
HELSINKI = ZoneInfo("Europe/Helsinki")


class PrivateUserImport(PrivateUserCreate):
    external_id: ExternalId = Field(description="The user's id in the old register.")
    password: Password | None = Field(  # type: ignore[assignment]
        default=None, description="None: the person sets one through the password reset."
    )
    identity_code: IdentityCode | None = Field(default=None)
    identity_code_method: IdentificationMethod | None = Field(default=None)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _code_with_method(self) -> Self:
        if (self.identity_code is None) != (self.identity_code_method is None):
            raise ValueError("identity_code and identity_code_method go together")
        return self


class CompanyUserImport(CompanyUserCreate):
    external_id: ExternalId = Field(description="The user's id in the old register.")
    password: Password | None = Field(default=None)  # type: ignore[assignment]


class PermissionImport(Input):
    external_id: ExternalId = Field(description="The decision's id in the old register.")
    user_external_id: ExternalId
    purpose: PurposeCode
    channel: Channel | None = Field(default=None, description="None: every channel.")
    decision: DecisionValue
    # A date alone is the start of that day in Finland.
    decided_at: PlausibleTime | PlausibleDate
    notice_version: int | None = Field(default=None, ge=1, le=10_000)
    language: Language = "fi"
    original_source: str | None = Field(default=None, max_length=100)
    notice_text: str | None = Field(default=None, max_length=5000)

    @property
    def decided(self) -> datetime:
        if isinstance(self.decided_at, datetime):
            return self.decided_at
        return datetime.combine(self.decided_at, time(), HELSINKI)


class ContractImport(ContractCreate):
    external_id: ExternalId = Field(description="The contract's id in the old register.")
    user_external_id: ExternalId


class BillingImport(BillingWrite):
    user_external_id: ExternalId


UserImport = Annotated[PrivateUserImport | CompanyUserImport, Field(discriminator="kind")]
MODELS: dict[str, Any] = {
    "users": UserImport,
    "permissions": PermissionImport,
    "contracts": ContractImport,
    "billing": BillingImport,
}
KEYS = {
    "users": "external_id",
    "permissions": "external_id",
    "contracts": "external_id",
    "billing": "user_external_id",
}
_ADAPTERS = {kind: TypeAdapter(model) for kind, model in MODELS.items()}


def _fields(model: Any, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        inner = info.annotation
        nested = [a for a in getattr(inner, "__args__", (inner,)) if isinstance(a, type)]
        models = [a for a in nested if issubclass(a, Input)]
        if models:
            names |= _fields(models[0], f"{prefix}{name}.")
        else:
            names.add(prefix + name)
    return names


COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset(_fields(PrivateUserImport) | _fields(CompanyUserImport)),
    "permissions": frozenset(_fields(PermissionImport)),
    "contracts": frozenset(_fields(ContractImport)),
    "billing": frozenset(_fields(BillingImport)),
}


class BadFile(ValueError):
    """The file as a whole cannot be imported (its format, its header)."""


@dataclass(frozen=True)
class Reject:
    row: int
    external_id: str | None
    column: str | None
    reason: str
    detail: str


Raw = tuple[int, dict[str, Any]]


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"address.street": "x"}`` -> ``{"address": {"street": "x"}}``; empty cells dropped."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None or value == "":
            continue
        target = nested
        *parents, last = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return nested


def _check_header(kind: str, names: list[str]) -> None:
    unknown = sorted(set(names) - COLUMNS[kind])
    if unknown:
        raise BadFile(
            f"unknown column(s) {', '.join(unknown)}; a {kind} file has: "
            + ", ".join(sorted(COLUMNS[kind]))
        )
    if KEYS[kind] not in names:
        raise BadFile(f"the column {KEYS[kind]} is missing: every row is keyed by it")


def read_rows(kind: str, path: Path) -> Iterator[Raw]:
    """The file's rows with their numbers: a CSV row's number is its line in a spreadsheet
    (the header is row 1), a JSON Lines row's its line."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                for number, line in enumerate(file, start=1):
                    if not line.strip():
                        continue
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, {"\x00invalid": f"not JSON: {exc.msg}"}
                        continue
                    if not isinstance(value, dict):
                        yield number, {"\x00invalid": "not a JSON object"}
                        continue
                    # An unknown field is refused in its row (``not_applicable``), as the API does.
                    yield number, _nest(value) if any("." in k for k in value) else value
                return
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None:
                raise BadFile("the file is empty: a CSV file starts with a header row")
            header = [name.strip() for name in header]
            _check_header(kind, header)
            for number, cells in enumerate(reader, start=2):
                if not any(cells):
                    continue
                if len(cells) != len(header):
                    yield (
                        number,
                        {"\x00invalid": f"{len(cells)} cells, the header has {len(header)}"},
                    )
                    continue
                yield number, _nest(dict(zip(header, cells, strict=True)))
    except UnicodeDecodeError as exc:
        raise BadFile(f"the file is not UTF-8 (at byte {exc.start})") from None
    except csv.Error as exc:
        raise BadFile(f"the file is not valid CSV: {exc}") from None


def _reason(kind: str, error: dict[str, Any]) -> tuple[str | None, str, str]:
    loc = [str(part) for part in error["loc"]]
    if kind == "users" and loc and loc[0] in ("private", "company"):
        loc = loc[1:]  # the discriminated union's tag
    # A union's members (``function-after[...]``, ``date``) are not columns.
    names = COLUMNS[kind] | {name.split(".", 1)[0] for name in COLUMNS[kind]}
    kept: list[str] = []
    for part in loc:
        if ".".join([*kept, part]) in names:
            kept.append(part)
    loc = kept
    column = ".".join(loc) or None
    kind_of = error["type"]
    if kind_of == "missing":
        reason = "missing_value"
    elif kind_of == "extra_forbidden":
        reason = "not_applicable"
    elif kind_of in ("union_tag_invalid", "union_tag_not_found"):
        column, reason = "kind", "invalid_kind"
    elif column is None:
        reason = "invalid_row"
    else:
        reason = "invalid_" + column.replace(".", "_")
    # The message names the rule, never the value (pydantic's ``input`` is left out).
    detail = str(error["msg"]).removeprefix("Value error, ")
    return column, reason, detail


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values()) or any(_has_nul(k) for k in value)
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


GENERIC = {"value_error": "is not valid", "assertion_error": "is not valid"}


def _quotes(value: object, detail: str) -> bool:
    """Whether a message repeats any part of the rejected value (a validator may quote the
    domain of an e-mail address, say): such a message is replaced by a generic one."""
    if not isinstance(value, str):
        return False
    return any(len(part) >= 3 and part in detail for part in re.split(r"[@\s.,;:]+", value))


def validate(kind: str, rows: list[Raw], allow_temporary: bool) -> tuple[list[Raw], list[Reject]]:
    """The valid rows (normalised, as the API stores them) and a reject per invalid value."""
    IdentityCodePolicy.allow_temporary = allow_temporary
    adapter = _ADAPTERS[kind]
    key = KEYS[kind]
    valid: list[Raw] = []
    rejects: list[Reject] = []
    for number, values in rows:
        raw_key = values.get(key)
        external_id = str(raw_key).strip()[:100] if raw_key not in (None, "") else None
        if "\x00invalid" in values:
            rejects.append(Reject(number, None, None, "invalid_row", values["\x00invalid"]))
            continue
        if _has_nul(values):
            # Postgres stores no NUL character in text: refused here, not by the batch's COPY.
            rejects.append(
                Reject(number, external_id, None, "invalid_row", "contains a NUL character")
            )
            continue
        try:
            model = adapter.validate_python(values)
        except ValidationError as exc:
            seen: set[tuple[str | None, str]] = set()
            for error in exc.errors(include_url=False):
                column, reason, detail = _reason(kind, dict(error))
                if (column, reason) in seen:
                    continue  # one line per column and reason (a union fails once per member)
                seen.add((column, reason))
                if _quotes(error.get("input"), detail):
                    detail = GENERIC.get(kind_of := error["type"], kind_of.replace("_", " "))
                rejects.append(Reject(number, external_id, column, reason, detail[:500]))
            continue
        dumped = model.model_dump()
        if kind == "permissions":
            dumped["decided_at"] = model.decided
        valid.append((number, dumped))
    return valid, rejects
