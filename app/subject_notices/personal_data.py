"""The personal data of notices owed to the person (Art. 12(3), 18(3))."""

from __future__ import annotations

from app.core.personal_data import Column, Erasure, Retention, Source, Table, technical, user_key

SUBJECT_NOTICES = Table(
    name="subject_notices",
    category="accountability",
    description="A notice the registry owed the person: a request's deadline extended, a "
    "restriction lifted.",
    columns=(
        *technical("id"),
        user_key(),
        *technical("kind"),
        Column("language", "user.demographic.language", Source.SUBJECT),
        Column("title", "user.notification", Source.DERIVED),
        Column("body", "user.notification", Source.DERIVED),
        Column("details", "user.notification", Source.DERIVED),
        *technical("created_at", "attempts", "next_attempt_at", "sent_at", "failed_at"),
        *technical("last_error"),
    ),
    purposes=("dpv:LegalCompliance",),
    legal_basis="legal_obligation",
    retention=Retention("relationship"),
    erasure=Erasure.DELETE,
    order_by="id",
)

TABLES = (SUBJECT_NOTICES,)
