"""The zip export's ``summary.html``: a page a person understands, in their language, per category
what is held (how many, and the key values), where it came from, who received it and how long it
is kept. Everything on it comes from the catalogue and the person's rows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.personal_data import Source, Table
from app.core.settings import Settings
from app.disclosures.personal_data import RELEASED_FROM
from app.notice import texts
from app.notice.service import PAGE_STYLE
from app.privacy import access
from app.privacy.access import PersonsData
from app.privacy.vocabulary import (
    CATEGORIES,
    DATA_CATEGORIES,
    SOURCES,
    data_category_names,
    retention_text,
)

SHOWN_ROWS = 10

WORDS: dict[str, dict[str, str]] = {
    "fi": {
        "title": "Tietosi Huutokaupat.com-käyttäjärekisterissä",
        "intro": "Tämä sivu kertoo, mitä tietoja sinusta on rekisterissä. Kaikki tiedot ovat "
        "tämän zip-tiedoston CSV-tiedostoissa ja tiedostossa export.json.",
        "generated": "Muodostettu",
        "held": "Mitä tietoja meillä on",
        "rows": "{count} kpl",
        "more": "ja {count} muuta",
        "none": "Ei tietoja.",
        "from": "Mistä tiedot ovat peräisin",
        "to": "Kenelle tiedot on luovutettu",
        "no_disclosures": "Ei luovutuksia.",
        "kept": "Kuinka kauan tiedot säilytetään",
        "all_disclosures": "Kaikki tietojesi luovutukset",
    },
    "sv": {
        "title": "Dina uppgifter i användarregistret för Huutokaupat.com",
        "intro": "Den här sidan visar vilka uppgifter om dig som finns i registret. Alla "
        "uppgifter finns i CSV-filerna i den här zip-filen och i filen export.json.",
        "generated": "Skapad",
        "held": "Vilka uppgifter vi har",
        "rows": "{count} st.",
        "more": "och {count} till",
        "none": "Inga uppgifter.",
        "from": "Varifrån uppgifterna kommer",
        "to": "Vem uppgifterna har lämnats ut till",
        "no_disclosures": "Inga utlämnanden.",
        "kept": "Hur länge uppgifterna bevaras",
        "all_disclosures": "Alla utlämnanden av dina uppgifter",
    },
    "en": {
        "title": "Your data in the user register of Huutokaupat.com",
        "intro": "This page tells you what data about you the register holds. All of it is in "
        "the CSV files of this zip file and in export.json.",
        "generated": "Made",
        "held": "What we hold",
        "rows": "{count}",
        "more": "and {count} more",
        "none": "Nothing.",
        "from": "Where it came from",
        "to": "Who received it",
        "no_disclosures": "No disclosures.",
        "kept": "How long it is kept",
        "all_disclosures": "Every disclosure of your data",
    },
}

_DISCLOSURES = """
SELECT recipient_name, purpose, categories, min(disclosed_at) AS first, max(disclosed_at) AS last,
       count(*) AS times
