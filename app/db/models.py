"""Every domain's models, imported so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.audit import models as audit_models
from app.auth import models as auth_models
from app.consents import models as consents_models
from app.db.base import Base
from app.disclosures import models as disclosures_models
from app.events import models as events_models
from app.idempotency import models as idempotency_models
from app.imports import models as imports_models
from app.records import models as records_models
from app.register_updates import models as register_updates_models
from app.requests import models as requests_models
from app.subject_notices import models as subject_notices_models
from app.users import models as users_models

__all__ = [
    "Base",
    "audit_models",
    "auth_models",
    "consents_models",
    "disclosures_models",
    "events_models",
    "idempotency_models",
    "imports_models",
    "records_models",
    "register_updates_models",
    "requests_models",
    "subject_notices_models",
    "users_models",
]
