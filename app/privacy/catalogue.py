"""The personal-data catalogue: every domain's declarations, collected, and the check that holds
them against the live schema.

A table that names a user (a ``user_id`` or ``subject_ref`` column, a foreign key to ``users``,
or a foreign key to such a table) must be declared with every one of its columns; a declaration
must name only columns that exist. ``tests/test_personal_data.py`` runs the check after the
migrations, as the OpenAPI drift check does for the API.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit import personal_data as audit
from app.auth import personal_data as auth
from app.consents import personal_data as consents
from app.core.personal_data import Erasure, Table
from app.disclosures import personal_data as disclosures
from app.events import personal_data as events
from app.idempotency import personal_data as idempotency
from app.privacy.vocabulary import CATEGORIES, DATA_CATEGORIES, PURPOSES, data_category_names
from app.records import personal_data as records
from app.register_updates import personal_data as register_updates
from app.requests import personal_data as requests
from app.subject_notices import personal_data as subject_notices
from app.users import personal_data as users

TABLES: tuple[Table, ...] = (
    *users.TABLES,
    *auth.TABLES,
    *records.TABLES,
    *consents.TABLES,
    *events.TABLES,
    *register_updates.TABLES,
    *requests.TABLES,
    *disclosures.TABLES,
    *subject_notices.TABLES,
    *audit.TABLES,
    *idempotency.TABLES,
)
BY_NAME = {table.name: table for table in TABLES}


def by_category() -> dict[str, list[Table]]:
    """The tables of each category, in the register description's order; the tables that grow
    with use (streamed) last within their category, and the categories holding them last."""
    grouped: dict[str, list[Table]] = {code: [] for code in CATEGORIES}
    for table in TABLES:
        grouped[table.category].append(table)
    for tables in grouped.values():
        tables.sort(key=lambda t: t.bulk)
    return dict(sorted(grouped.items(), key=lambda item: any(t.bulk for t in item[1])))


def data_for_purpose(purpose: str, lang: str = "en") -> list[str]:
    """The categories of data processed for a purpose (a DPV term), in words, each once: what a
    consent receipt names as its PII categories."""
    names: list[str] = []
    for table in TABLES:
        if purpose in table.purposes:
            names += [n for n in data_category_names(table, lang) if n not in names]
    return names


def declaration_errors(tables: Iterable[Table] = TABLES) -> list[str]:
    """What is wrong with the declarations themselves (unknown words, a missing link)."""
    errors = []
    for table in tables:
        if table.category not in CATEGORIES:
            errors.append(f"{table.name}: unknown category {table.category!r}")
        errors += [
            f"{table.name}: unknown purpose {p!r}" for p in table.purposes if p not in PURPOSES
        ]
        for column in table.columns:
            if column.data_category not in DATA_CATEGORIES:
                errors.append(f"{table.name}.{column.name}: unknown data category")
        names = [c.name for c in table.columns]
        if len(names) != len(set(names)):
            errors.append(f"{table.name}: a column is declared twice")
        if table.via is None and table.link not in names:
            errors.append(f"{table.name}: the link column {table.link!r} is not declared")
        kept = table.erasure in (Erasure.PSEUDONYMISE, Erasure.HOLD)
        if kept and (table.via is not None or table.link not in ("user_id", "id")):
            errors.append(f"{table.name}: only rows naming the user by user_id can be re-keyed")
        for column in table.columns:
            if column.clear_when is not None and column.cleared == "DEFAULT":
                errors.append(f"{table.name}.{column.name}: a conditional clear needs a value")
    return errors


_COLUMNS = """
SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = :schema AND table_name IN (
    SELECT table_name FROM information_schema.tables
    WHERE table_schema = :schema AND table_type IN ('BASE TABLE', 'PARTITIONED TABLE')
) AND table_name NOT IN (
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema
)
"""
_REFERENCES = """
SELECT child.relname, parent.relname
FROM pg_constraint k
JOIN pg_class child ON child.oid = k.conrelid
JOIN pg_class parent ON parent.oid = k.confrelid
JOIN pg_namespace n ON n.oid = child.relnamespace
WHERE k.contype = 'f' AND n.nspname = :schema
"""
LINK_COLUMNS = ("user_id", "subject_ref")


@dataclass(frozen=True)
class Drift:
    undeclared: list[str]  # table.column holding data of a user, in no category
    missing: list[str]  # table.column declared but not in the schema

    def __bool__(self) -> bool:
        return bool(self.undeclared or self.missing)

    def __str__(self) -> str:
        lines = [f"not in the personal-data catalogue: {c}" for c in self.undeclared]
        lines += [f"in the catalogue but not in the database: {c}" for c in self.missing]
        return "\n".join(lines)


async def schema_drift(
    connection: AsyncConnection, schema: str = "public", tables: Iterable[Table] = TABLES
) -> Drift:
    """Compares the catalogue with the schema the database has."""
    declared = {t.name: {c.name for c in t.columns} for t in tables}
    columns: dict[str, set[str]] = {}
    for table, column in await connection.execute(text(_COLUMNS), {"schema": schema}):
        columns.setdefault(table, set()).add(column)
    references: dict[str, set[str]] = {}
    for child, parent in await connection.execute(text(_REFERENCES), {"schema": schema}):
        references.setdefault(child, set()).add(parent)
    # Tables that name a user: by a link column, or by a foreign key, however indirect.
    personal = {t for t, cols in columns.items() if cols & set(LINK_COLUMNS)} | {"users"}
    grown = True
    while grown:
        more = {t for t, parents in references.items() if parents & personal} - personal
        personal |= more
        grown = bool(more)
    undeclared = [
        f"{table}.{column}"
        for table in sorted((personal | set(declared)) & set(columns))
        for column in sorted(columns[table] - declared.get(table, set()))
    ]
    missing = [
        f"{table}.{column}"
        for table, names in sorted(declared.items())
        for column in sorted(names - columns.get(table, set()))
    ]
    return Drift(undeclared, missing)
