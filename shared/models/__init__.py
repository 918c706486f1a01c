"""SQLAlchemy models: one module per owning service (DESIGN.md section 2), plus infrastructure.

Importing this package registers every table on `Base.metadata` (Alembic autogenerate and
`alembic check` read it from here).
"""

from shared.models import competitions, infra, judging, registry, statistics, webhooks
from shared.models.base import Base

__all__ = ["Base", "competitions", "infra", "judging", "registry", "statistics", "webhooks"]
