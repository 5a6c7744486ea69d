"""The personal data of permissions and prohibitions: every decision, its evidence, the state."""

from __future__ import annotations

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

CONSENT_RECEIPTS = Table(
    name="consent_receipts",
    category="permissions",
    description="One recording of decisions: when, how and by whom, with its evidence (the "
    "browser's user agent, a keyed hash of the address). Append-only.",
    columns=(
        *technical("id"),
        user_key(),
        Column("recorded_at", "user.privacy_preferences", Source.OBSERVED, KEEP),
        Column("source", "user.privacy_preferences", Source.OBSERVED, KEEP),
        Column("language", "user.demographic.language", Source.SUBJECT, KEEP),
        Column("actor", "user.privacy_preferences", Source.DERIVED, KEEP),
        Column("user_agent", "user.device.user_agent", Source.OBSERVED),
        Column("client_address_hash", "user.device.ip_address", Source.DERIVED, shown=False),
        *technical("request_id"),
        # A receipt from the earlier register: its id there, and the evidence it had (source,
        # time, notice text) with the import's file and checksum.
        Column("external_id", "user.privacy_preferences", Source.IMPORT, KEEP),
        Column("evidence", "user.privacy_preferences", Source.IMPORT, KEEP),
    ),
    purposes=("dpv:LegalCompliance",),
    legal_basis="legal_obligation",
    retention=Retention("proof"),
    erasure=Erasure.PSEUDONYMISE,
    order_by="recorded_at, id",
    append_only=True,
)

CONSENT_RECORDS = Table(
    name="consent_records",
    category="permissions",
    description="One decision about one purpose (on one channel, or every channel): granted, "
    "withdrawn, prohibited or allowed, under which notice version. Append-only.",
    columns=(
        *technical("id", "receipt_id"),
        user_key(),
        Column("purpose_code", "user.privacy_preferences", Source.SUBJECT, KEEP),
        Column("purpose_version", "user.privacy_preferences", Source.SUBJECT, KEEP),
        Column("channel", "user.privacy_preferences", Source.SUBJECT, KEEP),
        Column("decision", "user.privacy_preferences", Source.SUBJECT, KEEP),
        Column("recorded_at", "user.privacy_preferences", Source.OBSERVED, KEEP),
    ),
    purposes=("dpv:DirectMarketing", "dpv:CommercialResearch", "dpv:ServiceOptimisation"),
    legal_basis="consent",
    retention=Retention("proof"),
    erasure=Erasure.PSEUDONYMISE,
    order_by="id",
    append_only=True,
)

CONSENT_STATES = Table(
    name="consent_states",
    category="permissions",
    description="The latest decision per purpose and channel.",
    columns=(
        user_key(),
        Column("purpose_code", "user.privacy_preferences", Source.SUBJECT),
        Column("channel", "user.privacy_preferences", Source.SUBJECT),
        Column("decision", "user.privacy_preferences", Source.SUBJECT),
        *technical("record_id", "purpose_version", "decided_at"),
    ),
    purposes=("dpv:DirectMarketing", "dpv:CommercialResearch", "dpv:ServiceOptimisation"),
    legal_basis="consent",
    retention=Retention("relationship"),
    erasure=Erasure.DELETE,
    order_by="purpose_code, channel",
)

TABLES = (CONSENT_RECEIPTS, CONSENT_RECORDS, CONSENT_STATES)
