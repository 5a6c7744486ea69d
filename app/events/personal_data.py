"""The personal data of events: what the person did in the service."""

from __future__ import annotations

from app.core.personal_data import Column, Erasure, Retention, Source, Table, technical, user_key

EVENTS = Table(
    name="events",
    category="events",
    description="One event of the person's use of the service: service events on the contract, "
    "analytics events only with consent.",
    columns=(
        *technical("id"),
        Column("occurred_at", "user.behavior", Source.OBSERVED),
        user_key(),
        Column("type", "user.behavior", Source.OBSERVED),
        Column("source", "user.behavior", Source.OBSERVED),
        Column("properties", "user.behavior", Source.OBSERVED),
        # When the registry stored it: bookkeeping, not the person's use (and rendering it for
        # every one of a long history's events is a fifth of an export's time).
        Column("received_at", "system.operations", Source.DERIVED, shown=False),
    ),
    purposes=("dpv:CustomerRelationshipManagement", "dpv:ServiceOptimisation"),
    legal_basis="contract",
    retention=Retention("months", setting="events_retention_months", column="occurred_at"),
    erasure=Erasure.DELETE,
    order_by="occurred_at, id",
    bulk=True,
)

TABLES = (EVENTS,)
