"""least privilege: the service logs in as registry_app; client correlation ids; monitoring

Revision ID: 0006_least_privilege
Revises: 0005_requests
Create Date: 2026-11-25 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_least_privilege"
down_revision: str | None = "0005_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = "('frontend', 'partner', 'staff', 'dpo', 'integration')"
ROLES_AFTER = "('frontend', 'partner', 'staff', 'dpo', 'integration', 'monitoring')"


def upgrade() -> None:
    # The service logs in as registry_app itself (not as the owner with SET ROLE, which it could
    # RESET): it owns nothing, so it can neither change the append-only tables nor disable their
    # triggers. With password authentication, give it a password out of band.
    # Only when it cannot yet: roles belong to the whole server, and databases on one server
    # migrated at the same moment would otherwise update the same catalog row at once.
    op.execute(
        "DO $$ BEGIN IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'registry_app') "
        "THEN ALTER ROLE registry_app LOGIN; END IF; END $$"
    )
    # Monthly event partitions are DDL, which only the owner may run: the service asks for one
    # through this function, which runs with its owner's rights and can do nothing else.
    op.execute(
        """
        CREATE FUNCTION registry_ensure_event_partition(month date) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE
            first_day date := date_trunc('month', month)::date;
            name text := 'events_p' || to_char(first_day, 'YYYYMM');
        BEGIN
            IF to_regclass(name) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE IF NOT EXISTS %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                    name, first_day, (first_day + interval '1 month')::date
                );
            END IF;
        END $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION registry_ensure_event_partition(date) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION registry_ensure_event_partition(date) TO registry_app")

    op.add_column("access_log", sa.Column("correlation_id", sa.String(length=128), nullable=True))

    op.drop_constraint(op.f("ck_clients_role"), "clients", type_="check")
    op.create_check_constraint(op.f("ck_clients_role"), "clients", f"role IN {ROLES_AFTER}")


def downgrade() -> None:
    op.execute("DELETE FROM clients WHERE role = 'monitoring'")
    op.drop_constraint(op.f("ck_clients_role"), "clients", type_="check")
    op.create_check_constraint(op.f("ck_clients_role"), "clients", f"role IN {ROLES_BEFORE}")
    op.drop_column("access_log", "correlation_id")
    op.execute("DROP FUNCTION registry_ensure_event_partition(date)")
    op.execute("ALTER ROLE registry_app NOLOGIN")
