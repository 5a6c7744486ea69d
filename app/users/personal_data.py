"""The personal data of the users domain: the profile, the identity code and the change history."""

from __future__ import annotations

from typing import Any

from app.core.personal_data import (
    Column,
    Erasure,
    OnErasure,
    Retention,
    Source,
    Table,
    technical,
    user_key,
)

KEEP = OnErasure.KEEP
SUBJECT = Source.SUBJECT


def _profile(name: str, data_category: str) -> Column:
    # The person gives these, DVV and Posti may update them: the provenance says whose the value
    # is now.
    return Column(name, data_category, SUBJECT, tracked_source=True)


USERS = Table(
    name="users",
    category="basic_data",
    description="The user: a private person or a company, their name, address and contacts.",
    link="id",
    columns=(
        user_key("id"),
        Column("subject_ref", "user.unique_id.pseudonymous", Source.DERIVED, OnErasure.KEY),
        Column("kind", "user.account", SUBJECT, KEEP),
        # Kept by an erasure: the earlier register's id is what stops a later import of its
        # file from bringing the erased person back.
        Column("external_id", "user.unique_id", Source.IMPORT, KEEP),
        *technical("status"),
        Column("language", "user.demographic.language", SUBJECT),
        _profile("first_name", "user.name"),
        _profile("last_name", "user.name"),
        _profile("birth_date", "user.demographic.date_of_birth"),
        _profile("company_name", "user.name"),
        _profile("business_id", "user.government_id.business_id"),
        _profile("contact_name", "user.name"),
        _profile("e_invoice_address", "user.financial.e_invoice_address"),
        _profile("street", "user.contact.address"),
        _profile("postal_code", "user.contact.address"),
        _profile("city", "user.contact.address"),
        _profile("country", "user.contact.address"),
        _profile("phone", "user.contact.phone_number"),
        _profile("email", "user.contact.email"),
        Column("deceased_on", "user.demographic.date_of_death", Source.DVV),
        *technical("closed_at", "restricted_at", on_erasure=OnErasure.CLEAR),
        *technical("erased_at", "updated_at"),
        # When the account was made could single the person out among the tombstones.
        *technical("created_at", on_erasure=OnErasure.CLEAR),
    ),
    # Register description section 4: the relationship, direct marketing and market research.
    purposes=(
        "dpv:CustomerRelationshipManagement",
        "dpv:DirectMarketing",
        "dpv:CommercialResearch",
    ),
    legal_basis="contract",
    retention=Retention("relationship"),
    erasure=Erasure.PSEUDONYMISE,
    tombstone=(("status", "'erased'"), ("erased_at", "now()"), ("updated_at", "now()")),
)


async def _reveal_identity_code(context: Any, row: dict[str, Any], full: bool) -> dict[str, Any]:
    """The masked code, or for the DPO the code itself, decrypted here and never stored."""
    if full:
        row["identity_code"] = await context.identity_code()
    return row


IDENTITY_CODES = Table(
    name="identity_codes",
    category="identity_code",
    description="The personal identity code, encrypted, with a keyed hash for exact lookup.",
    columns=(
        user_key(),
        Column(
            "ciphertext", "user.government_id.national_identification_number", SUBJECT, shown=False
        ),
        Column("nonce", "system.operations", Source.DERIVED, shown=False),
        Column("key_id", "system.operations", Source.DERIVED, shown=False),
        Column(
            "lookup_hash",
            "user.government_id.national_identification_number",
            Source.DERIVED,
            shown=False,
        ),
        Column("masked", "user.government_id.national_identification_number", SUBJECT),
        Column("method", "user.authorization.identification", Source.OBSERVED),
        Column("verified_at", "user.authorization.identification", Source.OBSERVED),
    ),
    purposes=("dpv:IdentityVerification",),
    legal_basis="legitimate_interest",
    retention=Retention("relationship"),
    erasure=Erasure.DELETE,
    reveal=_reveal_identity_code,
)

USER_CHANGES = Table(
    name="user_changes",
    category="accountability",
    description="Every change to the person's data: which fields, from what to what, by whom, "
    "from which source.",
    columns=(
        *technical("id"),
        user_key(),
        Column("changed_at", "user.provenance", Source.DERIVED),
        Column("source", "user.provenance", Source.DERIVED),
        Column("actor", "user.provenance", Source.DERIVED),
        Column("category", "user.provenance", Source.DERIVED),
        Column("action", "user.provenance", Source.DERIVED),
        Column("fields", "user.provenance", Source.DERIVED),
        Column("changes", "user.provenance", Source.DERIVED),
        *technical("request_id", "update_id"),
    ),
    purposes=("dpv:LegalCompliance",),
    legal_basis="legal_obligation",
    retention=Retention("relationship"),
    erasure=Erasure.DELETE,
    order_by="id",
)

TABLES = (USERS, IDENTITY_CODES, USER_CHANGES)
