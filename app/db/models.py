"""Every domain's models, imported so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from app.db.base import Base

__all__ = ["Base"]
