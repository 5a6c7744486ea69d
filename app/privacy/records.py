"""The record of processing activities (GDPR Art. 30(1)), generated from the personal-data
catalogue, the purpose catalogue and the recipient registry: one activity per purpose (W3C DPV),
each with its legal bases, the consent purposes under it, the categories of data subjects and of
data, the recipients, the transfers outside the EU/EEA and the time limits for erasure; then the
security measures. JSON, a page, or CSV (one row per activity and category of data)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.consents.models import Purpose
from app.core.settings import Settings
from app.disclosures.models import Recipient
from app.notice import service as notice
from app.notice import texts
from app.notice.service import PAGE_STYLE
from app.privacy.catalogue import TABLES
from app.privacy.vocabulary import (
    CATEGORIES,
    ERASURE,
    PURPOSES,
    data_category_names,
    retention_text,
)

WORDS: dict[str, dict[str, str]] = {
    "fi": {
        "title": "Seloste käsittelytoimista (EU:n tietosuoja-asetus, art. 30)",
        "controller": "Rekisterinpitäjä ja yhteystiedot",
        "subjects": "Rekisteröityjen ryhmät",
        "activities": "Käsittelytoimet",
        "legal_bases": "Oikeusperusteet",
        "consent_purposes": "Tarkoitukset, joista rekisteröity päättää",
        "data": "Henkilötietoryhmät ja niiden poistamisen määräajat",
        "recipients": "Vastaanottajat",
        "none": "Ei vastaanottajia.",
        "transfers": "Siirrot EU:n tai ETA:n ulkopuolelle",
        "security": "Tekniset ja organisatoriset turvatoimet",
        "erasure": "Poistettaessa",
    },
    "sv": {
        "title": "Register över behandling (EU:s dataskyddsförordning, art. 30)",
        "controller": "Personuppgiftsansvarig och kontaktuppgifter",
        "subjects": "Kategorier av registrerade",
        "activities": "Behandlingar",
        "legal_bases": "Rättsliga grunder",
        "consent_purposes": "Ändamål som den registrerade bestämmer om",
        "data": "Kategorier av personuppgifter och tidsfrister för radering",
        "recipients": "Mottagare",
        "none": "Inga mottagare.",
        "transfers": "Överföringar utanför EU eller EES",
        "security": "Tekniska och organisatoriska säkerhetsåtgärder",
        "erasure": "Vid radering",
    },
    "en": {
        "title": "Record of processing activities (GDPR Article 30)",
        "controller": "Controller and contact details",
        "subjects": "Categories of data subjects",
        "activities": "Processing activities",
        "legal_bases": "Legal bases",
        "consent_purposes": "Purposes the person decides on",
        "data": "Categories of personal data and time limits for erasure",
        "recipients": "Recipients",
        "none": "No recipients.",
        "transfers": "Transfers outside the EU or the EEA",
        "security": "Technical and organisational security measures",
        "erasure": "On erasure",
    },
}

DATA_SUBJECTS: dict[str, list[str]] = {
    "fi": [
        "Huutokaupat.com-palvelun yksityisasiakkaat",
        "Yritysasiakkaat ja niiden yhteyshenkilöt",
    ],
    "sv": [
        "Privatkunder i tjänsten Huutokaupat.com",
        "Företagskunder och deras kontaktpersoner",
    ],
    "en": [
        "Private customers of the Huutokaupat.com service",
        "Company customers and their contact persons",
    ],
}

MEASURES: dict[str, list[str]] = {
    "fi": [
        "Henkilötunnukset salataan (AES-256-GCM) ja haetaan avainnetulla tiivisteellä.",
        "Salasanat tallennetaan vain argon2id-tiivisteinä.",
        "Luovutus- ja käyttölokit ovat muuttumattomia, ja niiden eheys on tarkistettavissa.",
        "Palvelun tietokantarooli ei voi muuttaa lokeja eikä suostumusten todisteita.",
        "Jokainen pyyntö tunnistetaan allekirjoitetulla tunnisteella, jolla on rajatut oikeudet.",
        "Käsittelyn rajoittaminen ja poistaminen toteutetaan tietosisällön luettelon mukaan.",
    ],
    "sv": [
        "Personbeteckningar krypteras (AES-256-GCM) och söks med en nyckelad hash.",
        "Lösenord lagras endast som argon2id-hashar.",
        "Loggarna över utlämnanden och användning är oföränderliga och kontrollerbara.",
        "Tjänstens databasroll kan inte ändra loggarna eller bevisen på samtycke.",
        "Varje begäran autentiseras med en signerad token med begränsade behörigheter.",
        "Begränsning och radering genomförs enligt förteckningen över uppgifterna.",
    ],
    "en": [
        "Identity codes are encrypted (AES-256-GCM) and looked up by a keyed hash.",
        "Passwords are stored only as argon2id hashes.",
        "The disclosure and access logs are append-only and tamper-evident.",
        "The service's database role cannot change the logs or the proof of consent.",
        "Every request is authenticated with a signed token of limited scopes.",
        "Restriction and erasure follow the catalogue of the personal data.",
    ],
}


async def record(session: AsyncSession, settings: Settings, lang: str) -> dict[str, Any]:
    purposes = (await session.scalars(select(Purpose).order_by(Purpose.code))).all()
    recipients = (await session.scalars(select(Recipient).order_by(Recipient.name))).all()
    activities = []
    for dpv, names in PURPOSES.items():
        tables = [t for t in TABLES if dpv in t.purposes]
        if not tables:
            continue
        decided = [p for p in purposes if p.dpv_purpose == dpv]
        codes = {p.code for p in decided}
        data: dict[str, dict[str, Any]] = {}
        for table in tables:
            entry = data.setdefault(
                table.category,
                {"category": table.category, "name": CATEGORIES[table.category][lang], "data": []},
            )
            entry["data"] += [n for n in data_category_names(table, lang) if n not in entry["data"]]
            entry.setdefault("retention", [])
            period = retention_text(table.retention, lang, settings)
            if period not in entry["retention"]:
                entry["retention"].append(period)
            entry.setdefault("on_erasure", [])
            erasure = ERASURE[table.erasure][lang]
            if erasure not in entry["on_erasure"]:
                entry["on_erasure"].append(erasure)
        activities.append(
            {
                "purpose": dpv,
                "name": names[lang],
                "legal_bases": [
                    texts.LEGAL_BASES[lang][basis]
                    for basis in sorted(
                        {t.legal_basis for t in tables} | {p.legal_basis for p in decided}
                    )
                ],
                "consent_purposes": [
                    {"code": p.code, "name": getattr(p, f"name_{lang}")} for p in decided
                ],
                "data_subjects": DATA_SUBJECTS[lang],
                "categories": list(data.values()),
                "recipients": [
                    {
                        "name": r.name,
                        "kind": texts.RECIPIENT_KINDS[lang][r.kind],
                        "country": r.country,
                    }
                    for r in recipients
                    if codes & set(r.purposes)
                ],
            }
        )
    transfers = await notice.transfers(session, lang)
    return {
        "language": lang,
        "title": WORDS[lang]["title"],
        "generated_at": datetime.now(UTC).isoformat(),
        "controller": {
            "name": settings.controller_name,
            "address": settings.controller_address,
            "email": settings.controller_email,
            "phone": settings.controller_phone,
        },
        "data_subjects": DATA_SUBJECTS[lang],
        "activities": activities,
        "transfers": transfers,
        "transfers_text": texts.PARAGRAPHS[lang][
            "transfers_some" if transfers else "transfers_none"
        ],
        "security": {"text": texts.PARAGRAPHS[lang]["security"], "measures": MEASURES[lang]},
    }


def render_csv(document: dict[str, Any]) -> str:
    """One row per activity and category of data."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "purpose",
            "activity",
            "legal_bases",
            "data_subjects",
            "category",
            "data",
            "retention",
            "on_erasure",
            "recipients",
            "transfers",
        ]
    )
    transfers = "; ".join(f"{t['name']} ({t['country']})" for t in document["transfers"])
    for activity in document["activities"]:
        for category in activity["categories"]:
            writer.writerow(
                [
                    activity["purpose"],
                    activity["name"],
                    "; ".join(activity["legal_bases"]),
                    "; ".join(activity["data_subjects"]),
                    category["name"],
                    ", ".join(category["data"]),
                    " ".join(category["retention"]),
                    "; ".join(category["on_erasure"]),
                    "; ".join(r["name"] for r in activity["recipients"]),
                    transfers,
                ]
            )
    return buffer.getvalue()


