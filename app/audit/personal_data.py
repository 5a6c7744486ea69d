"""The personal data of the logs: reads of the person's data and disclosures of it. Both are
append-only and keyed by the pseudonymous reference, which an erasure replaces."""

from __future__ import annotations

from app.core.personal_data import Column, Erasure, Retention, Source, Table, technical


def internal(*names: str) -> tuple[Column, ...]:
    """Ids that mean something only inside the registry (a recipient's, a request's): kept with
    the entry, not shown in an export (the recipient is shown by name)."""
    return tuple(Column(n, "system.operations", Source.DERIVED, shown=False) for n in names)


def _log(name: str, description: str, *columns: Column) -> Table:
    """A log: append-only, keyed by the person's pseudonymous reference, kept as proof of
    accountability; an erasure only cuts its link to the person."""
    return Table(
        name=name,
        category="accountability",
        description=description,
        link="subject_ref",
        columns=(
            *technical("id"),
            Column("subject_ref", "user.unique_id.pseudonymous", Source.DERIVED),
            *columns,
        ),
        purposes=("dpv:LegalCompliance",),
        legal_basis="legal_obligation",
        retention=Retention("log"),
        erasure=Erasure.UNLINK,
        order_by="id",
        bulk=True,
        append_only=True,
    )


ACCESS_LOG = _log(
    "access_log",
    "A read of the person's data by staff, the DPO, a partner or the person.",
    Column("accessed_at", "user.access", Source.DERIVED),
    Column("actor", "user.access", Source.DERIVED),
    Column("client_id", "user.access", Source.DERIVED, shown=False),
    Column("role", "user.access", Source.DERIVED),
    Column("categories", "user.access", Source.DERIVED),
    Column("operation", "user.access", Source.DERIVED),
    *internal("request_id", "correlation_id"),
)

DISCLOSURE_LOG = _log(
    "disclosure_log",
    "A disclosure of the person's data to a recipient (GDPR Art. 15(1)(c), 19, 30).",
    Column("disclosed_at", "user.disclosure", Source.DERIVED),
    *internal("recipient_id"),
    Column("recipient_name", "user.disclosure", Source.DERIVED),
    Column("purpose", "user.disclosure", Source.DERIVED),
    Column("categories", "user.disclosure", Source.DERIVED),
    Column("legal_basis", "user.disclosure", Source.DERIVED),
    Column("channel", "user.disclosure", Source.DERIVED),
    Column("client_id", "user.disclosure", Source.DERIVED, shown=False),
    *internal("request_id"),
    Column("kind", "user.disclosure", Source.DERIVED),
    Column("note", "user.disclosure", Source.STAFF),
    Column("transfer_basis", "user.disclosure", Source.DERIVED),
)

TABLES = (ACCESS_LOG, DISCLOSURE_LOG)
