"""The register description (GDPR Art. 13/14), built from the live configuration and data: the
seed document made live. The access export's Art. 15(1) section is built from the same parts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import DisclosureLogEntry
from app.consents.models import Purpose, PurposeVersion
from app.core.settings import Settings
from app.disclosures.models import Recipient
from app.notice import texts
from app.privacy import catalogue
from app.privacy.vocabulary import CATEGORIES, data_category_names, retention_text


async def purposes(session: AsyncSession, lang: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Purpose, getattr(PurposeVersion, f"notice_{lang}"))
        .join(
            PurposeVersion,
            (PurposeVersion.purpose_code == Purpose.code)
            & (PurposeVersion.version == Purpose.current_version),
        )
        .order_by(Purpose.code)
    )
    return [
        {
            "code": purpose.code,
            "name": getattr(purpose, f"name_{lang}"),
            "legal_basis": purpose.legal_basis,
            "legal_basis_text": texts.LEGAL_BASES[lang][purpose.legal_basis],
            "channels": list(purpose.channels),
            "channels_text": [texts.CHANNELS[lang][c] for c in purpose.channels],
            "group_companies": purpose.group_companies,
            "direct_marketing": purpose.direct_marketing,
            "notice": notice,
        }
        for purpose, notice in rows
    ]


async def recipients(session: AsyncSession, lang: str = "en") -> list[dict[str, Any]]:
    rows = await session.scalars(select(Recipient).order_by(Recipient.name))
    return [
        {
            "name": r.name,
            "kind": r.kind,
            "kind_text": texts.RECIPIENT_KINDS[lang][r.kind],
            "country": r.country,
            "in_eu_eea": r.in_eu_eea,
            "purposes": list(r.purposes),
        }
        for r in rows
    ]


async def transfers(session: AsyncSession, lang: str) -> list[dict[str, Any]]:
    """Recipients outside the EU/EEA that actually received data, each with the documented
    basis of the transfer (only a logged external disclosure can have one: releases refuse
    recipients outside the EU/EEA)."""
    rows = await session.execute(
        select(Recipient.name, Recipient.country, DisclosureLogEntry.transfer_basis)
        .join(DisclosureLogEntry, DisclosureLogEntry.recipient_id == Recipient.id)
        .where(Recipient.in_eu_eea.is_(False), DisclosureLogEntry.transfer_basis.is_not(None))
        .distinct()
        .order_by(Recipient.name)
    )
    return [
        {
            "name": name,
            "country": country,
            "transfer_basis": basis,
            "transfer_basis_text": texts.TRANSFER_BASES[lang][str(basis)],
        }
        for name, country, basis in rows
    ]


def categories(lang: str, settings: Settings) -> list[dict[str, Any]]:
    """Section 5 and the retention section, from the personal-data catalogue: each category with
    the data it holds, and each retention period with what it applies to."""
    described = []
    for code, tables in catalogue.by_category().items():
        periods: dict[str, list[str]] = {}
        data: list[str] = []
        for table in tables:
            names = data_category_names(table, lang)
            data += [name for name in names if name not in data]
            applies = periods.setdefault(retention_text(table.retention, lang, settings), [])
            applies += [name for name in names if name not in applies]
        described.append(
            {
                "category": code,
                "name": CATEGORIES[code][lang],
                "data": data,
                "retention": [
                    {"period": period, "applies_to": applies} for period, applies in periods.items()
                ],
            }
        )
    return described


async def article_15(session: AsyncSession, settings: Settings, lang: str) -> dict[str, Any]:
    """The Art. 15(1) items (a)-(h) of an access answer."""
    paragraphs = texts.PARAGRAPHS[lang]
    return {
        "purposes_and_legal_bases": await purposes(session, lang),
        "categories_and_retention": categories(lang, settings),
        "recipients": await recipients(session, lang),
        "rights": paragraphs["rights"],
        "complaint": paragraphs["complaint"],
        "sources": paragraphs["sources"],
        "automated_decision_making": paragraphs["automated"],
    }


async def register_description(
    session: AsyncSession, settings: Settings, lang: str
) -> dict[str, Any]:
    titles, paragraphs = texts.TITLES[lang], texts.PARAGRAPHS[lang]
    transferred = await transfers(session, lang)
    return {
        "language": lang,
        "title": titles["document"],
        "sections": [
            {
                "number": 1,
                "title": titles["controller"],
                "controller": {
                    "name": settings.controller_name,
                    "address": settings.controller_address,
                },
            },
            {
                "number": 2,
                "title": titles["contact"],
                "contact": {
                    "name": settings.controller_name,
                    "address": settings.controller_address,
                    "phone": settings.controller_phone,
                    "email": settings.controller_email,
                },
            },
            {"number": 3, "title": titles["register"], "text": texts.REGISTER_NAME[lang]},
            {"number": 4, "title": titles["purposes"], "purposes": await purposes(session, lang)},
            {"number": 5, "title": titles["data"], "categories": categories(lang, settings)},
            {"number": 6, "title": titles["sources"], "text": paragraphs["sources"]},
            {
                "number": 7,
                "title": titles["disclosures"],
                "text": paragraphs["disclosures"],
                "recipients": [r for r in await recipients(session, lang) if r["in_eu_eea"]],
            },
            {
                "number": 8,
                "title": titles["transfers"],
                "text": paragraphs["transfers_some" if transferred else "transfers_none"],
                "transfers": transferred,
            },
            {"number": 9, "title": titles["security"], "text": paragraphs["security"]},
            {"number": 10, "title": titles["retention"], "categories": categories(lang, settings)},
            # Art. 21(4): the right to object shown clearly and separately, first of the rights.
            {"number": 11, "title": titles["object"], "text": paragraphs["object"]},
            {"number": 12, "title": titles["rights"], "text": paragraphs["rights"]},
            {"number": 13, "title": titles["how"], "text": paragraphs["how"]},
            {"number": 14, "title": titles["complaint"], "text": paragraphs["complaint"]},
            {"number": 15, "title": titles["automated"], "text": paragraphs["automated"]},
        ],
    }


PAGE_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "background:#f6f7f9;color:#1d2430;line-height:1.6}"
    "main{max-width:48rem;margin:0 auto;padding:2rem 1.25rem 4rem}"
    "h1{font-size:1.7rem;line-height:1.3;margin:0 0 1.5rem}"
    "section{background:#fff;border:1px solid #dde2ea;border-radius:10px;"
    "padding:1rem 1.25rem;margin:0 0 1rem}"
    "section h2{font-size:1.15rem;margin:0 0 .6rem}"
    "section.object{border:2px solid #b3261e;background:#fff7f6}"
    "ul{padding-left:1.2rem;margin:.4rem 0}li{margin:.35rem 0}"
    ".basis{color:#5b6678;font-size:.92rem}"
)


def render_html(description: dict[str, Any]) -> str:
    """A page of the description a person reads (styles, a viewport), every value escaped."""
    from html import escape

    language = escape(description["language"])
    parts = [
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(description['title'])}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><main><h1>{escape(description['title'])}</h1>",
    ]
    for section in description["sections"]:
        emphasis = ' class="object"' if section["number"] == 11 else ""
        parts.append(f"<section{emphasis}><h2>{escape(section['title'])}</h2>")
        if "text" in section:
            parts.append(f"<p>{escape(section['text'])}</p>")
        for key in ("controller", "contact"):
            if key in section:
                parts.append(
                    "<p>" + "<br>".join(escape(str(v)) for v in section[key].values()) + "</p>"
                )
        if "purposes" in section:
            parts.append("<ul>")
            for p in section["purposes"]:
                channels = ", ".join(p["channels_text"])
                parts.append(
                    f"<li><strong>{escape(p['name'])}</strong> "
                    f"<span class='basis'>({escape(p['legal_basis_text'])}"
                    + (f"; {escape(channels)}" if channels else "")
                    + f")</span><br>{escape(p['notice'])}</li>"
                )
            parts.append("</ul>")
        if "categories" in section:
            parts.append("<ul>")
            for c in section["categories"]:
                parts.append(f"<li><strong>{escape(c['name'])}</strong>")
                if section["number"] == 10:
                    parts.append("<ul>")
                    for period in c["retention"]:
                        applies = ", ".join(period["applies_to"])
                        parts.append(
                            f"<li>{escape(period['period'])}"
                            + (
                                f" <span class='basis'>({escape(applies)})</span>"
                                if applies
                                else ""
                            )
                            + "</li>"
                        )
                    parts.append("</ul>")
                else:
                    parts.append(f"<br><span class='basis'>{escape(', '.join(c['data']))}</span>")
                parts.append("</li>")
            parts.append("</ul>")
        if section.get("recipients"):
            parts.append("<ul>")
            for r in section["recipients"]:
                parts.append(f"<li>{escape(r['name'])} ({escape(r['kind_text'])})</li>")
            parts.append("</ul>")
        if section.get("transfers"):
            parts.append("<ul>")
            for t in section["transfers"]:
                parts.append(
                    f"<li>{escape(t['name'])} ({escape(t['country'])}): "
                    f"{escape(t['transfer_basis_text'])}</li>"
                )
            parts.append("</ul>")
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "".join(parts)
