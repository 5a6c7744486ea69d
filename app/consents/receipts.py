"""Consent receipts: Kantara Consent Receipt v1.1 fields and the ISO/IEC TS 27560 record."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.dependencies import Principal
from app.consents.models import WHOLE_PURPOSE, ConsentReceipt, ConsentRecord, Purpose
from app.consents.schemas import ConsentReceipt as ReceiptDocument
from app.consents.service import notice_versions
from app.core.errors import NotFound
from app.core.settings import Settings
from app.privacy import catalogue

STATES = {
    "granted": "active",
    "allowed": "active",
    "withdrawn": "withdrawn",
    "prohibited": "refused",
}


class ReceiptNotFound(NotFound):
    type = "receipt-not-found"
    title = "Receipt not found"


def _withdrawal(user_id: uuid.UUID) -> str:
    return (
        f"As easily as given: POST /v1/users/{user_id}/permissions with the decision `withdrawn` "
        "(or `prohibited` to object), the settings page of Huutokaupat.com, or a message to the "
        "controller's contact."
    )


def postal_address(text: str) -> dict[str, str]:
    """The controller's address as the object Kantara's schema wants: ``street, postal code and
    locality, country`` split when written so, always with the whole text."""
    parts = [part.strip() for part in text.split(",")]
    address = {"formatted": text}
    if len(parts) >= 3:
        code, _, locality = parts[1].partition(" ")
        address.update(
            streetAddress=parts[0],
            postalCode=code,
            addressLocality=locality,
            addressCountry=parts[-1],
        )
    return address


async def read_receipt(
    session: AsyncSession, principal: Principal, settings: Settings, receipt_id: uuid.UUID
) -> ReceiptDocument:
    receipt = await session.get(ConsentReceipt, receipt_id)
    # The user's own receipts, or any for the DPO; anything else answers like a missing one.
    readable = principal.role == "dpo" or (
        principal.is_user and receipt is not None and receipt.user_id == principal.user_id
    )
    if receipt is None or not readable:
        raise ReceiptNotFound("No such receipt.")
    records = (
        await session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.receipt_id == receipt_id)
            .order_by(ConsentRecord.id)
        )
    ).all()
    versions = await notice_versions(
        session, {(r.purpose_code, r.purpose_version) for r in records}
    )
    purposes = {
        p.code: p
        for p in (
            await session.scalars(
                select(Purpose).where(Purpose.code.in_({r.purpose_code for r in records}))
            )
        ).all()
    }
    controller = {
        "piiController": settings.controller_name,
        "contact": settings.controller_email,
        "address": postal_address(settings.controller_address),
        "email": settings.controller_email,
        "phone": settings.controller_phone,
        "piiControllerUrl": settings.privacy_policy_url,
    }
    entries: list[dict[str, Any]] = []
    for record in records:
        purpose = purposes[record.purpose_code]
        version = versions[(record.purpose_code, record.purpose_version)]
        notice_text = getattr(version, f"notice_{receipt.language}")
        entries.append(
            {
                "purpose": purpose.name_en,
                "purposeCode": purpose.code,
                "purposeCategory": [purpose.dpv_purpose],
                "consentType": "EXPLICIT",
                "piiCategory": catalogue.data_for_purpose(purpose.dpv_purpose),
                "primaryPurpose": purpose.category == "service",
                "termination": _withdrawal(receipt.user_id),
                "thirdPartyDisclosure": purpose.group_companies,
                "thirdPartyName": (
                    f"{settings.controller_name} group companies" if purpose.group_companies else ""
                ),
                "channel": None if record.channel == WHOLE_PURPOSE else record.channel,
                "decision": record.decision,
                "legalBasis": version.legal_basis,
                "notice": {
                    "version": version.version,
                    "language": receipt.language,
                    "text": notice_text,
                    "textHash": version.text_hash,
                },
            }
        )
    await audit.log_access(
        session,
        principal,
        [receipt.user_id],
        ["permissions"],
        "read_receipt",
        principal.request_id,
    )
    return ReceiptDocument(
        version="KI-CR-v1.1.0",
        jurisdiction="FI",
        consentTimestamp=int(receipt.recorded_at.timestamp()),
        collectionMethod=receipt.source,
        consentReceiptID=receipt.id,
        language=receipt.language,
        piiPrincipalId=receipt.user_id,
        piiControllers=[controller],
        policyUrl=settings.privacy_policy_url,
        services=[{"service": "Huutokaupat.com user register", "purposes": entries}],
        sensitive=False,
        spiCat=[],
        iso27560={
            "schema_version": "ISO/IEC TS 27560:2023",
            "record_id": str(receipt.id),
            "pii_principal_id": str(receipt.user_id),
            "notice": [
                {
                    "purpose": e["purposeCode"],
                    "version": e["notice"]["version"],
                    "language": receipt.language,
                    "text_hash": e["notice"]["textHash"],
                }
                for e in entries
            ],
            "processing": {
                "purposes": [e["purposeCode"] for e in entries],
                "lawful_basis": sorted({e["legalBasis"] for e in entries}),
                "pii_categories": sorted({c for e in entries for c in e["piiCategory"]}),
                "controllers": [controller],
                "storage_location": "EU/EEA",
                "retention": "Until withdrawn or the customer relationship ends; the record "
                "itself is kept as proof (GDPR Art. 7(1)).",
                "jurisdiction": "FI",
                "recipients": sorted({e["thirdPartyName"] for e in entries} - {""}),
                "withdrawal_method": _withdrawal(receipt.user_id),
                "collection_method": receipt.source,
            },
            "events": [
                {
                    "time": receipt.recorded_at.isoformat(),
                    "type": e["decision"],
                    "purpose": e["purposeCode"],
                    "channel": e["channel"],
                    "entity": receipt.actor,
                    "state": STATES[e["decision"]],
                }
                for e in entries
            ],
            "evidence": {
                "user_agent": receipt.user_agent,
                "client_address_hash": receipt.client_address_hash,
                "request_id": receipt.request_id,
                # From the earlier register (``registry import``): its source, the time, the
                # notice text if it had one, and the file it came in.
                **({"imported": receipt.evidence} if receipt.evidence else {}),
            },
        },
    )