FROM disclosure_log WHERE subject_ref = $1
GROUP BY recipient_name, purpose, categories ORDER BY min(disclosed_at)
"""


def _key_values(table: Table, row: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """A row as (label, value) pairs: columns of one data category joined, technical ones out."""
    pairs: dict[str, list[str]] = {}
    for name, value in row.items():
        category = (
            table.column(name).data_category
            if name != "identity_code"
            else ("user.government_id.national_identification_number")
        )
        if category.startswith(("system.", "user.unique_id")) or value in (None, "", [], {}):
            continue
        label = DATA_CATEGORIES[category][lang]
        shown = _readable(value)
        pairs.setdefault(label, []).append(shown)
    return [(label, " ".join(values)) for label, values in pairs.items()]


_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})")


def _readable(value: Any) -> str:
    """A value as a person reads it: times to the minute, structures as plain text."""
    if isinstance(value, str):
        match = _TIME.match(value)
        return f"{match[1]} {match[2]}" if match else value
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_readable(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_readable(v) for v in value)
    return str(value)


def _sources(tables: Iterable[Table], data: PersonsData, lang: str) -> list[str]:
    """Where the values the person has came from (columns with a value only)."""
    found: list[str] = []
    for table in tables:
        rows = data.rows.get(table.name) or []
        for column in access.columns_of(table, data.kind):
            if column.data_category.startswith(("system.", "user.unique_id")):
                continue
            if not any(row.get(column.name) not in (None, "", [], {}) for row in rows):
                continue
            source = column.source
            if column.tracked_source and column.name in data.value_sources:
                # Provenance names the person, staff, DVV, Posti (or an import, the old register).
                given = data.value_sources[column.name]
                source = Source(given) if given in {s.value for s in Source} else Source.STAFF
            text = SOURCES[source][lang]
            if text not in found:
                found.append(text)
    return found


def _disclosed_category(name: str) -> str:
    return name if name in CATEGORIES else RELEASED_FROM.get(name, "basic_data")


async def render(
    session: AsyncSession, connection: asyncpg.Connection, settings: Settings, data: PersonsData
) -> str:
    lang = data.language
    words = WORDS[lang]
    counts = await access.bulk_counts(connection, data)
    disclosures = await connection.fetch(_DISCLOSURES, data.subject_ref)
    tables = access.tables_of(data.kind)
    name = _name(data)
    parts = [
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(words['title'])}</title><style>{PAGE_STYLE}"
        "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.3rem 0}"
        "dt{color:#5b6678}dd{margin:0}.row{border-top:1px solid #eef0f4;padding:.4rem 0}"
        "h3{font-size:1rem;margin:.8rem 0 .3rem}</style></head><body><main>"
        f"<h1>{escape(words['title'])}</h1>"
        f"<p><strong>{escape(name)}</strong></p><p>{escape(words['intro'])}</p>",
    ]
    for category in CATEGORIES:
        mine = [t for t in tables if t.category == category]
        if not mine:
            continue
        parts.append(f"<section><h2>{escape(CATEGORIES[category][lang])}</h2>")
        parts.append(f"<h3>{escape(words['held'])}</h3>")
        held = 0
        for table in mine:
            if table.bulk:
                count = counts.get(table.name, 0)
                held += count
                if count:
                    labels = ", ".join(data_category_names(table, lang))
                    parts.append(
                        f"<p>{escape(labels)}: {escape(words['rows'].format(count=count))}</p>"
                    )
                continue
            rows = data.rows.get(table.name, [])
            held += len(rows)
            for row in rows[:SHOWN_ROWS]:
                pairs = _key_values(table, row, lang)
                if pairs:
                    parts.append(
                        '<div class="row"><dl>'
                        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in pairs)
                        + "</dl></div>"
                    )
            if len(rows) > SHOWN_ROWS:
                more = words["more"].format(count=len(rows) - SHOWN_ROWS)
                parts.append(f"<p>{escape(more)}</p>")
        if not held:
            parts.append(f"<p>{escape(words['none'])}</p>")
        sources = _sources(mine, data, lang)
        if sources and held:
            parts.append(f"<h3>{escape(words['from'])}</h3><p>{escape(', '.join(sources))}</p>")
        received = sorted(
            {
                d["recipient_name"]
                for d in disclosures
                if any(_disclosed_category(c) == category for c in d["categories"])
            }
        )
        parts.append(f"<h3>{escape(words['to'])}</h3>")
        parts.append(
            f"<p>{escape(', '.join(received) if received else words['no_disclosures'])}</p>"
        )
        kept = []
        for table in mine:
            text = retention_text(table.retention, lang, settings)
            if text not in kept:
                kept.append(text)
        parts.append(f"<h3>{escape(words['kept'])}</h3><ul>")
        parts += [f"<li>{escape(text)}</li>" for text in kept]
        parts.append("</ul></section>")
    parts.append(f"<section><h2>{escape(words['all_disclosures'])}</h2>")
    if disclosures:
        parts.append("<ul>")
        for d in disclosures:
            parts.append(
                f"<li>{escape(d['recipient_name'])}: {escape(d['purpose'])} "
                f"({escape(', '.join(d['categories']))}), {d['first']:%Y-%m-%d}"
                + (f" - {d['last']:%Y-%m-%d}" if d["last"].date() != d["first"].date() else "")
                + f", {escape(words['rows'].format(count=d['times']))}</li>"
            )
        parts.append("</ul>")
    else:
        parts.append(f"<p>{escape(words['no_disclosures'])}</p>")
    parts.append("</section>")
    paragraphs, titles = texts.PARAGRAPHS[lang], texts.TITLES[lang]
    for key in ("object", "rights", "how", "complaint", "automated"):
        parts.append(
            f"<section><h2>{escape(titles[key])}</h2><p>{escape(paragraphs[key])}</p></section>"
        )
    parts.append("</main></body></html>")
    return "".join(parts)


def _name(data: PersonsData) -> str:
    row = (data.rows.get("users") or [{}])[0]
    return str(
        row.get("company_name")
        or " ".join(filter(None, (row.get("first_name"), row.get("last_name"))))
    )
