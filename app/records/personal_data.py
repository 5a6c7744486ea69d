"""The personal data of the register's records: contracts, billing, debt collection, interests."""

from __future__ import annotations

from app.core.personal_data import (
    Column,
    Erasure,
    LegalHold,
    OnErasure,
    Retention,
    Source,
    Table,
    technical,
    user_key,
)

KEEP = OnErasure.KEEP

# Kirjanpitolaki 2:10: vouchers six years from the end of the year of the record.
VOUCHERS = LegalHold(
    law="Kirjanpitolaki 2:10", years=6, from_column="updated_at", until_column="held_until"
)
# The same, and while the claim is open, a legal claim (GDPR Art. 17(3)(e)).
CLAIMS = LegalHold(
    law="Kirjanpitolaki 2:10",
    years=6,
    from_column="closed_on",
    until_column="held_until",
    still_needed="status = 'open'",
)

CONTRACTS = Table(
    name="contracts",
    category="contracts",
    description="A customer relationship: a product or service, its seller, when it opened and "
    "ended, and what is needed to communicate about it.",
    columns=(
        *technical("id"),
        user_key(),
        Column("external_id", "user.contract", Source.IMPORT),
        Column("product", "user.contract", Source.OBSERVED),
        Column("seller", "user.contract", Source.OBSERVED),
        Column("opened_on", "user.contract", Source.OBSERVED),
        Column("terminated_on", "user.contract", Source.OBSERVED),
        Column("communication", "user.contact", Source.SUBJECT),
        *technical("created_at", "updated_at"),
    ),
    purposes=("dpv:CustomerRelationshipManagement",),
    legal_basis="contract",
    retention=Retention("relationship"),
    erasure=Erasure.DELETE,
    order_by="opened_on, id",
)

BILLING_PROFILES = Table(
    name="billing_profiles",
    category="billing",
    description="Where and how the user is billed; only the payment provider's reference, "
    "never a card number.",
    columns=(
        user_key(),
        Column("street", "user.contact.address", Source.SUBJECT, KEEP),
        Column("postal_code", "user.contact.address", Source.SUBJECT, KEEP),
        Column("city", "user.contact.address", Source.SUBJECT, KEEP),
        Column("country", "user.contact.address", Source.SUBJECT, KEEP),
        Column("e_invoice_address", "user.financial.e_invoice_address", Source.SUBJECT, KEEP),
        Column("payment_method_reference", "user.financial.payment_reference", Source.SUBJECT),
        Column("held_until", "system.operations", Source.DERIVED, KEEP),
        *technical("created_at", "updated_at"),
    ),
    purposes=("dpv:LegalCompliance",),
    legal_basis="legal_obligation",
    retention=Retention("hold", hold=VOUCHERS),
    erasure=Erasure.HOLD,
)

COLLECTION_CASES = Table(
    name="collection_cases",
    category="debt_collection",
    description="A debt-collection case: referred to an agency on a date, for an amount.",
    columns=(
        *technical("id"),
        user_key(),
        Column("referred_on", "user.financial.debt", Source.STAFF, KEEP),
        Column("agency", "user.financial.debt", Source.STAFF, KEEP),
        Column("amount_cents", "user.financial.debt", Source.STAFF, KEEP),
        Column("currency", "user.financial.debt", Source.STAFF, KEEP),
        Column("status", "user.financial.debt", Source.STAFF, KEEP),
        Column("closed_on", "user.financial.debt", Source.STAFF, KEEP),
        Column("held_until", "system.operations", Source.DERIVED, KEEP),
        *technical("created_at", "updated_at"),
    ),
    purposes=("dpv:LegalCompliance",),
    legal_basis="legal_obligation",
    retention=Retention("hold", hold=CLAIMS),
    erasure=Erasure.HOLD,
    order_by="referred_on, id",
)

INTERESTS = Table(
    name="interests",
    category="interests",
    description="Interests and other data the person gave themselves.",
    columns=(
        *technical("id"),
        user_key(),
        Column("topic", "user.content", Source.SUBJECT),
        Column("note", "user.content", Source.SUBJECT),
        *technical("created_at"),
    ),
    purposes=("dpv:CustomerRelationshipManagement", "dpv:DirectMarketing"),
    legal_basis="consent",
    retention=Retention("relationship"),
    erasure=Erasure.DELETE,
    order_by="created_at, id",
)

TABLES = (CONTRACTS, BILLING_PROFILES, COLLECTION_CASES, INTERESTS)
