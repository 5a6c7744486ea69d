"""The personal data of register updates from DVV and Posti."""

from __future__ import annotations

from app.core.personal_data import Column, Erasure, Retention, Source, Table, technical, user_key

REGISTER_UPDATES = Table(
    name="register_updates",
    category="basic_data",
    description="An update from DVV or Posti applied to the person's data, once.",
    columns=(
        # Which update was applied stays, so that it is never applied again.
        *technical("source", "update_id", "type"),
        user_key(),
        *technical("changed_fields", "applied_at"),
        Column("details", "user.provenance", Source.DERIVED),
    ),
    purposes=("dpv:CustomerRelationshipManagement",),
    legal_basis="legitimate_interest",
    retention=Retention("relationship"),
    # Deleted on erasure: DVV's and Posti's own update ids would lead back to the person. An
    # update sent again for an erased person finds no one and is not stored.
    erasure=Erasure.DELETE,
    order_by="applied_at, update_id",
)

TABLES = (REGISTER_UPDATES,)
