"""The personal data of data-subject requests: what the person asked and how it was handled."""

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

SUBJECT_REQUESTS = Table(
    name="subject_requests",
    category="accountability",
    description="A request under the GDPR (access, portability, rectification, erasure, "
    "restriction, objection): when it came, its deadline and outcome.",
    columns=(
        *technical("id"),
        user_key(),
        Column("type", "user.rights_request", Source.SUBJECT, KEEP),
        *technical("status"),
        Column("channel", "user.rights_request", Source.SUBJECT, KEEP),
        Column("details", "user.rights_request", Source.SUBJECT),
        *technical("received_at", "due_on", "extended_at"),
        Column("extension_reason", "user.rights_request", Source.STAFF),
        *technical("identity_verified_at", "identity_verification", "closed_at"),
        Column("resolution", "user.rights_request", Source.STAFF),
        *technical("result", "created_by"),
    ),
    purposes=("dpv:LegalCompliance",),
    legal_basis="legal_obligation",
    retention=Retention("proof"),
    erasure=Erasure.PSEUDONYMISE,
    order_by="received_at, id",
)

SUBJECT_REQUEST_EVENTS = Table(
    name="subject_request_events",
    category="accountability",
    description="Every step of a request's handling, by whom. Append-only.",
    columns=(
        *technical("id", "request_id", "at", "actor", "action"),
        Column("note", "user.rights_request", Source.STAFF, OnErasure.KEEP),
    ),
    purposes=("dpv:LegalCompliance",),
    legal_basis="legal_obligation",
    retention=Retention("proof"),
    erasure=Erasure.UNLINK,
    via=("request_id", "subject_requests"),
    order_by="id",
    append_only=True,
)

TABLES = (SUBJECT_REQUESTS, SUBJECT_REQUEST_EVENTS)
