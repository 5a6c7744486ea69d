"""The register description (GDPR Art. 13/14), built from the live configuration and data: the
seed document made live. The access export's Art. 15(1) section is built from the same parts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.consents.models import Purpose, PurposeVersion
from app.core.settings import Settings
from app.disclosures.models import Recipient
from app.notice import texts


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
            "name": purpose.name_en,
            "legal_basis": purpose.legal_basis,
            "channels": list(purpose.channels),
            "group_companies": purpose.group_companies,
            "notice": notice,
        }
        for purpose, notice in rows
    ]


async def recipients(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.scalars(select(Recipient).order_by(Recipient.name))
    return [
        {
            "name": r.name,
            "kind": r.kind,
            "country": r.country,
            "in_eu_eea": r.in_eu_eea,
            "purposes": list(r.purposes),
        }
        for r in rows
    ]


def categories(lang: str, settings: Settings) -> list[dict[str, str]]:
    return [
        {
            "category": code,
            "name": text[lang]["name"],
            "retention": text[lang]["retention"].format(months=settings.events_retention_months),
        }
        for code, text in texts.CATEGORIES.items()
    ]


async def article_15(session: AsyncSession, settings: Settings, lang: str) -> dict[str, Any]:
    """The Art. 15(1) items (a)-(h) of an access answer."""
    paragraphs = texts.PARAGRAPHS[lang]
    return {
        "purposes_and_legal_bases": await purposes(session, lang),
        "categories_and_retention": categories(lang, settings),
        "recipients": await recipients(session),
        "rights": paragraphs["rights"],
        "complaint": paragraphs["complaint"],
        "sources": paragraphs["sources"],
        "automated_decision_making": paragraphs["automated"],
    }


async def register_description(
    session: AsyncSession, settings: Settings, lang: str
) -> dict[str, Any]:
    titles, paragraphs = texts.TITLES[lang], texts.PARAGRAPHS[lang]
    outside = [r for r in await recipients(session) if not r["in_eu_eea"]]
    transfers = (
        paragraphs["transfers_none"]
        if not outside
        else ", ".join(f"{r['name']} ({r['country']})" for r in outside)
    )
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
                "recipients": await recipients(session),
            },
            {"number": 8, "title": titles["transfers"], "text": transfers},
            {"number": 9, "title": titles["security"], "text": paragraphs["security"]},
            {"number": 10, "title": titles["retention"], "categories": categories(lang, settings)},
            {"number": 11, "title": titles["rights"], "text": paragraphs["rights"]},
            {"number": 12, "title": titles["complaint"], "text": paragraphs["complaint"]},
            {"number": 13, "title": titles["automated"], "text": paragraphs["automated"]},
        ],
    }


def render_html(description: dict[str, Any]) -> str:
    """A plain page of the description, every value escaped."""
    from html import escape

    parts = [
        f'<!doctype html><html lang="{escape(description["language"])}"><head>'
        f'<meta charset="utf-8"><title>{escape(description["title"])}</title></head><body>',
        f"<h1>{escape(description['title'])}</h1>",
    ]
    for section in description["sections"]:
        parts.append(f"<h2>{escape(section['title'])}</h2>")
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
                parts.append(
                    f"<li><strong>{escape(p['name'])}</strong> ({escape(p['legal_basis'])}): "
                    f"{escape(p['notice'])}</li>"
                )
            parts.append("</ul>")
        if "categories" in section:
            parts.append("<ul>")
            for c in section["categories"]:
                value = c["retention"] if section["number"] == 10 else c["name"]
                parts.append(f"<li>{escape(value)}</li>")
            parts.append("</ul>")
        if section.get("recipients"):
            parts.append("<ul>")
            for r in section["recipients"]:
                parts.append(f"<li>{escape(r['name'])} ({escape(r['country'])})</li>")
            parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)
