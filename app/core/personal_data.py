"""The types of the personal-data catalogue: what each domain declares about its tables.

Each domain declares, next to its models (``app/<domain>/personal_data.py``), every table that
holds data about a user: for each column its data category, where its value comes from, and what
erasure does to it; for the table the category of the register description, the purposes and
legal basis, the retention rule and how it is linked to the user. ``app.privacy`` collects the
declarations; the access export, portability, erasure, retention, the register description and the
record of processing walk them, and a test holds them against the live schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

Basis = Literal["consent", "contract", "legal_obligation", "legitimate_interest"]


class Source(StrEnum):
    """Where a column's value comes from (Art. 14, Art. 15(1)(g), Art. 20)."""

    SUBJECT = "subject"  # given by the person
    OBSERVED = "observed"  # produced by the person's use of the service
    STAFF = "staff"  # entered by the controller's staff
    DVV = "dvv"  # the population information system
    POSTI = "posti"  # Posti's address data
    DERIVED = "derived"  # made by the registry (ids, times, hashes, states)
    IMPORT = "import"  # the earlier register, brought in by ``registry import``


class Erasure(StrEnum):
    """What an erasure (Art. 17) does to a table's rows of the person."""

    DELETE = "delete"  # removed
    PSEUDONYMISE = (
        "pseudonymise"  # kept as proof under a fresh pseudonym, identifying columns cleared
    )
    HOLD = "hold"  # kept under a legal hold: only the hold's columns, under the pseudonym
    UNLINK = "unlink"  # an append-only log keyed by the reference the erasure replaces


class OnErasure(StrEnum):
    """What happens to a column of a row that an erasure keeps."""

    KEEP = "keep"
    CLEAR = "clear"  # set to NULL (or the column's default in the tombstone of the user)
    KEY = "key"  # the link to the user: re-keyed to the fresh pseudonym


@dataclass(frozen=True)
class Column:
    name: str
    # A fideslang/DPV-style data category id, e.g. ``user.contact.email`` (app.privacy.vocabulary).
    data_category: str
    source: Source
    on_erasure: OnErasure = OnErasure.CLEAR
    # Shown in the access export (never: password hashes, ciphertexts, keyed hashes).
    shown: bool = True
    # The column's current value may come from another source (the provenance in user_changes
    # says which): a DVV or Posti value is not the person's to port.
    tracked_source: bool = False
    # What a cleared value becomes (SQL): the column's default, or e.g. ``'{}'``.
    cleared: str = "DEFAULT"
    # Cleared only in the rows matching this condition (SQL); the owning domain clears the others
    # when they are no longer needed (e.g. a notification once it is delivered).
    clear_when: str | None = None


@dataclass(frozen=True)
class LegalHold:
    """A law that keeps data after erasure, and what it needs of it."""

    law: str  # e.g. "Kirjanpitolaki 2:10"
    years: int  # from the end of the year of ``from_column``
    from_column: str
    until_column: str  # where the end of the hold is written at erasure
    # Rows the hold keeps past its end (e.g. an open claim, Art. 17(3)(e)).
    still_needed: str | None = None

    def ends_on(self, day: date) -> date:
        return date(day.year + self.years, 12, 31)


@dataclass(frozen=True)
class Retention:
    """How long rows are kept, and which ``registry retention run`` removes."""

    rule: Literal["relationship", "proof", "months", "expiry", "hold", "log"]
    # ``months``: the setting that holds the number of months, counted from ``column``.
    setting: str | None = None
    # ``expiry``: rows go once ``column`` (plus ``grace``) is past.
    column: str | None = None
    grace: str | None = None  # a Postgres interval, e.g. '1 day'
    hold: LegalHold | None = None


Link = Literal["user_id", "id", "subject_ref", "owner"]


@dataclass(frozen=True)
class Table:
    name: str
    category: str  # a category of the register description (app.privacy.vocabulary.CATEGORIES)
    description: str  # what a row is, in English (the record of processing translates the rest)
    columns: tuple[Column, ...]
    purposes: tuple[str, ...]  # DPV purpose ids (app.privacy.vocabulary.PURPOSES)
    legal_basis: Basis
    retention: Retention
    erasure: Erasure
    # How a row names the user: its ``user_id``, the user row itself (``id``), the pseudonymous
    # ``subject_ref``, or an ``owner`` text such as ``user:<id>``; ``via`` for rows that name a
    # parent row (column, parent table).
    link: Link = "user_id"
    via: tuple[str, str] | None = None
    order_by: str = "1"
    # Streamed in the export (the tables that grow with the person's use of the service).
    bulk: bool = False
    # The database refuses changes to its rows; an erasure re-keys them only through the
    # owner's ``registry_rekey_proof`` (migration 0010).
    append_only: bool = False
    # Transient copies of answers already given (kept hours, for retries): erased, not exported.
    copies: bool = False
    # For the user's own row (``link="id"``): the values, as SQL, that mark the row that survives
    # an erasure (its status, when).
    tombstone: tuple[tuple[str, str], ...] = ()
    # Rows whose values change in Python before they are shown (e.g. a decrypted identity code).
    reveal: Callable[[Any, dict[str, Any], bool], Awaitable[dict[str, Any]]] | None = field(
        default=None, compare=False
    )

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name}.{name}")

    @property
    def shown_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.shown)

    @property
    def portable_columns(self) -> tuple[Column, ...]:
        """Art. 20: what the person provided or their use produced, on consent or contract."""
        if self.legal_basis not in ("consent", "contract") or self.copies:
            return ()
        return tuple(c for c in self.shown_columns if c.source in (Source.SUBJECT, Source.OBSERVED))


def person_owner(user_id: object) -> str:
    """How an ``owner`` column names a person (``link="owner"``), e.g. whose Idempotency-Key."""
    return f"user:{user_id}"


def user_key(name: str = "user_id") -> Column:
    """The column that names the user: re-keyed to the fresh pseudonym when rows survive."""
    return Column(name, "user.unique_id", Source.DERIVED, OnErasure.KEY)


def technical(*names: str, on_erasure: OnErasure = OnErasure.KEEP) -> tuple[Column, ...]:
    """Row ids, times and states the registry itself keeps: no data of the person by itself."""
    return tuple(Column(name, "system.operations", Source.DERIVED, on_erasure) for name in names)