def render_html(document: dict[str, Any]) -> str:
    lang = document["language"]
    words = WORDS[lang]
    controller = document["controller"]
    parts = [
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(document['title'])}</title><style>{PAGE_STYLE}"
        "h3{font-size:1rem;margin:.8rem 0 .3rem}</style></head><body><main>"
        f"<h1>{escape(document['title'])}</h1>"
        f"<section><h2>{escape(words['controller'])}</h2><p>"
        + "<br>".join(escape(str(v)) for v in controller.values())
        + "</p></section>"
        f"<section><h2>{escape(words['subjects'])}</h2><ul>"
        + "".join(f"<li>{escape(s)}</li>" for s in document["data_subjects"])
        + "</ul></section>"
        f"<h2>{escape(words['activities'])}</h2>",
    ]
    for activity in document["activities"]:
        parts.append(f"<section><h2>{escape(activity['name'])}</h2>")
        parts.append(
            f"<p class='basis'>{escape(activity['purpose'])} · {escape(words['legal_bases'])}: "
            f"{escape(', '.join(activity['legal_bases']))}</p>"
        )
        if activity["consent_purposes"]:
            parts.append(
                f"<h3>{escape(words['consent_purposes'])}</h3><p>"
                + escape(", ".join(p["name"] for p in activity["consent_purposes"]))
                + "</p>"
            )
        parts.append(f"<h3>{escape(words['data'])}</h3><ul>")
        for category in activity["categories"]:
            parts.append(
                f"<li><strong>{escape(category['name'])}</strong>: "
                f"{escape(', '.join(category['data']))}<br>"
                f"<span class='basis'>{escape(' '.join(category['retention']))} "
                f"{escape(words['erasure'])}: {escape('; '.join(category['on_erasure']))}.</span>"
                "</li>"
            )
        parts.append(f"</ul><h3>{escape(words['recipients'])}</h3>")
        if activity["recipients"]:
            parts.append(
                "<ul>"
                + "".join(
                    f"<li>{escape(r['name'])} ({escape(r['kind'])}, {escape(r['country'])})</li>"
                    for r in activity["recipients"]
                )
                + "</ul>"
            )
        else:
            parts.append(f"<p>{escape(words['none'])}</p>")
        parts.append("</section>")
    parts.append(
        f"<section><h2>{escape(words['transfers'])}</h2><p>{escape(document['transfers_text'])}</p>"
    )
    if document["transfers"]:
        parts.append(
            "<ul>"
            + "".join(
                f"<li>{escape(t['name'])} ({escape(t['country'])}): "
                f"{escape(t['transfer_basis_text'])}</li>"
                for t in document["transfers"]
            )
            + "</ul>"
        )
    parts.append("</section>")
    security = document["security"]
    parts.append(
        f"<section><h2>{escape(words['security'])}</h2><p>{escape(security['text'])}</p><ul>"
        + "".join(f"<li>{escape(m)}</li>" for m in security["measures"])
        + "</ul></section></main></body></html>"
    )
    return "".join(parts)
