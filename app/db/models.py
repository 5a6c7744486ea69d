"""Every domain's models, imported so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.auth import models as auth_models
from app.db.base import Base
from app.users import models as users_models

__all__ = ["Base", "auth_models", "users_models"]
