"""The answers kept for ``Idempotency-Key`` retries: copies of what was already answered."""

from __future__ import annotations

from app.core.personal_data import Column, Erasure, Retention, Source, Table, technical

IDEMPOTENCY_KEYS = Table(
    name="idempotency_keys",
    category="accountability",
    description="The first answer to a request sent with an Idempotency-Key, kept a day so that "
    "a retry gets the same answer.",
    link="owner",
    columns=(
        Column("owner", "user.unique_id", Source.DERIVED),
        *technical("key", "fingerprint", "status"),
        Column("body", "user.answer_copy", Source.DERIVED),
        Column("headers", "user.answer_copy", Source.DERIVED),
        *technical("created_at"),
    ),
    purposes=("dpv:ServiceProvision",),
    legal_basis="contract",
    retention=Retention("expiry", column="created_at", grace="1 day"),
    erasure=Erasure.DELETE,
    copies=True,
)

TABLES = (IDEMPOTENCY_KEYS,)
