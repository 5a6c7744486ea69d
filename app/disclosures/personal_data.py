"""The personal data of Art. 19 notifications to recipients."""

from __future__ import annotations

from app.core.personal_data import Column, Erasure, Retention, Source, Table, technical, user_key

NOTIFICATIONS = Table(
    name="notifications",
    category="accountability",
    description="A notification to a recipient that the person's data was rectified, erased or "
    "restricted (GDPR Art. 19). The user id the recipient knows is in it only until it is "
    "delivered, when the person is erased.",
    columns=(
        *technical("id", "recipient_id"),
        user_key(),
        *technical("event"),
        # Holds the user id the recipient knows: kept until delivered (the recipient must learn
        # of the erasure), then cleared by the delivery loop for an erased person.
        Column(
            "payload",
            "user.unique_id",
            Source.DERIVED,
            cleared="'{}'",
            clear_when="sent_at IS NOT NULL OR failed_at IS NOT NULL",
        ),
        *technical("created_at", "attempts", "next_attempt_at", "sent_at", "failed_at"),
        *technical("last_error"),
    ),
    purposes=("dpv:LegalCompliance",),
    legal_basis="legal_obligation",
    retention=Retention("proof"),
    erasure=Erasure.PSEUDONYMISE,
    order_by="id",
)

TABLES = (NOTIFICATIONS,)

# What a release discloses (``ReleaseCategory``) is part of the person's basic data; a disclosure
# logged by staff names the register's categories themselves.
RELEASED_FROM = {
    "name": "basic_data",
    "language": "basic_data",
    "email": "basic_data",
    "sms_number": "basic_data",
    "phone_number": "basic_data",
    "postal_address": "basic_data",
}
