"""standard webhooks: a previous secret while one is rotated, endpoints disabled by a 410

Revision ID: 0008_standard_webhooks
Revises: 0007_law_in_rules
Create Date: 2026-11-25 16:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_standard_webhooks"
down_revision: str | None = "0007_law_in_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "recipients", sa.Column("previous_webhook_secret", sa.LargeBinary(), nullable=True)
    )
    op.add_column(
        "recipients",
        sa.Column("previous_webhook_secret_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "recipients", sa.Column("webhook_disabled_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("recipients", "webhook_disabled_at")
    op.drop_column("recipients", "previous_webhook_secret_until")
    op.drop_column("recipients", "previous_webhook_secret")
